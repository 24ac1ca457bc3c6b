//! The identities of the events one writer stored, so that it asks the store for a stored
//! copy of a new event only when there may be one.
//!
//! Before it inserts an event, the writer looks for a stored copy (a probe of the identity
//! index, a ninth of the writer's time on the 1M corpus: docs/BENCHMARKS.md, issue #15
//! fourteenth part). When the store was empty as the writer began, and nothing else has
//! written since (its highest id is still the last one this writer gave), every stored event
//! went through this writer: an identity its filter has never seen is not in the store, and
//! only the others — the filter's false positives, and events logged twice — are probed.
//! Otherwise, or once the filter holds as many identities as it was sized for, every event is
//! probed, as before.

use fastbloom::BloomFilter;

/// Identities the filter is sized for (some 20 MB): past them, probing resumes.
const CAPACITY: usize = 1 << 24;

/// What the writer knows of the identities in its store.
#[derive(Debug, Default)]
pub(crate) enum Written {
    /// No batch written yet.
    #[default]
    Undecided,
    /// The store held nothing but what this writer stored.
    Tracking {
        filter: Box<BloomFilter>,
        /// The id of the last event this writer stored (0: none).
        last_id: i64,
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
                filter: Box::new(BloomFilter::with_false_pos(0.02).expected_items(CAPACITY)),
                last_id: 0,
                count: 0,
            },
            Written::Tracking {
                filter,
                last_id,
                count,
            } if last_id + 1 == next_id => Written::Tracking {
                filter,
                last_id,
                count,
            },
            _ => Written::Off,
        }
    }

    /// Whether the store may hold an event of this identity.
    pub(crate) fn may_hold(&self, identity: &impl std::hash::Hash) -> bool {
        match self {
            Written::Tracking { filter, .. } => filter.contains(identity),
            _ => true,
        }
    }

    /// An event of this identity was stored.
    pub(crate) fn stored(&mut self, identity: &impl std::hash::Hash) {
        if let Written::Tracking { filter, count, .. } = self {
            filter.insert(identity);
            *count += 1;
            if *count > CAPACITY {
                *self = Written::Off;
            }
        }
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
        assert!(w.may_hold(&"anything"));

        let mut w = Written::default();
        w.begin(1);
        assert!(!w.may_hold(&(1_i64, "aws", "id-1")));
        w.stored(&(1_i64, "aws", "id-1"));
        assert!(w.may_hold(&(1_i64, "aws", "id-1")));
        w.committed(1);
        w.begin(2);
        assert!(matches!(w, Written::Tracking { .. }));
        assert!(w.may_hold(&(1_i64, "aws", "id-1")));
        // Another writer added an event (or the newest were pruned): the filter is no
        // longer the whole store.
        w.committed(2);
        w.begin(9);
        assert!(matches!(w, Written::Off));
        assert!(w.may_hold(&(7_i64, "aws", "id-7")));
    }
}
