//! Terraform addresses and the identifiers their resources had. The store learns them from scans
//! (every finding's address and identifiers) and from `explain` with state files; afterwards an
//! address is as good as an id in `events --resource`. An address keeps every identifier it
//! ever had: a replaced instance's old id still leads to the events about the old instance.

use crate::{Store, StoreError};

impl Store {
    /// Remember the identifiers of each address; returns how many pairs were new.
    pub fn remember_addresses<'a>(
        &mut self,
        known: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::sql(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let mut added = 0;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO addresses (address, identifier) VALUES (?1, ?2)",
                )
                .map_err(sql)?;
            for (address, identifiers) in known {
                for id in identifiers {
                    added += insert.execute([address, id.as_str()]).map_err(sql)? as u64;
                }
            }
        }
        tx.commit().map_err(sql)?;
        Ok(added)
    }

    /// The identifiers remembered for `address`, sorted (empty when the address is unknown).
    pub fn address_identifiers(&self, address: &str) -> Result<Vec<String>, StoreError> {
        let err = |e| StoreError::sql(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT identifier FROM addresses WHERE address = ?1 ORDER BY 1")
            .map_err(err)?;
        let ids = stmt
            .query_map([address], |r| r.get(0))
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)?;
        Ok(ids)
    }
}
