//! The identities of the events one writer stored, so that it asks the store for a stored
//! copy of a new event only when there may be one.
//!
//! Before it inserts an event, the writer looks for a stored copy (a probe of the identity
//! index, about a tenth of the writer's time on the 1M corpus: docs/BENCHMARKS.md, issue #15
//! fourteenth part). When the store was empty as the writer began, and nothing else has
//! written since (its highest id is still the last one this writer gave), every stored event
//! went through this writer: an identity its filter has never seen is not in the store, and
//! only the others — the filter's false positives, and events logged twice — are probed.
//! Otherwise, or once the filter holds as many identities as it was sized for, every event is
//! probed, as before.
//!
//! The filters grow with what was stored (a filter for the first million identities, one for
//! the next two, then four...), so a small store costs a small filter. A new identity is
//! checked against every filter; one logged twice is usually found in the newest first.

use fastbloom::BloomFilter;

/// Identities the first filter is sized for; each next one holds twice as many.
const FIRST: usize = 1 << 20;
/// Identities all filters together are sized for (about 40 MB): past them, probing resumes.
const CAPACITY: usize = (1 << 25) - FIRST;
/// Each filter's share of false positives.
const FALSE_POSITIVES: f64 = 0.02;

/// What the writer knows of the identities in its store.
#[derive(Debug, Default)]
pub(crate) enum Written {
    /// No batch written yet.
    #[default]
    Undecided,
    /// The store held nothing but what this writer stored.
    Tracking {
        /// Full ones first, the one filling last.
        filters: Vec<BloomFilter>,
        /// The id of the last event this writer stored (0: none).
        last_id: i64,
        /// Identities stored.
        count: usize,
    },
    /// Every identity is looked up in the store.
    Off,
}

impl Written {
    /// At the start of a batch whose first new event gets `next_id`: tracking starts on an
    /// empty store and stops if anything else wrote (or pruned the newest events) since.
    pub(crate) fn begin(&mut self, next_id: i64) {
        *self = match std::mem::take(self) {
            Written::Undecided if next_id == 1 => Written::Tracking {
                filters: Vec::new(),
                last_id: 0,
                count: 0,
            },
            tracking @ Written::Tracking { last_id, .. } if last_id + 1 == next_id => tracking,
            _ => Written::Off,
        }
    }

    /// Whether the store may hold an event of this identity (see [`Written::identity`]).
    pub(crate) fn may_hold(&self, identity: u64) -> bool {
        match self {
            Written::Tracking { filters, .. } => {
                filters.iter().rev().any(|f| f.contains_hash(identity))
            }
            _ => true,
        }
    }

    /// An event of this identity was stored.
    pub(crate) fn stored(&mut self, identity: u64) {
        let Written::Tracking { filters, count, .. } = self else {
            return;
        };
        // The filters so far are full: FIRST, then twice as many, and so on.
        let sized = FIRST * ((1 << filters.len()) - 1);
        if *count == sized {
            let next = FIRST << filters.len();
            if sized + next > CAPACITY {
                *self = Written::Off;
                return;
            }
            filters.push(BloomFilter::with_false_pos(FALSE_POSITIVES).expected_items(next));
        }
        *count += 1;
        if let Some(filter) = filters.last_mut() {
            filter.insert_hash(identity);
        }
    }

    /// What the filters keep of an event's identity: a hash of its time, source and id, taken
    /// once for both the check and the insert.
    pub(crate) fn identity(time_us: i64, source: &str, event_id: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        (time_us, source, event_id).hash(&mut h);
        h.finish()
    }

    /// The batch committed; `last_id` is the highest id it gave.
    pub(crate) fn committed(&mut self, last: i64) {
        if let Written::Tracking { last_id, .. } = self {
            *last_id = last;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_only_from_an_empty_store_written_by_no_one_else() {
        let mut w = Written::default();
        w.begin(5);
        assert!(matches!(w, Written::Off), "a store with events is probed");
        assert!(w.may_hold(Written::identity(1, "aws", "anything")));

        let mut w = Written::default();
        w.begin(1);
        let one = Written::identity(1, "aws", "id-1");
        assert!(!w.may_hold(one));
        w.stored(one);
        assert!(w.may_hold(one));
        w.committed(1);
        w.begin(2);
        assert!(matches!(w, Written::Tracking { .. }));
        assert!(w.may_hold(one));
        // Another writer added an event (or the newest were pruned): the filter is no
        // longer the whole store.
        w.committed(2);
        w.begin(9);
        assert!(matches!(w, Written::Off));
        assert!(w.may_hold(Written::identity(7, "aws", "id-7")));
    }

    #[test]
    fn filters_grow_with_what_was_stored_and_then_give_way_to_probing() {
        let mut w = Written::default();
        w.begin(1);
        let ids: Vec<u64> = (0..3 * FIRST as i64)
            .map(|i| Written::identity(i, "aws", "x"))
            .collect();
        for &id in &ids {
            w.stored(id);
        }
        let Written::Tracking { filters, count, .. } = &w else {
            panic!("still tracking")
        };
        assert_eq!((filters.len(), *count), (2, 3 * FIRST));
        assert!(ids.iter().all(|&id| w.may_hold(id)), "no false negatives");
        let unseen = (0..10_000)
            .filter(|i| w.may_hold(Written::identity(-1 - i, "aws", "x")))
            .count();
        assert!(unseen < 1_000, "{unseen} false positives in 10,000");
        // Past the capacity (five filters, 1M to 16M) every identity is probed.
        if let Written::Tracking { filters, count, .. } = &mut w {
            for n in 2..5 {
                filters
                    .push(BloomFilter::with_false_pos(FALSE_POSITIVES).expected_items(FIRST << n));
            }
            *count = CAPACITY;
        }
        w.stored(Written::identity(-1, "aws", "x"));
        assert!(matches!(w, Written::Off));
    }
}
