//! Which events name a resource, kept as posting lists: one row per resource per written batch,
//! holding the batch's `(time, event)` pairs for that resource, compressed.
//!
//! A million CloudTrail events name resources about three million times, but only some 170
//! thousand times once grouped by batch. One B-tree row per reference made the single writer
//! insert three million keys at random places and rewrite most of the table's pages on every
//! commit; a row per group is appended, and a lookup decodes a few short lists instead
//! (docs/BENCHMARKS.md has the figures).
//!
//! A list is a sequence of LEB128 varints: for each pair in `(time, event)` order, the time
//! after the previous pair's time (the first after the row's `first_us`), then the event id's
//! zigzag difference from the previous pair's id (the first from 0).

/// Longest list written in one row: a lookup reads whole rows, so very busy resources get
/// several rows per batch rather than one huge one.
pub(crate) const MAX_PAIRS: usize = 4096;

/// Encode `pairs`, sorted by `(time, event)`; returns the row's `first_us`, `last_us` and list.
pub(crate) fn encode(pairs: &[(i64, i64)]) -> (i64, i64, Vec<u8>) {
    let first_us = pairs.first().map_or(0, |p| p.0);
    let last_us = pairs.last().map_or(0, |p| p.0);
    let mut out = Vec::with_capacity(pairs.len() * 4);
    let (mut time, mut id) = (first_us, 0i64);
    for &(t, e) in pairs {
        put(&mut out, t.wrapping_sub(time) as u64);
        put(&mut out, zigzag(e.wrapping_sub(id)));
        (time, id) = (t, e);
    }
    (first_us, last_us, out)
}

/// Encode `pairs` (any order) as one or more lists of at most [`MAX_PAIRS`], handing each
/// to `row` with its `first_us` and `last_us`.
pub(crate) fn write<E>(
    mut pairs: Vec<(i64, i64)>,
    mut row: impl FnMut(i64, i64, Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    if !pairs.is_sorted() {
        pairs.sort_unstable();
    }
    pairs.dedup();
    for chunk in pairs.chunks(MAX_PAIRS) {
        let (first, last, list) = encode(chunk);
        row(first, last, list)?;
    }
    Ok(())
}

/// Decode a list written by [`encode`], appending its pairs to `into`.
pub(crate) fn decode(first_us: i64, list: &[u8], into: &mut Vec<(i64, i64)>) -> Result<(), String> {
    let (mut time, mut id) = (first_us, 0i64);
    let mut rest = list;
    while !rest.is_empty() {
        let dt = take(&mut rest).ok_or("a time is cut short")?;
        let de = take(&mut rest).ok_or("an event id is cut short")?;
        time = time.wrapping_add(dt as i64);
        id = id.wrapping_add(unzigzag(de));
        into.push((time, id));
    }
    Ok(())
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

pub(crate) fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn take(rest: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for (i, &b) in rest.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *rest = &rest[i + 1..];
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_list_round_trips() {
        let pairs = vec![
            (1_700_000_000_000_000, 5),
            (1_700_000_000_000_000, 9),
            (1_700_000_000_500_000, 2),
            (1_700_000_090_000_000, 1_000_000),
        ];
        let (first, last, list) = encode(&pairs);
        assert_eq!((first, last), (pairs[0].0, pairs[3].0));
        assert!(list.len() < 16, "{} bytes", list.len());
        let mut back = Vec::new();
        decode(first, &list, &mut back).unwrap();
        assert_eq!(back, pairs);
    }

    #[test]
    fn a_cut_list_is_an_error() {
        let (first, _, list) = encode(&[(10, 300), (20, 70000)]);
        for cut in 1..list.len() {
            let mut back = Vec::new();
            let whole = decode(first, &list[..cut], &mut back).is_ok();
            // A cut between two pairs decodes the first pair; any other cut is an error.
            assert_eq!(whole, back.len() == 1 && cut == 3, "cut at {cut}");
        }
    }

    proptest! {
        #[test]
        fn any_sorted_pairs_round_trip(mut pairs in proptest::collection::vec((any::<i64>(), any::<i64>()), 0..200)) {
            pairs.sort_unstable();
            let (first, _, list) = encode(&pairs);
            let mut back = Vec::new();
            decode(first, &list, &mut back).unwrap();
            prop_assert_eq!(back, pairs);
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), first in any::<i64>()) {
            let _ = decode(first, &bytes, &mut Vec::new());
        }
    }
}
