//! The leaf hash kept with each stored event. The ledger commits to every event's full
//! 32-byte leaf (through the batch's Merkle root); the copy in the row only has to tell
//! `driftlog verify` which event of a batch whose root no longer matches was changed. Four
//! bytes of it do that (a changed event passes for unchanged one time in 2^32, and then the
//! batch is still named), and save 28 bytes an event; the root still catches any change,
//! whatever the row holds.
//!
//! An event that a later copy may replace (a Kubernetes request logged at an early stage)
//! keeps its whole leaf: the batch that replaces it records that leaf in its ledger entry, so
//! the earlier batch's root can still be rebuilt. Stores written before schema 11 hold whole
//! leaves everywhere, and rows written by schemas 11 to 14 eight bytes of them; both read as
//! they are.

use driftlog_core::AuditEvent;

/// The bytes of a leaf the row keeps when it need not keep them all.
pub const PREFIX: usize = 4;

/// What rows written by schemas 11 to 14 kept.
pub(crate) const EARLIER_PREFIX: usize = 8;

/// The leaf recorded with a stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedLeaf {
    Whole([u8; 32]),
    /// The leaf's first [`PREFIX`] bytes.
    Prefix([u8; PREFIX]),
    /// The leaf's first eight bytes, as rows written by schemas 11 to 14 keep them.
    EarlierPrefix([u8; EARLIER_PREFIX]),
}

impl RecordedLeaf {
    /// The leaf a row holds, or `None` for bytes of another length (a damaged row).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if let Ok(whole) = <[u8; 32]>::try_from(bytes) {
            return Some(Self::Whole(whole));
        }
        if let Ok(earlier) = <[u8; EARLIER_PREFIX]>::try_from(bytes) {
            return Some(Self::EarlierPrefix(earlier));
        }
        <[u8; PREFIX]>::try_from(bytes).ok().map(Self::Prefix)
    }

    /// Whether `leaf` (recomputed from the stored event) is the one recorded.
    pub fn matches(&self, leaf: &[u8; 32]) -> bool {
        match self {
            Self::Whole(whole) => whole == leaf,
            Self::Prefix(prefix) => prefix[..] == leaf[..PREFIX],
            Self::EarlierPrefix(prefix) => prefix[..] == leaf[..EARLIER_PREFIX],
        }
    }

    /// The whole leaf, when the row kept it.
    pub fn whole(&self) -> Option<[u8; 32]> {
        match self {
            Self::Whole(whole) => Some(*whole),
            Self::Prefix(_) | Self::EarlierPrefix(_) => None,
        }
    }
}

/// What the row of `event` keeps of its `leaf`.
pub fn kept<'a>(event: &AuditEvent, leaf: &'a [u8; 32]) -> &'a [u8] {
    if event.may_be_replaced() {
        leaf
    } else {
        &leaf[..PREFIX]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_matches_the_leaves_it_begins() {
        let leaf = [7u8; 32];
        let mut other = leaf;
        other[31] = 0;
        let prefix = RecordedLeaf::from_bytes(&leaf[..PREFIX]).unwrap();
        assert!(prefix.matches(&leaf));
        assert!(prefix.matches(&other), "only the prefix is kept");
        other[0] = 0;
        assert!(!prefix.matches(&other));
        let whole = RecordedLeaf::from_bytes(&leaf).unwrap();
        assert_eq!(whole.whole(), Some(leaf));
        assert!(!whole.matches(
            &[7u8; 31]
                .iter()
                .chain(&[0])
                .copied()
                .collect::<Vec<_>>()
                .try_into()
                .unwrap()
        ));
        assert_eq!(prefix.whole(), None);
        assert_eq!(RecordedLeaf::from_bytes(&leaf[..5]), None);
        // A row written before schema 15 kept eight bytes, and all eight count.
        let earlier = RecordedLeaf::from_bytes(&leaf[..8]).unwrap();
        assert!(earlier.matches(&leaf));
        let mut fifth = leaf;
        fifth[5] = 0;
        assert!(!earlier.matches(&fifth));
        assert!(prefix.matches(&fifth));
    }

    #[test]
    fn only_an_event_that_may_be_replaced_keeps_its_whole_leaf() {
        let leaf = [1u8; 32];
        let staged = crate::conformance::k8s("a", 0, &[]);
        let complete = crate::conformance::k8s("a", driftlog_core::event::LAST_STAGE, &[]);
        assert_eq!(kept(&staged, &leaf).len(), 32);
        assert_eq!(kept(&complete, &leaf).len(), PREFIX);
    }
}
