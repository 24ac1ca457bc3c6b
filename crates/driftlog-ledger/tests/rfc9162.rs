//! The Merkle tree against the published RFC 6962/9162 test vectors and against an independent
//! reference written straight from the RFC's recursive definitions (MTH, PATH, PROOF), with
//! property tests comparing the two and tampering every proof.

use driftlog_ledger::merkle::{
    empty_root, leaf_hash, node_hash, verify_consistency, verify_inclusion, Hash, ProofError, Tree,
};
use proptest::prelude::*;

/// The leaves of the Certificate Transparency reference tests (certificate-transparency-go
/// `merkle/testdata`, the same as RFC 6962's reference implementation).
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Their roots for the first 1..=8 leaves.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 9162 §2.1.1, word for word: MTH over a list of entries.
fn reference_mth(entries: &[Vec<u8>]) -> Hash {
    match entries.len() {
        0 => empty_root(),
        1 => leaf_hash(&entries[0]),
        n => {
            let k = (1..)
                .map(|i| 1usize << i)
                .take_while(|p| *p < n)
                .last()
                .unwrap_or(1);
            node_hash(&reference_mth(&entries[..k]), &reference_mth(&entries[k..]))
        }
    }
}

fn largest_power_of_two_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 9162 §2.1.3.1 PATH(m, D[n]).
fn reference_path(m: usize, entries: &[Vec<u8>]) -> Vec<Hash> {
    let n = entries.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = largest_power_of_two_below(n);
    if m < k {
        let mut p = reference_path(m, &entries[..k]);
        p.push(reference_mth(&entries[k..]));
        p
    } else {
        let mut p = reference_path(m - k, &entries[k..]);
        p.push(reference_mth(&entries[..k]));
        p
    }
}

/// RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b).
fn reference_subproof(m: usize, entries: &[Vec<u8>], b: bool) -> Vec<Hash> {
    let n = entries.len();
    if m == n {
        return if b {
            Vec::new()
        } else {
            vec![reference_mth(entries)]
        };
    }
    let k = largest_power_of_two_below(n);
    if m <= k {
        let mut p = reference_subproof(m, &entries[..k], b);
        p.push(reference_mth(&entries[k..]));
        p
    } else {
        let mut p = reference_subproof(m - k, &entries[k..], false);
        p.push(reference_mth(&entries[..k]));
        p
    }
}

fn tree_of(entries: &[Vec<u8>]) -> Tree {
    let mut t = Tree::default();
    for e in entries {
        t.push(leaf_hash(e));
    }
    t
}

#[test]
fn published_vectors() {
    let entries: Vec<Vec<u8>> = LEAVES.iter().map(|l| unhex(l)).collect();
    let tree = tree_of(&entries);
    assert_eq!(
        hex(&tree.root(0).unwrap()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    for (size, root) in ROOTS.iter().enumerate() {
        assert_eq!(
            hex(&tree.root(size as u64 + 1).unwrap()),
            *root,
            "size {}",
            size + 1
        );
        assert_eq!(hex(&reference_mth(&entries[..=size])), *root);
    }
}

#[test]
fn requests_outside_the_tree_are_refused() {
    let tree = tree_of(&[b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(
        tree.root(3),
        Err(ProofError::SizeOutOfRange { size: 3, len: 2 })
    );
    assert_eq!(
        tree.inclusion_proof(2, 2),
        Err(ProofError::IndexOutOfRange { index: 2, size: 2 })
    );
    assert_eq!(
        tree.consistency_proof(2, 1),
        Err(ProofError::SizesReversed {
            first: 2,
            second: 1
        })
    );
}

/// Distinct entries, as a ledger's are (each carries its sequence number): with equal leaves,
/// different positions have equal subtrees and a proof may truly hold for several of them.
fn entries_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 1..70).prop_map(|entries| {
        entries
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                e.extend_from_slice(&(i as u32).to_be_bytes());
                e
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn roots_and_proofs_equal_the_reference(entries in entries_strategy(), a in any::<u64>(), b in any::<u64>()) {
        let tree = tree_of(&entries);
        let n = entries.len();
        for size in 1..=n {
            prop_assert_eq!(tree.root(size as u64).unwrap(), reference_mth(&entries[..size]));
        }
        let size = 1 + (a as usize % n);
        let index = b as usize % size;
        let proof = tree.inclusion_proof(index as u64, size as u64).unwrap();
        prop_assert_eq!(&proof, &reference_path(index, &entries[..size]));
        let root = tree.root(size as u64).unwrap();
        let leaf = leaf_hash(&entries[index]);
        prop_assert!(verify_inclusion(index as u64, size as u64, &leaf, &proof, &root).is_ok());

        let first = 1 + (b as usize % size);
        let consistency = tree.consistency_proof(first as u64, size as u64).unwrap();
        let expected = if first == size { Vec::new() } else { reference_subproof(first, &entries[..size], true) };
        prop_assert_eq!(&consistency, &expected);
        let first_root = tree.root(first as u64).unwrap();
        prop_assert!(verify_consistency(first as u64, size as u64, &first_root, &root, &consistency).is_ok());
    }

    #[test]
    fn tampered_inclusion_proofs_fail(entries in entries_strategy(), a in any::<u64>(), b in any::<u64>(), flip in any::<(usize, u8)>()) {
        let tree = tree_of(&entries);
        let size = 1 + (a as usize % entries.len());
        let index = b as usize % size;
        let proof = tree.inclusion_proof(index as u64, size as u64).unwrap();
        let root = tree.root(size as u64).unwrap();
        let leaf = leaf_hash(&entries[index]);
        // One byte of one hash changed.
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let (i, bit) = flip;
            bad[i % proof.len()][i % 32] ^= bit | 1;
            prop_assert!(verify_inclusion(index as u64, size as u64, &leaf, &bad, &root).is_err());
        }
        // Another entry's hash, another index, another size, a hash too many or too few.
        let other = leaf_hash(b"not an entry");
        prop_assert!(verify_inclusion(index as u64, size as u64, &other, &proof, &root).is_err());
        if size > 1 {
            let wrong_index = (index as u64 + 1) % size as u64;
            if tree.leaf(wrong_index) != Some(leaf) {
                prop_assert!(verify_inclusion(wrong_index, size as u64, &leaf, &proof, &root).is_err());
            }
        }
        // A different size is a different checkpoint: its root does not accept this path. (The
        // same path can fit the *shape* of a bigger tree; what binds the size is the root that is
        // signed with it.)
        if (size as u64) < tree.len() {
            let bigger = tree.root(size as u64 + 1).unwrap();
            prop_assert!(verify_inclusion(index as u64, size as u64 + 1, &leaf, &proof, &bigger).is_err());
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(index as u64, size as u64, &leaf, &longer, &root).is_err());
        if !proof.is_empty() {
            prop_assert!(verify_inclusion(index as u64, size as u64, &leaf, &proof[1..], &root).is_err());
        }
    }

    #[test]
    fn tampered_consistency_proofs_fail(entries in entries_strategy(), a in any::<u64>(), b in any::<u64>(), flip in any::<(usize, u8)>()) {
        let tree = tree_of(&entries);
        let size = 1 + (a as usize % entries.len());
        let first = 1 + (b as usize % size);
        prop_assume!(first < size);
        let proof = tree.consistency_proof(first as u64, size as u64).unwrap();
        let (r1, r2) = (tree.root(first as u64).unwrap(), tree.root(size as u64).unwrap());
        let mut bad = proof.clone();
        let (i, bit) = flip;
        bad[i % proof.len()][i % 32] ^= bit | 1;
        prop_assert!(verify_consistency(first as u64, size as u64, &r1, &r2, &bad).is_err());
        prop_assert!(verify_consistency(first as u64, size as u64, &r2, &r1, &proof).is_err() || r1 == r2);
        prop_assert!(verify_consistency(first as u64, size as u64, &r1, &r2, &[]).is_err());
        if (size as u64) < tree.len() {
            let bigger = tree.root(size as u64 + 1).unwrap();
            prop_assert!(verify_consistency(first as u64, size as u64 + 1, &r1, &bigger, &proof).is_err());
        }
        let mut longer = proof.clone();
        longer.push(r2);
        prop_assert!(verify_consistency(first as u64, size as u64, &r1, &r2, &longer).is_err());
    }
}
