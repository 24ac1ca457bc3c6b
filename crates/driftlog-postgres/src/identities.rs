//! Finding the stored copy of an event: each block keeps a 4-byte hash of every event's
//! identity (time, source, id), in `audit_event_blocks.identities`, and a writer remembers the
//! hashes of the blocks it has read or written ([`Seen`]).
//!
//! An index with an entry per event cost PostgreSQL about 40 bytes an event (a GIN index over
//! 8-byte keys: a 24-byte tuple for each, pages two-thirds full) and 15 µs a probe: a fifth
//! of the whole store, and most of a batch's time. Instead a batch asks which blocks overlap
//! its events' times (blocks hold one day's events, read through the index on their first
//! time), reads the hashes of those its writer has not seen yet, and looks its own events'
//! hashes up in memory; only a block holding a matching hash is decoded, and there the whole
//! identity is compared. Over a whole ingest each block's hashes are read once, so the work
//! is linear in the events; a block rewritten by another process since it was seen keeps
//! its events' identities (an upgrade) or loses some (a prune), and a hash that no longer
//! stands for an event only costs a decode.

use std::collections::HashMap;

/// Most hashes a writer remembers (about 16 bytes each): past them it starts over, and reads
/// again the hashes of the blocks its next batches overlap.
const MAX_REMEMBERED: usize = 8 << 20;

/// The hash of an identity: FNV-1a over the time, the source's string id and the id as
/// stored, folded to 32 bits. Stored: never change.
pub(crate) fn hash(time_us: i64, source: i32, event_id: &[u8]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(&time_us.to_le_bytes());
    eat(&source.to_le_bytes());
    eat(event_id);
    (h ^ h >> 32) as u32
}

/// Hashes as a block's column keeps them: 4 bytes each, little-endian, in row order.
pub(crate) fn to_bytes(hashes: impl IntoIterator<Item = u32>) -> Vec<u8> {
    hashes.into_iter().flat_map(u32::to_le_bytes).collect()
}

/// The hashes of a block's column (a damaged column's trailing bytes are left out: a hash
/// missing there only means a duplicate is stored again, never an event lost).
pub(crate) fn from_bytes(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The identity hashes of the blocks a writer has read or written, by block (its first id).
#[derive(Debug, Default)]
pub(crate) struct Seen {
    blocks: HashMap<i64, Vec<u32>>,
    /// How many blocks seen hold each hash.
    counts: HashMap<u32, u32>,
    remembered: usize,
}

impl Seen {
    /// Whether block `first_id`'s hashes are remembered.
    pub fn has(&self, first_id: i64) -> bool {
        self.blocks.contains_key(&first_id)
    }

    /// Remember block `first_id`'s hashes (again: a block rewritten keeps its first id only
    /// while its first event stays, and then its hashes are a subset).
    pub fn add(&mut self, first_id: i64, mut hashes: Vec<u32>) {
        if self.remembered + hashes.len() > MAX_REMEMBERED {
            self.forget();
        }
        hashes.sort_unstable();
        hashes.dedup();
        self.forget_block(first_id);
        self.remembered += hashes.len();
        for &h in &hashes {
            *self.counts.entry(h).or_default() += 1;
        }
        self.blocks.insert(first_id, hashes);
    }

    /// Forget block `first_id` (rewritten or deleted by this writer).
    pub fn forget_block(&mut self, first_id: i64) {
        if let Some(old) = self.blocks.remove(&first_id) {
            self.remembered -= old.len();
            for h in old {
                if let Some(n) = self.counts.get_mut(&h) {
                    *n -= 1;
                    if *n == 0 {
                        self.counts.remove(&h);
                    }
                }
            }
        }
    }

    /// Forget everything (a failed write: blocks it wrote do not exist).
    pub fn forget(&mut self) {
        *self = Seen::default();
    }

    /// Whether any block seen holds `hash`.
    pub fn may_hold(&self, hash: u32) -> bool {
        self.counts.contains_key(&hash)
    }

    /// Which of `blocks` (first ids) hold `hash`.
    pub fn holding<'a>(&'a self, hash: u32, blocks: &'a [i64]) -> impl Iterator<Item = i64> + 'a {
        blocks.iter().copied().filter(move |b| {
            self.blocks
                .get(b)
                .is_some_and(|hashes| hashes.binary_search(&hash).is_ok())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_tell_apart_what_identities_do_and_never_change() {
        let h = hash(1, 1, b"a");
        assert_eq!(h, hash(1, 1, b"a"));
        assert_ne!(h, hash(2, 1, b"a"));
        assert_ne!(h, hash(1, 2, b"a"));
        assert_ne!(h, hash(1, 1, b"b"));
        // Stored in every block: the function never changes.
        assert_eq!(hash(0, 0, b""), 0x4977_d44f);
        assert_eq!(
            from_bytes(&to_bytes([1, u32::MAX, 7])),
            vec![1, u32::MAX, 7]
        );
        assert_eq!(from_bytes(&[1, 0, 0, 0, 9]), vec![1]);
    }

    #[test]
    fn blocks_seen_are_found_by_their_hashes_and_forgotten() {
        let mut seen = Seen::default();
        seen.add(10, vec![5, 3, 5]);
        seen.add(20, vec![3]);
        assert!(seen.has(10) && seen.may_hold(3) && seen.may_hold(5) && !seen.may_hold(4));
        assert_eq!(seen.holding(3, &[10, 20, 30]).collect::<Vec<_>>(), [10, 20]);
        seen.forget_block(10);
        assert!(!seen.may_hold(5) && seen.may_hold(3));
        seen.add(20, vec![8]);
        assert!(
            !seen.may_hold(3) && seen.may_hold(8),
            "a block seen again replaces"
        );
        seen.forget();
        assert!(!seen.has(20) && !seen.may_hold(8));
    }
}
