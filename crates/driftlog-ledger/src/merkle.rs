//! The Merkle tree hash (MTH), audit paths (PATH) and consistency proofs (PROOF) of RFC 9162
//! §2.1, and their verification algorithms (§2.1.3.2, §2.1.4.2).
//!
//! Leaves are hashed as `SHA-256(0x00 || entry)`, interior nodes as `SHA-256(0x01 || left ||
//! right)`; a tree of `n` leaves splits at the largest power of two smaller than `n`; the empty
//! tree's hash is `SHA-256("")`. [`Tree`] keeps every complete subtree's hash, level by level, so
//! any tree size's root and any proof cost O(log² n) hashes, not O(n).

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// Why a proof or a request was refused. Verification checks every link, so a proof for
/// another entry, another size, or with one byte changed fails here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {size} is larger than the log ({len} entries)")]
    SizeOutOfRange { size: u64, len: u64 },
    #[error("the first tree size {first} is larger than the second {second}")]
    SizesReversed { first: u64, second: u64 },
    #[error("the proof has {got} hashes; this index and size need {want}")]
    WrongLength { got: usize, want: usize },
    #[error("the proof does not lead to the given root")]
    RootMismatch,
}

pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Where the hashes of complete subtrees come from: a [`Tree`] in memory, or a ledger's
/// stored tiles (`crate::tiles`). Roots and proofs need nothing else: every node RFC 9162's
/// algorithms use is a complete subtree or splits into them.
pub trait Subtrees {
    type Error: From<ProofError>;
    /// Number of leaves.
    fn size(&self) -> u64;
    /// The root of the complete subtree of leaves `index·2^height .. (index+1)·2^height`
    /// (within [`Subtrees::size`]).
    fn complete(&self, height: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// MTH of leaves `start..end` (end > start).
fn subtree<S: Subtrees + ?Sized>(s: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let h = n.trailing_zeros();
        return s.complete(h, start >> h);
    }
    let k = split(n);
    Ok(node_hash(
        &subtree(s, start, start + k)?,
        &subtree(s, start + k, end)?,
    ))
}

fn check_size<S: Subtrees + ?Sized>(s: &S, size: u64) -> Result<(), ProofError> {
    if size > s.size() {
        return Err(ProofError::SizeOutOfRange {
            size,
            len: s.size(),
        });
    }
    Ok(())
}

/// The root of the tree made of the first `size` leaves.
pub fn root<S: Subtrees + ?Sized>(s: &S, size: u64) -> Result<Hash, S::Error> {
    check_size(s, size)?;
    if size == 0 {
        return Ok(empty_root());
    }
    subtree(s, 0, size)
}

/// PATH(index, D[size]): the audit path of one leaf in the tree of the first `size` leaves.
pub fn inclusion_proof<S: Subtrees + ?Sized>(
    s: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    check_size(s, size)?;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size }.into());
    }
    let mut proof = Vec::new();
    path(s, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<S: Subtrees + ?Sized>(
    s: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(s, m, start, start + k, out)?;
        out.push(subtree(s, start + k, end)?);
    } else {
        path(s, m - k, start + k, end, out)?;
        out.push(subtree(s, start, start + k)?);
    }
    Ok(())
}

/// PROOF(first, D[second]): that the tree of `first` leaves is a prefix of the tree of
/// `second` leaves.
pub fn consistency_proof<S: Subtrees + ?Sized>(
    s: &S,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, S::Error> {
    check_size(s, second)?;
    if first > second {
        return Err(ProofError::SizesReversed { first, second }.into());
    }
    let mut proof = Vec::new();
    if first > 0 && first < second {
        subproof(s, first, 0, second, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof<S: Subtrees + ?Sized>(
    s: &S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(subtree(s, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(s, m, start, start + k, whole, out)?;
        out.push(subtree(s, start + k, end)?);
    } else {
        subproof(s, m - k, start + k, end, false, out)?;
        out.push(subtree(s, start, start + k)?);
    }
    Ok(())
}

/// The root of a complete tree whose leaves' hashes (a power of two of them) are `hashes`.
pub fn complete_root(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut level = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level.first().copied().unwrap_or_else(empty_root)
}

/// Leaf hashes and every complete subtree above them: `levels[h][i]` is the root of leaves
/// `i·2^h .. (i+1)·2^h`.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Subtrees for Tree {
    type Error = ProofError;
    fn size(&self) -> u64 {
        self.len()
    }
    fn complete(&self, height: u32, index: u64) -> Result<Hash, ProofError> {
        Ok(self.levels[height as usize][index as usize])
    }
}

impl Tree {
    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append a leaf hash; complete subtrees are hashed as they fill.
    pub fn push(&mut self, leaf: Hash) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut h = 0;
        while self.levels[h].len().is_multiple_of(2) {
            let n = self.levels[h].len();
            let parent = node_hash(&self.levels[h][n - 2], &self.levels[h][n - 1]);
            if self.levels.len() == h + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[h + 1].push(parent);
            h += 1;
        }
    }

    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels.first()?.get(index as usize).copied()
    }

    /// The roots of complete subtrees of `2^height` leaves, in order.
    pub fn complete_level(&self, height: u32) -> &[Hash] {
        self.levels.get(height as usize).map_or(&[], Vec::as_slice)
    }

    /// The root of the tree made of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, ProofError> {
        root(self, size)
    }

    /// PATH(index, D[size]): the audit path of one leaf in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        inclusion_proof(self, index, size)
    }

    /// PROOF(first, D[second]): that the tree of `first` leaves is a prefix of the tree of
    /// `second` leaves.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, ProofError> {
        consistency_proof(self, first, second)
    }
}

/// RFC 9162 §2.1.3.2: verify that `leaf` is at `index` in the tree of `size` leaves with `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: inclusion_length(index, size),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want: inclusion_length(index, size),
        });
    }
    if &r == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// How many hashes PATH(index, D[size]) has.
fn inclusion_length(index: u64, size: u64) -> usize {
    let (mut len, mut fn_, mut sn) = (0, index, size - 1);
    while sn != 0 {
        if fn_ & 1 == 0 && fn_ == sn {
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        }
        len += 1;
        fn_ >>= 1;
        sn >>= 1;
    }
    len
}

/// RFC 9162 §2.1.4.2: verify that the tree of `first` leaves with root `first_root` is a prefix
/// of the tree of `second` leaves with root `second_root`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesReversed { first, second });
    }
    if first == second {
        return if proof.is_empty() && first_root == second_root {
            Ok(())
        } else if !proof.is_empty() {
            Err(ProofError::WrongLength {
                got: proof.len(),
                want: 0,
            })
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if first == 0 {
        // Every tree extends the empty one; there is nothing to prove.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength {
                got: proof.len(),
                want: 0,
            })
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength { got: 0, want: 1 });
    }
    // If `first` is an exact power of two, the first root is the proof's implicit first node.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((first_node, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength { got: 0, want: 1 });
    };
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first_node, *first_node);
    for c in rest {
        if sn == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: proof.len() - 1,
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want: proof.len() + 1,
        });
    }
    if &fr == first_root && &sr == second_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}
