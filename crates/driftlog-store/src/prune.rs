//! Retention: removing old events from the store once they are archived (`driftlog prune`).
//!
//! A batch of events is removed in one transaction together with everything that leads to
//! them: their evidence blocks once no remaining event uses them, and their pairs in every
//! posting list (a list left empty goes too). So the store passes [`Store::check`] after
//! every commit, and a crash removes a whole batch or none of it. The files the events came
//! from stay recorded: a later ingest of the same files skips them instead of bringing the
//! pruned events back. Pages freed go to SQLite's free list and are reused by later ingests.

use crate::{postings, Store, StoreError};
use rusqlite::types::Value;
use std::rc::Rc;

impl Store {
    /// Up to `limit` ids, ascending, of events older than `before_us` with ids up to `through`.
    pub fn prunable(
        &self,
        before_us: i64,
        through: i64,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let err = |e| StoreError::sql(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id FROM events WHERE id <= ?1 AND time_us < ?2 ORDER BY id LIMIT ?3",
            )
            .map_err(err)?;
        let ids = stmt
            .query_map(
                rusqlite::params![through, before_us, limit.min(i64::MAX as usize) as i64],
                |r| r.get(0),
            )
            .map_err(err)?
            .collect::<Result<Vec<i64>, _>>()
            .map_err(err)?;
        Ok(ids)
    }

    /// Remove the events `ids`, the evidence blocks only they used, and their posting-list
    /// pairs, in one transaction. Returns how many events were removed.
    pub fn delete_events(&mut self, ids: &[i64]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let path = self.path.clone();
        let err = |e| StoreError::sql(&path, e);
        let tx = self.conn.transaction().map_err(err)?;
        let list: Rc<Vec<Value>> = Rc::new(ids.iter().map(|&id| Value::Integer(id)).collect());
        // The blocks and the time span of what goes.
        let (blocks, span) = {
            let mut stmt = tx
                .prepare("SELECT raw_block, time_us FROM events WHERE id IN rarray(?1)")
                .map_err(err)?;
            let mut rows = stmt.query([list.clone()]).map_err(err)?;
            let mut blocks = Vec::new();
            let (mut lo, mut hi) = (i64::MAX, i64::MIN);
            while let Some(r) = rows.next().map_err(err)? {
                blocks.push(r.get::<_, i64>(0).map_err(err)?);
                let t: i64 = r.get(1).map_err(err)?;
                (lo, hi) = (lo.min(t), hi.max(t));
            }
            blocks.sort_unstable();
            blocks.dedup();
            (blocks, (lo, hi))
        };
        let removed = tx
            .execute("DELETE FROM events WHERE id IN rarray(?1)", [list.clone()])
            .map_err(err)? as u64;
        // Blocks no remaining event uses (one pass over the events: there is no index on
        // `raw_block`, and a prune batch is large).
        let blocks: Rc<Vec<Value>> = Rc::new(blocks.into_iter().map(Value::Integer).collect());
        let unused: Vec<i64> = tx
            .prepare(
                "SELECT value FROM rarray(?1) \
                 WHERE value NOT IN (SELECT raw_block FROM events WHERE raw_block IN rarray(?1))",
            )
            .and_then(|mut s| {
                s.query_map([blocks], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(err)?;
        for block in unused {
            crate::pieces::delete(&tx, block).map_err(err)?;
        }
        if removed > 0 {
            let gone: rustc_hash::FxHashSet<i64> = ids.iter().copied().collect();
            for table in ["ref_postings", "string_postings", "facet_postings"] {
                drop_pairs(&tx, &path, table, span, &gone)?;
            }
        }
        tx.commit().map_err(err)?;
        self.blocks.borrow_mut().clear();
        Ok(removed)
    }
}

/// Rewrite the lists of `table` that may hold pairs in `span` without the events `gone`.
fn drop_pairs(
    tx: &rusqlite::Transaction,
    path: &std::path::Path,
    table: &str,
    (lo, hi): (i64, i64),
    gone: &rustc_hash::FxHashSet<i64>,
) -> Result<(), StoreError> {
    let err = |e| StoreError::sql(path, e);
    let mut changed: Vec<(i64, Vec<(i64, i64)>)> = Vec::new();
    {
        let mut stmt = tx
            .prepare(&format!(
                "SELECT id, first_us, events FROM {table} WHERE first_us <= ?2 AND last_us >= ?1"
            ))
            .map_err(err)?;
        let mut rows = stmt.query([lo, hi]).map_err(err)?;
        let mut pairs = Vec::new();
        while let Some(r) = rows.next().map_err(err)? {
            let id: i64 = r.get(0).map_err(err)?;
            let first_us: i64 = r.get(1).map_err(err)?;
            let list = r
                .get_ref(2)
                .map_err(err)?
                .as_blob()
                .map_err(|e| err(e.into()))?;
            pairs.clear();
            postings::decode(first_us, list, &mut pairs).map_err(|reason| StoreError::Damaged {
                path: path.into(),
                what: format!("posting list {id} of {table}"),
                reason,
            })?;
            let before = pairs.len();
            pairs.retain(|(_, event)| !gone.contains(event));
            if pairs.len() != before {
                changed.push((id, pairs.clone()));
            }
        }
    }
    let mut update = tx
        .prepare(&format!(
            "UPDATE {table} SET first_us = ?2, last_us = ?3, events = ?4 WHERE id = ?1"
        ))
        .map_err(err)?;
    let mut delete = tx
        .prepare(&format!("DELETE FROM {table} WHERE id = ?1"))
        .map_err(err)?;
    for (id, pairs) in changed {
        if pairs.is_empty() {
            delete.execute([id]).map_err(err)?;
        } else {
            let (first, last, list) = postings::encode(&pairs);
            update
                .execute(rusqlite::params![id, first, last, list])
                .map_err(err)?;
        }
    }
    Ok(())
}
