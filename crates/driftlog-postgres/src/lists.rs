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
use postgres::types::{ToSql, Type};
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

/// The fewest bytes an entry takes in a list (a tag byte and two varints): a list's bytes
/// bound how many entries it holds.
const MIN_ENTRY_BYTES: usize = 3;

/// What a lookup's lists hold between two times, from the index alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Their bytes: what reading them costs.
    pub bytes: i64,
    /// The earliest first and latest last time of their rows (0 when there are none).
    pub first_us: i64,
    pub last_us: i64,
}

impl Stats {
    /// The most entries the lists can hold.
    pub fn most_entries(&self) -> i64 {
        self.bytes / MIN_ENTRY_BYTES as i64
    }
}

/// What each of `lookups`' lists hold between `since` and `until`, in the order given: one
/// statement for all of them (a query naming a principal and an action, or three facets,
/// costs them in one round trip).
pub(crate) fn stats(
    c: &mut impl GenericClient,
    lookups: &[Lookup],
    since: i64,
    until: i64,
) -> Result<Vec<Stats>, postgres::Error> {
    let mut stats = vec![Stats::default(); lookups.len()];
    if lookups.is_empty() {
        return Ok(stats);
    }
    let statement = union_of(lookups.len(), 2, |i, kind, keys| {
        format!(
            "SELECT {i}, coalesce(sum(bytes), 0)::int8, coalesce(min(first_us), 0), \
             coalesce(max(last_us), 0) FROM audit_lists \
             WHERE kind = {kind} AND key = ANY({keys}) AND last_us >= $1 AND first_us <= $2"
        )
    });
    for row in c.query_typed(&statement, &lookup_params(&[&since, &until], lookups))? {
        stats[row.get::<_, i32>(0) as usize] = Stats {
            bytes: row.get(1),
            first_us: row.get(2),
            last_us: row.get(3),
        };
    }
    Ok(stats)
}

/// One statement of `n` parts joined by `UNION ALL`, each `part(i, kind, keys)` given the
/// placeholders of the `i`th lookup's kind and keys, which follow `shared` placeholders
/// that every part may use: see [`lookup_params`].
fn union_of(n: usize, shared: usize, part: impl Fn(usize, String, String) -> String) -> String {
    (0..n)
        .map(|i| {
            let at = shared + 1 + 2 * i;
            part(i, format!("${at}"), format!("${}", at + 1))
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The parameters of a statement on lookups' lists: the `shared` times, then each lookup's
/// kind and keys, typed (so the statement takes one round trip: `query_typed`, where
/// preparing it first took another).
fn lookup_params<'a>(
    shared: &[&'a i64],
    lookups: &'a [Lookup],
) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    let mut params: Vec<(&(dyn ToSql + Sync), Type)> = shared
        .iter()
        .map(|&t| (t as &(dyn ToSql + Sync), Type::INT8))
        .collect();
    for l in lookups {
        params.push((&l.kind, Type::INT2));
        params.push((&l.keys, Type::INT4_ARRAY));
    }
    params
}

/// Several lookups' entries read a stretch of time at a time, oldest first, each stretch
/// with every lookup's entries in it complete: what a `--limit` on a busy name needs when
/// the name's list is long. A busy principal of the 10M-event corpus has 870k entries in
/// 400 rows of about four hours each; the first twenty events of a principal and an action
/// lie in the first hour, and reading both lists whole took 80 ms.
///
/// A stretch reads the rows that start in it (and, the first, those that started before
/// `since` and reach it): every row holding an entry at or before the stretch's end starts
/// by then, so those entries are all read, and later ones wait for their stretch. Each row
/// is read once. The stretches grow fourfold, from one expected to hold `first_entries`.
#[derive(Debug)]
pub(crate) struct Stretches {
    lookups: Vec<Lookup>,
    since: i64,
    until: i64,
    /// Entries at or before this time have been handed out; before the first stretch, the
    /// first lookup's first entry is not earlier than this.
    through: i64,
    started: bool,
    /// The next stretch's length.
    span: i64,
    /// The last time the first lookup's lists reach: no stretch goes past it.
    end: i64,
    /// Each lookup's entries read and not yet handed out (later than `through`).
    waiting: Vec<Vec<Entry>>,
}

impl Stretches {
    /// `lookups` (the first one's entries are the candidates; `first` its [`Stats`]) between
    /// `since` and `until`, the first stretch expected to hold about `first_entries` of them.
    pub(crate) fn new(
        lookups: Vec<Lookup>,
        first: Stats,
        since: i64,
        until: i64,
        first_entries: usize,
    ) -> Self {
        let from = since.max(first.first_us);
        let end = until.min(first.last_us);
        // Entries spread evenly, as far as anyone knows.
        let entries = first.most_entries().max(1) as i128;
        let length = (i128::from(end) - i128::from(from)).max(0);
        let span = (length * first_entries as i128 / entries).clamp(1, i128::from(i64::MAX));
        Self {
            waiting: vec![Vec::new(); lookups.len()],
            lookups,
            since,
            until,
            through: from,
            started: false,
            span: span as i64,
            end,
        }
    }

    /// The end of the last stretch read: every entry at or before it has been handed out.
    pub(crate) fn through(&self) -> i64 {
        self.through
    }

    /// Whether every stretch has been read.
    pub(crate) fn done(&self) -> bool {
        self.started && self.through >= self.end
    }

    /// The next stretch: each lookup's entries in it (in no particular order), all of them;
    /// a reason when a list is damaged.
    pub(crate) fn next(
        &mut self,
        c: &mut impl GenericClient,
    ) -> Result<Result<Vec<Vec<Entry>>, String>, postgres::Error> {
        // Rows starting after the last stretch; the first stretch also reads those that
        // started before it (before `since`, even) and reach into it.
        let after = if self.started {
            self.through.saturating_add(1)
        } else {
            i64::MIN
        };
        let to = self.through.saturating_add(self.span).min(self.end);
        self.span = self.span.saturating_mul(4);
        let statement = union_of(self.lookups.len(), 3, |i, kind, keys| {
            format!(
                "SELECT {i}, first_us, list FROM audit_lists WHERE kind = {kind} \
                 AND key = ANY({keys}) AND last_us >= $1 AND first_us >= $2 AND first_us <= $3"
            )
        });
        let params = lookup_params(&[&self.since, &after, &to], &self.lookups);
        for r in c.query_typed(&statement, &params)? {
            let waiting = &mut self.waiting[r.get::<_, i32>(0) as usize];
            if let Err(reason) = decode_tagged(r.get(1), r.get(2), waiting) {
                return Ok(Err(format!("a posting list ({reason})")));
            }
        }
        let (since, until) = (self.since, self.until);
        let stretch = self
            .waiting
            .iter_mut()
            .map(|waiting| {
                waiting.retain(|e| e.0 >= since && e.0 <= until);
                let (now, later) = waiting.drain(..).partition(|e| e.0 <= to);
                *waiting = later;
                now
            })
            .collect();
        self.through = to;
        self.started = true;
        Ok(Ok(stretch))
    }
}

/// The rows of `l`'s lists that overlap `since..=until`: `(first_us, list)` each.
fn list_rows(
    c: &mut impl GenericClient,
    l: &Lookup,
    since: i64,
    until: i64,
) -> Result<Vec<postgres::Row>, postgres::Error> {
    c.query_typed(
        "SELECT first_us, list FROM audit_lists \
         WHERE kind = $3 AND key = ANY($4) AND last_us >= $1 AND first_us <= $2",
        &lookup_params(&[&since, &until], std::slice::from_ref(l)),
    )
}

/// A lookup's entries between `since` and `until`, in no particular order (each row's in
/// order, the rows not); a reason when a list is damaged.
pub(crate) fn entries(
    c: &mut impl GenericClient,
    l: &Lookup,
    since: i64,
    until: i64,
) -> Result<Result<Vec<Entry>, String>, postgres::Error> {
    let rows = list_rows(c, l, since, until)?;
    // Room for all at once, not a vector grown (and copied) a dozen times over a busy name's
    // 87k.
    let bytes: usize = rows.iter().map(|r| r.get::<_, &[u8]>(1).len()).sum();
    let mut entries = Vec::with_capacity(bytes / MIN_ENTRY_BYTES + 1);
    for r in &rows {
        if let Err(reason) = decode_tagged(r.get(0), r.get(1), &mut entries) {
            return Ok(Err(format!("a posting list ({reason})")));
        }
    }
    entries.retain(|e| e.0 >= since && e.0 <= until);
    Ok(Ok(entries))
}

/// Entries handed out in time order, sorted only as far as they are taken.
///
/// A busy name's list gathers 87,000 entries from 40 rows whose times overlap; sorting them
/// all was a quarter of a `--limit 20` query that then read a few dozen. The first windows
/// are selected (linear) and only they sorted; a window of [`SORT_ALL_FROM`] entries or more
/// sorts the rest at once, as a long listing will take it all.
#[derive(Debug)]
pub(crate) struct InTimeOrder {
    entries: Vec<Entry>,
    /// `entries[..taken]` were handed out; `entries[taken..sorted]` are in order, and none
    /// is later than any of `entries[sorted..]`.
    taken: usize,
    sorted: usize,
    /// The last handed out: an event listed twice (an upgraded copy's batch lists it again)
    /// is handed out once.
    last: Option<(i64, i64)>,
}

/// From a window this long, the rest is sorted at once rather than selected from.
const SORT_ALL_FROM: usize = 1024;

impl InTimeOrder {
    pub(crate) fn new(entries: Vec<Entry>) -> Self {
        Self {
            entries,
            taken: 0,
            sorted: 0,
            last: None,
        }
    }

    /// The next `n` entries, oldest first (fewer when the rest is shorter), each event once.
    pub(crate) fn take(&mut self, n: usize) -> Vec<Entry> {
        let mut out = Vec::with_capacity(n.min(self.entries.len() - self.taken));
        while out.len() < n && self.taken < self.entries.len() {
            if self.taken == self.sorted {
                self.sort_more(n - out.len());
            }
            let e = self.entries[self.taken];
            self.taken += 1;
            if self.last != Some((e.0, e.1)) {
                self.last = Some((e.0, e.1));
                out.push(e);
            }
        }
        out
    }

    /// Add `entries`, every one later than any added before (a stretch of time after the
    /// last). Those already handed out are dropped first.
    pub(crate) fn extend(&mut self, entries: Vec<Entry>) {
        self.entries.drain(..self.taken);
        self.sorted -= self.taken;
        self.taken = 0;
        self.entries.extend(entries);
    }

    /// Put at least the next `n` entries in order.
    fn sort_more(&mut self, n: usize) {
        let key = |e: &Entry| order_key(e.0, e.1);
        let rest = &mut self.entries[self.sorted..];
        if n < SORT_ALL_FROM && rest.len() > 16 * n {
            // The n earliest before the rest (and the next one in its place), then in order.
            rest.select_nth_unstable_by_key(n, key);
            rest[..n].sort_unstable_by_key(key);
            self.sorted += n;
        } else {
            rest.sort_unstable_by_key(key);
            self.sorted = self.entries.len();
        }
    }
}

/// `(time, id)` as one integer that sorts as the pair does.
fn order_key(time: i64, id: i64) -> u128 {
    let flip = |v: i64| (v as u64 ^ (1 << 63)) as u128;
    flip(time) << 64 | flip(id)
}

/// Keep those of `entries` whose events `other` lists too (both in any order).
pub(crate) fn intersect(entries: &mut Vec<Entry>, other: &[Entry]) {
    let Ok(()) = retain_marked::<std::convert::Infallible>(entries, |mark| {
        other.iter().for_each(|e| mark(e.1));
        Ok(())
    });
}

/// Keep those of `entries` that `l`'s list also holds. The list is read row by row into one
/// buffer, never gathered whole: a busy name's 87k entries were two megabytes of memory new to
/// a `--limit 20` command, every page of it faulted in by the kernel (`--principal
/// config.amazonaws.com --action AssumeRole`: 1,590 → 1,145 page faults, 18.5 → 13.5 ms).
pub(crate) fn retain_listed(
    c: &mut impl GenericClient,
    entries: &mut Vec<Entry>,
    l: &Lookup,
    since: i64,
    until: i64,
) -> Result<Result<(), String>, postgres::Error> {
    if entries.is_empty() {
        return Ok(Ok(()));
    }
    let rows = list_rows(c, l, since, until)?;
    let mut row_entries = Vec::new();
    Ok(retain_marked(entries, |mark| {
        for r in &rows {
            row_entries.clear();
            decode_tagged(r.get(0), r.get(1), &mut row_entries)
                .map_err(|reason| format!("a posting list ({reason})"))?;
            // An event both lists hold has the same time in each, so one of `l` outside
            // `since..=until` marks no candidate.
            row_entries.iter().for_each(|e| mark(e.1));
        }
        Ok(())
    }))
}

/// Keep those of `entries` whose ids `other` marks, given a marker. Event ids are given out
/// one after another, so when the entries' ids span not much more than they are many, each
/// id is a bit over that span; otherwise a place in the entries' ids, sorted: sorting a busy
/// action's 87k entries, gathered from 40 rows whose times overlap, cost more than the rest
/// of a two-list query.
fn retain_marked<E>(
    entries: &mut Vec<Entry>,
    other: impl FnOnce(&mut dyn FnMut(i64)) -> Result<(), E>,
) -> Result<(), E> {
    let ids = entries.iter().map(|e| e.1);
    let (Some(lo), Some(hi)) = (ids.clone().min(), ids.max()) else {
        return Ok(());
    };
    let span = hi.abs_diff(lo);
    let sorted = (span >= 64 * entries.len() as u64 + 4096).then(|| {
        let mut ids: Vec<i64> = entries.iter().map(|e| e.1).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    });
    let place = |id: i64| -> Option<usize> {
        match &sorted {
            Some(ids) => ids.binary_search(&id).ok(),
            None => (lo..=hi).contains(&id).then(|| id.abs_diff(lo) as usize),
        }
    };
    let places = sorted.as_ref().map_or(span as usize + 1, Vec::len);
    let mut marked = vec![0u64; places.div_ceil(64)];
    other(&mut |id| {
        if let Some(p) = place(id) {
            marked[p / 64] |= 1 << (p % 64);
        }
    })?;
    entries.retain(|e| place(e.1).is_some_and(|p| marked[p / 64] >> (p % 64) & 1 == 1));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersections_keep_what_both_hold() {
        let mut a = vec![(1, 1, 0), (1, 2, 0), (2, 3, 0), (5, 9, 0)];
        intersect(&mut a, &[(5, 9, 7), (1, 2, 7), (4, 4, 7), (2, 3, 7)]);
        assert_eq!(a, vec![(1, 2, 0), (2, 3, 0), (5, 9, 0)]);
        intersect(&mut a, &[]);
        assert!(a.is_empty());
    }

    /// Ids far apart are searched for rather than marked: both ways agree.
    #[test]
    fn sparse_ids_are_intersected_as_dense_ones_are() {
        let far = 1i64 << 40;
        let entries: Vec<Entry> = (0..50).map(|i| (i, i * far, 0)).collect();
        let other: Vec<Entry> = (0..50).rev().step_by(3).map(|i| (i, i * far, 1)).collect();
        let mut sparse = entries.clone();
        intersect(&mut sparse, &other);
        let dense_entries: Vec<Entry> = entries.iter().map(|e| (e.0, e.0, 0)).collect();
        let mut dense = dense_entries.clone();
        let dense_other: Vec<Entry> = other.iter().map(|e| (e.0, e.0, 1)).collect();
        intersect(&mut dense, &dense_other);
        let times = |v: &[Entry]| v.iter().map(|e| e.0).collect::<Vec<_>>();
        assert_eq!(times(&sparse), times(&dense));
        let mut expected: Vec<i64> = (0..50).rev().step_by(3).collect();
        expected.reverse();
        assert_eq!(times(&sparse), expected);
        // Ids far apart: none of the other's is found among them unless it is one of them.
        let mut outside = vec![(0, -5, 0), (1, 1_000_000, 0)];
        intersect(&mut outside, &[(0, 3, 0)]);
        assert!(outside.is_empty());
        // Ids close together (a bitmap over their span): the other's ids outside that span
        // mark nothing, and those inside mark only themselves.
        let mut close = vec![(0, 10, 0), (1, 11, 0), (2, 12, 0)];
        intersect(
            &mut close,
            &[(0, 3, 1), (1, 11, 1), (9, 5000, 1), (0, -1, 1)],
        );
        assert_eq!(close, vec![(1, 11, 0)]);
    }

    /// Two lookups' lists read a stretch at a time (rows of six batches, cut at
    /// [`MAX_ENTRIES`] and by month, overlapping in time; some start before `since`) hand
    /// out every entry between `since` and `until` once, each stretch later than the last,
    /// an event both list in the same stretch, whatever the first stretch's size.
    #[test]
    fn stretches_hand_out_every_entry_once_in_time_order() {
        use rand::{Rng, SeedableRng};
        let Some((_db, mut c)) = crate::testing::migrated() else {
            return;
        };
        const DAY: i64 = 86_400_000_000;
        let t0 = 1_730_419_200_000_000; // 2024-11-01
        let mut random = rand::rngs::StdRng::seed_from_u64(7);
        let mut all: Vec<Row> = Vec::new();
        for _ in 0..6 {
            let first_id = all.len() as i64 + 1;
            let rows: Vec<Row> = (0..9000)
                .map(|i| Row {
                    id: first_id + i,
                    time_us: t0 + random.gen_range(0..60 * DAY),
                    action: 7,
                    principal: Some(if random.gen_ratio(1, 3) { 8 } else { 9 }),
                    resources: if random.gen() { vec![10] } else { vec![] },
                    ..Row::default()
                })
                .collect();
            all.extend(rows.iter().cloned());
            let mut tx = c.transaction().unwrap();
            crate::partitions::ensure(&mut tx, rows.iter().map(|r| r.time_us)).unwrap();
            let mut lists = Lists::default();
            rows.iter().for_each(|r| lists.add(r));
            lists.write(&mut tx).unwrap();
            tx.commit().unwrap();
        }
        let (since, until) = (t0 + 3 * DAY + 17, t0 + 50 * DAY);
        let lookups = vec![
            Lookup {
                kind: NAME,
                keys: vec![8],
            },
            Lookup {
                kind: RESOURCE,
                keys: vec![10],
            },
        ];
        let within = |r: &&Row| r.time_us >= since && r.time_us <= until;
        let mut want: Vec<i64> = all
            .iter()
            .filter(within)
            .filter(|r| r.principal == Some(8))
            .map(|r| r.id)
            .collect();
        want.sort_unstable();
        let stats = super::stats(&mut c, &lookups, since, until).unwrap();
        assert!(stats[0].bytes > 0 && stats[1].bytes > 0, "{stats:?}");
        for first_entries in [1, 37, 1000, 1 << 20] {
            let mut stretches =
                Stretches::new(lookups.clone(), stats[0], since, until, first_entries);
            let (mut got, mut count, mut latest) = (Vec::new(), 0, i64::MIN);
            while !stretches.done() {
                let stretch = stretches.next(&mut c).unwrap().unwrap();
                count += 1;
                let (first, second) = (&stretch[0], &stretch[1]);
                assert!(
                    first.iter().chain(second).all(|e| e.0 > latest),
                    "a stretch is later than the last"
                );
                latest = first
                    .iter()
                    .chain(second)
                    .map(|e| e.0)
                    .max()
                    .unwrap_or(latest);
                for e in first {
                    let event = &all[e.1 as usize - 1];
                    assert_eq!(event.time_us, e.0);
                    if event.resources == [10] {
                        assert!(second.iter().any(|o| o.1 == e.1), "both in one stretch");
                    }
                }
                got.extend(first.iter().map(|e| e.1));
                assert!(stretches.through() >= latest, "handed out through its end");
            }
            got.sort_unstable();
            assert!(
                got == want,
                "first stretch of about {first_entries}: {} entries handed out, {} wanted",
                got.len(),
                want.len()
            );
            assert!(count > 1 || first_entries == 1 << 20, "{count} stretches");
        }
    }

    proptest::proptest! {
        /// Taken a window at a time, any entries come out as a whole sort would order them,
        /// each `(time, id)` once, whatever the windows' sizes.
        #[test]
        fn entries_come_out_in_time_order_each_once(
            entries in proptest::collection::vec((0..50i64, 0..40i64, 0..3u8), 0..3000),
            windows in proptest::collection::vec(1..1500usize, 1..12),
        ) {
            let mut want: Vec<(i64, i64)> = entries.iter().map(|e| (e.0, e.1)).collect();
            want.sort_unstable();
            want.dedup();
            let mut order = InTimeOrder::new(entries);
            let mut got = Vec::new();
            let mut sizes = windows.iter().cycle();
            loop {
                let n = *sizes.next().expect("cycled");
                let window = order.take(n);
                proptest::prop_assert!(window.len() <= n);
                got.extend(window.iter().map(|e| (e.0, e.1)));
                if window.len() < n {
                    // Short only at the end.
                    proptest::prop_assert!(order.take(n).is_empty());
                    break;
                }
            }
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn the_order_key_sorts_as_the_pair_does() {
        let mut pairs = vec![
            (-3i64, 5i64),
            (i64::MIN, i64::MAX),
            (0, -1),
            (0, 1),
            (i64::MAX, i64::MIN),
        ];
        let mut by_key = pairs.clone();
        pairs.sort();
        by_key.sort_by_key(|p| order_key(p.0, p.1));
        assert_eq!(pairs, by_key);
    }
}
