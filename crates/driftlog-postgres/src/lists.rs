//! Which events name a resource, a principal or an action, or have a facet (write or not, an
//! actor kind, a source): posting lists in `audit_lists` (migration 7), as the SQLite store
//! keeps them (`driftlog_store::postings`). A batch writes one row per key per month it
//! touches (cut at [`MAX_ENTRIES`]), holding `(time, event id, tag)` for each of its events
//! under that key; the tag is the event's facets in a byte (`driftlog_store::facets::tag`), so
//! a name's list also answers `--writes-only`, `--actor-kind` and `--source` without reading
//! events.
//!
//! Each row keeps the bytes of its list, so what a lookup would decode is summed from the
//! index alone (`(kind, key, last_us)` including `first_us` and `bytes`) before it is read:
//! the planner (`crate::read`) decodes the cheapest lists first. A list may name an event a
//! prune has since removed, or the copy an upgrade replaced: readers check every candidate
//! against the event itself, so a list only ever costs time, never a wrong answer.

use crate::blocks::Row;
use crate::partitions::Month;
use driftlog_store::facets;
use driftlog_store::postings::{decode_tagged, encode_tagged};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use postgres::{GenericClient, Transaction};
use std::collections::HashMap;

/// Lists of the events naming a resource (the key: its name's id in `audit_strings`).
pub(crate) const RESOURCE: i16 = 0;
/// Lists of the events whose principal, issuer or action is the key (a string's id).
pub(crate) const NAME: i16 = 1;
/// Lists of the events listed under a facet code (`driftlog_store::facets`).
pub(crate) const FACET: i16 = 2;

/// Most entries in one row: a lookup reads whole rows, so a busy key's entries of one batch
/// are cut into rows a lookup bounded in time can skip.
const MAX_ENTRIES: usize = 4096;

/// An entry: `(time, event id, tag)`.
pub(crate) type Entry = (i64, i64, u8);

/// The entries a batch adds, by kind, key and month (the month's start; `None` for times
/// outside the months, kept in the default partition).
#[derive(Default)]
pub(crate) struct Lists {
    entries: HashMap<(i16, i32, Option<i64>), Vec<Entry>>,
}

impl Lists {
    /// List `row` under its resources, principal, issuer, action and facet codes.
    pub fn add(&mut self, row: &Row) {
        let tag = facets::tag(i64::from(row.facets));
        let month = Month::of(row.time_us).map(|m| m.from_us);
        let entry = (row.time_us, row.id, tag);
        let mut add = |kind: i16, key: i32| {
            self.entries
                .entry((kind, key, month))
                .or_default()
                .push(entry)
        };
        for &r in &row.resources {
            add(RESOURCE, r);
        }
        for name in [Some(row.action), row.principal, row.issuer]
            .into_iter()
            .flatten()
        {
            add(NAME, name);
        }
        for family in 0..3 {
            add(FACET, (row.facets >> (8 * family)) & 0xff);
        }
    }

    /// Copy every list into `audit_lists` (its months' partitions exist).
    pub fn write(self, tx: &mut Transaction) -> Result<(), postgres::Error> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let sink = tx.copy_in(
            "COPY audit_lists (kind, key, first_us, last_us, bytes, list) FROM STDIN (FORMAT binary)",
        )?;
        let mut writer = BinaryCopyInWriter::new(
            sink,
            &[
                Type::INT2,
                Type::INT4,
                Type::INT8,
                Type::INT8,
                Type::INT4,
                Type::BYTEA,
            ],
        );
        for ((kind, key, _), mut entries) in self.entries {
            // Mostly in order already (events come in id order): the stable sort finds the runs.
            entries.sort();
            // A name that is both an event's principal and its issuer lists it once.
            entries.dedup_by_key(|e| (e.0, e.1));
            for chunk in entries.chunks(MAX_ENTRIES) {
                let (first, last, list) = encode_tagged(chunk);
                let bytes = i32::try_from(list.len()).unwrap_or(i32::MAX);
                writer.write(&[&kind, &key, &first, &last, &bytes, &list])?;
            }
        }
        writer.finish()?;
        Ok(())
    }
}

/// One filter's lists: a kind and the keys any of which matches.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    pub kind: i16,
    pub keys: Vec<i32>,
}

/// The bytes a lookup's lists take between `since` and `until`, summed from the index.
pub(crate) fn cost(
    c: &mut impl GenericClient,
    l: &Lookup,
    since: i64,
    until: i64,
) -> Result<i64, postgres::Error> {
    Ok(c.query_one(
        "SELECT coalesce(sum(bytes), 0)::int8 FROM audit_lists \
         WHERE kind = $1 AND key = ANY($2) AND last_us >= $3 AND first_us <= $4",
        &[&l.kind, &l.keys, &since, &until],
    )?
    .get(0))
}

/// A lookup's entries between `since` and `until`, sorted by time and id, each once; a
/// reason when a list is damaged.
pub(crate) fn read(
    c: &mut impl GenericClient,
    l: &Lookup,
    since: i64,
    until: i64,
) -> Result<Result<Vec<Entry>, String>, postgres::Error> {
    let rows = c.query(
        "SELECT first_us, list FROM audit_lists \
         WHERE kind = $1 AND key = ANY($2) AND last_us >= $3 AND first_us <= $4",
        &[&l.kind, &l.keys, &since, &until],
    )?;
    let mut entries = Vec::new();
    for r in &rows {
        if let Err(reason) = decode_tagged(r.get(0), r.get(1), &mut entries) {
            return Ok(Err(format!("a posting list ({reason})")));
        }
    }
    entries.retain(|e| e.0 >= since && e.0 <= until);
    // Each row's entries are in order: a merge of sorted runs, which the stable sort finds
    // (sorting them as if shuffled took a fifth of a two-list query).
    entries.sort();
    entries.dedup_by_key(|e| (e.0, e.1));
    Ok(Ok(entries))
}

/// Those of `entries` also in `other` (both sorted by time and id).
pub(crate) fn intersect(entries: &mut Vec<Entry>, other: &[Entry]) {
    let mut j = 0;
    entries.retain(|e| {
        while j < other.len() && (other[j].0, other[j].1) < (e.0, e.1) {
            j += 1;
        }
        j < other.len() && (other[j].0, other[j].1) == (e.0, e.1)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersections_keep_what_both_hold() {
        let mut a = vec![(1, 1, 0), (1, 2, 0), (2, 3, 0), (5, 9, 0)];
        intersect(&mut a, &[(1, 2, 7), (2, 3, 7), (4, 4, 7), (5, 9, 7)]);
        assert_eq!(a, vec![(1, 2, 0), (2, 3, 0), (5, 9, 0)]);
        intersect(&mut a, &[]);
        assert!(a.is_empty());
    }
}
