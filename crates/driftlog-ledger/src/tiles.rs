//! The log as C2SP `tlog-tiles` sees it, and what makes roots and proofs cheap at any size.
//!
//! A level-`L` node is the root of a complete subtree of `256^L` entries (level 0: the leaf
//! hashes). A hash tile is 256 consecutive nodes of one level (fewer in a partial tile); an
//! entry bundle is 256 consecutive entries. Storage keeps the nodes of levels 1 and up as the
//! log grows ([`crate::Ledger::index_tiles`]), so any complete subtree's root is at most 128
//! stored hashes away, and a root or a proof at a million entries reads a few thousand hashes
//! instead of every leaf. Stored nodes are derived data: any not stored yet (a crash between an
//! append and its indexing) is computed from the level below, and a client that checks what it
//! gets against a signed checkpoint is never misled by one altered behind the log's back.

use crate::log::LedgerError;
use crate::merkle::{complete_root, Hash, Subtrees};
use crate::storage::Storage;

/// Hashes per tile and entries per bundle.
pub const WIDTH: u64 = 256;

/// The highest level a tree of `u64` entries has nodes at.
pub const MAX_LEVEL: u8 = 7;

/// How many entries a level-`level` node covers (`None` past [`MAX_LEVEL`]).
pub fn span(level: u8) -> Option<u64> {
    WIDTH.checked_pow(level as u32)
}

/// The log's complete subtrees, read from storage.
pub struct Tiles<'a> {
    pub(crate) storage: &'a dyn Storage,
    pub(crate) size: u64,
}

impl Tiles<'_> {
    /// Level-`level` nodes `from..to`: stored ones read, any not stored yet computed from the
    /// level below.
    pub fn nodes(&self, level: u8, from: u64, to: u64) -> Result<Vec<Hash>, LedgerError> {
        let mut got = self.storage.nodes(level, from, to)?;
        let next = from + got.len() as u64;
        if next == to {
            return Ok(got);
        }
        if level == 0 {
            return Err(LedgerError::Gap { index: next });
        }
        for k in next..to {
            let lower = self.nodes(level - 1, k * WIDTH, (k + 1) * WIDTH)?;
            got.push(complete_root(&lower));
        }
        Ok(got)
    }
}

impl Subtrees for Tiles<'_> {
    type Error = LedgerError;

    fn size(&self) -> u64 {
        self.size
    }

    /// A subtree of height `8L + r` is `2^r` level-`L` nodes.
    fn complete(&self, height: u32, index: u64) -> Result<Hash, LedgerError> {
        let level = (height / 8) as u8;
        let count = 1u64 << (height % 8);
        let from = index * count;
        Ok(complete_root(&self.nodes(level, from, from + count)?))
    }
}

/// Where a tlog-tiles path points: a hash tile or an entry bundle, and how many hashes or
/// entries it holds (256 unless partial).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TilePath {
    Hashes { level: u8, index: u64, width: u64 },
    Entries { index: u64, width: u64 },
}

impl TilePath {
    /// Parse the part of a path after `tile/`: `L/N[.p/W]` or `entries/N[.p/W]`, where `N` is
    /// written in groups of three digits, all but the last prefixed with `x` (`x001/x234/067`).
    pub fn parse(path: &str) -> Option<Self> {
        let (level, rest) = path.split_once('/')?;
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let w: u64 = digits(width)?;
                if !(1..WIDTH).contains(&w) || width.len() != w.to_string().len() {
                    return None;
                }
                (index, w)
            }
            None => (rest, WIDTH),
        };
        let index = tile_index(index)?;
        if level == "entries" {
            return Some(TilePath::Entries { index, width });
        }
        let level: u8 = digits(level)?.try_into().ok()?;
        if level > MAX_LEVEL || level.to_string() != path.split_once('/')?.0 {
            return None;
        }
        Some(TilePath::Hashes {
            level,
            index,
            width,
        })
    }
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `x001/x234/067` → 1234067; every group three digits, all but the last after an `x`.
fn tile_index(s: &str) -> Option<u64> {
    let groups: Vec<&str> = s.split('/').collect();
    let (last, leading) = groups.split_last()?;
    let mut n: u64 = 0;
    for g in leading {
        let g = g.strip_prefix('x')?;
        if g.len() != 3 {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(digits(g)?)?;
    }
    if last.len() != 3 {
        return None;
    }
    let n = n.checked_mul(1000)?.checked_add(digits(last)?)?;
    // One spelling per index: no leading `x000` groups.
    if groups.len() > 1 && groups[0] == "x000" {
        return None;
    }
    Some(n)
}

/// The path segment of tile index `n` (`1234067` → `x001/x234/067`).
pub fn index_path(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// What the fuzz target (`tile_path`) checks, on paths made of the characters that
        /// matter: a path that parses is the one spelling of its tile.
        #[test]
        fn a_path_that_parses_is_the_only_spelling_of_its_tile(
            path in "[0-9x./pentri]{0,24}|(entries|[0-9]{1,2})/(x[0-9]{3}/){0,3}[0-9]{2,4}(\\.p/[0-9]{1,3})?"
        ) {
            if let Some(tile) = TilePath::parse(&path) {
                let (head, index, width) = match tile {
                    TilePath::Hashes { level, index, width } => (level.to_string(), index, width),
                    TilePath::Entries { index, width } => ("entries".to_owned(), index, width),
                };
                let mut again = format!("{head}/{}", index_path(index));
                if width < WIDTH {
                    again.push_str(&format!(".p/{width}"));
                }
                prop_assert_eq!(again, path);
            }
        }
    }

    #[test]
    fn paths_parse_as_the_spec_spells_them() {
        assert_eq!(
            TilePath::parse("0/000"),
            Some(TilePath::Hashes {
                level: 0,
                index: 0,
                width: 256
            })
        );
        assert_eq!(
            TilePath::parse("1/x001/x234/067.p/8"),
            Some(TilePath::Hashes {
                level: 1,
                index: 1_234_067,
                width: 8
            })
        );
        assert_eq!(
            TilePath::parse("entries/x003/905.p/255"),
            Some(TilePath::Entries {
                index: 3905,
                width: 255
            })
        );
        for bad in [
            "0/0",
            "0/0000",
            "0/x000/001",
            "0/001.p/0",
            "0/001.p/256",
            "0/001.p/08",
            "8/000",
            "00/000",
            "entries/12",
            "0/001/002",
            "0/",
            "",
        ] {
            assert_eq!(TilePath::parse(bad), None, "{bad}");
        }
        for n in [0, 7, 999, 1000, 1_234_067, u64::MAX / WIDTH] {
            let p = format!("2/{}", index_path(n));
            assert_eq!(
                TilePath::parse(&p),
                Some(TilePath::Hashes {
                    level: 2,
                    index: n,
                    width: 256
                }),
                "{p}"
            );
        }
    }
}
