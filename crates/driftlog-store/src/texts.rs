//! Values with a long tail: many distinct ones, each repeated across many events. Resource
//! names (`ref_names`) and, since schema 11, an event's free-text fields (`texts`: its source
//! address, session name, source identity, on-behalf-of user and error message) are stored
//! once in a table of their own and referenced by id.
//!
//! Unlike `strings` (a few hundred principals, actions, agents…, which readers load whole),
//! these tables can hold millions of rows: the writer keeps a bounded cache of the ids it has
//! seen, and readers fetch the texts of the ids a page of events holds.
//!
//! In an event's row a free-text field is the id as a LEB128 varint in a BLOB (one to three
//! bytes where an IPv4 address took fifteen). The columns are declared TEXT, which would turn
//! an INTEGER into its decimal text; a BLOB is stored as it is. A row of a store being migrated
//! may still hold the text itself, which reads back as before.

use rusqlite::types::{FromSqlError, ValueRef};
use rusqlite::{OptionalExtension, Transaction};
use rustc_hash::FxHashMap;

/// A table of long-tail values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// The resources events name (the posting lists key on these ids).
    RefNames,
    /// Events' free-text fields.
    Texts,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::RefNames => "ref_names",
            Table::Texts => "texts",
        }
    }
}

/// Most ids a writer's cache holds before it starts again: a miss costs one index probe.
const WRITER_CACHE: usize = 1 << 20;

/// Most texts a reader's cache holds: a listing of every event names every value once.
pub(crate) const READER_CACHE: usize = 1 << 18;

/// The id of `text` in `table`, added if new; `known` caches ids already seen (the writer's
/// across batches, a migration's for its run), bounded whatever the corpus.
pub(crate) fn id_of(
    tx: &Transaction,
    table: Table,
    known: &mut FxHashMap<String, i64>,
    text: &str,
) -> rusqlite::Result<i64> {
    interned_id(tx, table.name(), "text", known, text)
}

/// The id of the row of `table` whose unique `column` holds `value`, added if new; `known`
/// caches ids already seen, bounded whatever the corpus. Texts and shapes (`crate::shapes`)
/// are interned alike.
pub(crate) fn interned_id<V>(
    tx: &Transaction,
    table: &str,
    column: &str,
    known: &mut FxHashMap<V::Owned, i64>,
    value: &V,
) -> rusqlite::Result<i64>
where
    V: ?Sized + ToOwned + rusqlite::ToSql + std::hash::Hash + Eq,
    V::Owned: std::hash::Hash + Eq + std::borrow::Borrow<V>,
{
    if let Some(&id) = known.get(value) {
        return Ok(id);
    }
    // Most values the cache lacks are new (an ingest meets each for the first time): one
    // statement adds them, and only a value already stored costs a second one.
    let added = tx
        .prepare_cached(&format!(
            "INSERT OR IGNORE INTO {table} ({column}) VALUES (?1) RETURNING id"
        ))?
        .query_row([value], |r| r.get(0))
        .optional()?;
    let id = match added {
        Some(id) => id,
        None => tx
            .prepare_cached(&format!("SELECT id FROM {table} WHERE {column} = ?1"))?
            .query_row([value], |r| r.get(0))?,
    };
    if known.len() >= WRITER_CACHE {
        known.clear();
    }
    known.insert(value.to_owned(), id);
    Ok(id)
}

/// Read the texts of `ids` that `cache` lacks from `table` into it, a few statements for all.
pub(crate) fn load(
    conn: &rusqlite::Connection,
    table: Table,
    cache: &mut FxHashMap<i64, std::sync::Arc<str>>,
    ids: Vec<i64>,
) -> rusqlite::Result<()> {
    let sql = format!(
        "SELECT id, text FROM {} WHERE id IN rarray(?1)",
        table.name()
    );
    load_by_id(conn, &sql, cache, ids, |r| {
        Ok(Some(r.get::<_, String>(1)?.into()))
    })
}

/// Read the values of `ids` that `cache` lacks into it, a statement per 8,192: `sql` selects
/// the id and what `value` reads (`None` leaves the id out) `WHERE id IN rarray(?1)`. The
/// cache starts again rather than grow past [`READER_CACHE`]. Texts and shapes
/// (`crate::shapes`) are read alike.
pub(crate) fn load_by_id<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    cache: &mut FxHashMap<i64, T>,
    mut ids: Vec<i64>,
    value: impl Fn(&rusqlite::Row) -> rusqlite::Result<Option<T>>,
) -> rusqlite::Result<()> {
    ids.retain(|id| !cache.contains_key(id));
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    if cache.len() + ids.len() > READER_CACHE {
        cache.clear();
    }
    let mut stmt = conn.prepare_cached(sql)?;
    for chunk in ids.chunks(8192) {
        let bound: rusqlite::vtab::array::Array = std::rc::Rc::new(
            chunk
                .iter()
                .map(|&id| rusqlite::types::Value::Integer(id))
                .collect(),
        );
        let mut rows = stmt.query([bound])?;
        while let Some(row) = rows.next()? {
            if let Some(v) = value(row)? {
                cache.insert(row.get(0)?, v);
            }
        }
    }
    Ok(())
}

/// A free-text field as read from a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoredText {
    /// An id into `texts`.
    Id(i64),
    /// The text itself (a row not migrated yet).
    Text(String),
}

impl StoredText {
    /// The text, from `cache` for an id (`None` for an id the store lost: the event's leaf
    /// then no longer matches and `driftlog verify` names it).
    pub(crate) fn resolve(self, cache: &FxHashMap<i64, std::sync::Arc<str>>) -> Option<String> {
        match self {
            StoredText::Id(id) => cache.get(&id).map(|t| t.to_string()),
            StoredText::Text(text) => Some(text),
        }
    }
}

/// The row's bytes for text id `id`.
pub(crate) fn encode(id: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(3);
    crate::postings::put(&mut out, id as u64);
    out
}

/// A free-text column's value as stored.
pub(crate) fn decode(value: ValueRef<'_>) -> Result<Option<StoredText>, FromSqlError> {
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(mut b) => {
            let id = crate::postings::take(&mut b)
                .filter(|_| b.is_empty())
                .and_then(|id| i64::try_from(id).ok())
                .ok_or_else(|| FromSqlError::Other("a text id is damaged".into()))?;
            Ok(Some(StoredText::Id(id)))
        }
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(|t| Some(StoredText::Text(t.to_owned())))
            .map_err(|e| FromSqlError::Other(e.into())),
        _ => Err(FromSqlError::InvalidType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn old_rows_hold_text_and_new_ones_an_id() {
        assert_eq!(
            decode(ValueRef::Text(b"192.0.2.1")).unwrap(),
            Some(StoredText::Text("192.0.2.1".into()))
        );
        assert_eq!(
            decode(ValueRef::Blob(&encode(300))).unwrap(),
            Some(StoredText::Id(300))
        );
        assert_eq!(decode(ValueRef::Null).unwrap(), None);
        assert_eq!(encode(5).len(), 1);
        assert_eq!(encode(20_000).len(), 3);
    }

    #[test]
    fn a_damaged_id_is_an_error() {
        assert!(decode(ValueRef::Blob(&[0x80])).is_err(), "cut short");
        assert!(decode(ValueRef::Blob(&[1, 2])).is_err(), "trailing bytes");
        assert!(decode(ValueRef::Blob(&[])).is_err(), "empty");
        assert!(decode(ValueRef::Integer(5)).is_err());
    }

    proptest! {
        #[test]
        fn any_id_round_trips(id in 0i64..i64::MAX) {
            prop_assert_eq!(decode(ValueRef::Blob(&encode(id))).unwrap(), Some(StoredText::Id(id)));
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = decode(ValueRef::Blob(&bytes));
        }
    }
}
