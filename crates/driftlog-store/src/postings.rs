//! Which events name a resource, kept as posting lists: one row per resource per written batch,
//! holding the batch's `(time, event)` pairs for that resource, compressed.
//!
//! A million CloudTrail events name resources about three million times, but only some 170
//! thousand times once grouped by batch. One B-tree row per reference made the single writer
//! insert three million keys at random places and rewrite most of the table's pages on every
//! commit; a row per group is appended, and a lookup decodes a few short lists instead
//! (docs/BENCHMARKS.md has the figures).
//!
//! A list is the byte [`SECONDS`], then a sequence of LEB128 varints: for each pair in
//! `(time, event)` order, the time after the previous pair's time (the first after the row's
//! `first_us`) as whole seconds shifted left by one, the low bit set when a varint of the
//! remaining microseconds follows; then the event id's zigzag difference from the previous
//! pair's id (the first from 0). Audit logs mostly stamp whole seconds (CloudTrail always), so
//! a gap of a minute takes one byte where it took four in microseconds: the lists are half
//! the size they were.
//!
//! Lists written before schema 11 have no tag and count time in microseconds; they start with
//! a zero byte (the first pair's time is `first_us`), never with [`SECONDS`], and still read.

/// Most pairs written in one row: a lookup reads whole rows, so very busy resources get
/// several rows per batch rather than one huge one.
const MAX_PAIRS: usize = 4096;

/// Most bytes of list written in one row: three such rows fill a 16 KiB page (the store's page
/// size, `crate::Store::open`). Rows of 4096 pairs took 7–9 KB, and a page holds one row of
/// 8.5 KB where it holds two of 8: the facet lists of a million events left 43% of their
/// pages empty.
pub(crate) const MAX_LIST_BYTES: usize = 5400;

/// The first byte of a list whose times count in seconds (schema 11 on).
pub(crate) const SECONDS: u8 = 1;

const MICROS: u64 = 1_000_000;

/// Encode `pairs`, sorted by `(time, event)`; returns the row's `first_us`, `last_us` and list.
pub(crate) fn encode(pairs: &[(i64, i64)]) -> (i64, i64, Vec<u8>) {
    let (first_us, last_us, list, _) = encode_within(pairs, usize::MAX);
    (first_us, last_us, list)
}

/// Encode the longest prefix of `pairs` (sorted by `(time, event)`, at least one pair) whose
/// list takes at most `budget` bytes; returns the row's `first_us`, `last_us`, the list, and
/// how many pairs it holds.
fn encode_within(pairs: &[(i64, i64)], budget: usize) -> (i64, i64, Vec<u8>, usize) {
    let first_us = pairs.first().map_or(0, |p| p.0);
    let mut out = Vec::with_capacity((pairs.len() * 2 + 1).min(budget));
    out.push(SECONDS);
    let (mut time, mut id) = (first_us, 0i64);
    let mut taken = 0;
    for &(t, e) in pairs {
        let before = out.len();
        put_step(&mut out, t.wrapping_sub(time) as u64);
        put(&mut out, zigzag(e.wrapping_sub(id)));
        if taken > 0 && out.len() > budget {
            out.truncate(before);
            break;
        }
        (time, id) = (t, e);
        taken += 1;
    }
    (first_us, time, out, taken)
}

/// Encode `pairs` (any order) as one or more lists of at most [`MAX_PAIRS`] pairs and
/// [`MAX_LIST_BYTES`] bytes, handing each to `row` with its `first_us` and `last_us`.
pub(crate) fn write<E>(
    mut pairs: Vec<(i64, i64)>,
    mut row: impl FnMut(i64, i64, Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    if !pairs.is_sorted() {
        pairs.sort_unstable();
    }
    pairs.dedup();
    let mut rest = &pairs[..];
    while !rest.is_empty() {
        let (first, last, list, taken) =
            encode_within(&rest[..rest.len().min(MAX_PAIRS)], MAX_LIST_BYTES);
        row(first, last, list)?;
        rest = &rest[taken..];
    }
    Ok(())
}

/// Decode a list written by [`encode`], appending its pairs to `into`.
pub(crate) fn decode(first_us: i64, list: &[u8], into: &mut Vec<(i64, i64)>) -> Result<(), String> {
    let (mut time, mut id) = (first_us, 0i64);
    let (seconds, mut rest) = match list.split_first() {
        Some((&SECONDS, rest)) => (true, rest),
        _ => (false, list),
    };
    while !rest.is_empty() {
        let dt = if seconds {
            take_step(&mut rest)
        } else {
            take(&mut rest)
        }
        .ok_or("a time is cut short")?;
        let de = take(&mut rest).ok_or("an event id is cut short")?;
        time = time.wrapping_add(dt as i64);
        id = id.wrapping_add(unzigzag(de));
        into.push((time, id));
    }
    Ok(())
}

/// The first byte of a list whose pairs each carry a tag byte after the event id: the
/// PostgreSQL store's lists (`driftlog_postgres`), where the tag is the event's facets
/// ([`crate::facets::tag`]), so a name's list answers a facet filter without reading events.
pub const TAGGED: u8 = 2;

/// A time step as [`SECONDS`] lists write it.
fn put_step(out: &mut Vec<u8>, dt: u64) {
    let (seconds, micros) = (dt / MICROS, dt % MICROS);
    put(out, seconds << 1 | u64::from(micros != 0));
    if micros != 0 {
        put(out, micros);
    }
}

/// A time step written by [`put_step`].
fn take_step(rest: &mut &[u8]) -> Option<u64> {
    let dt = take(rest)?;
    let micros = match dt & 1 {
        1 => take(rest)?,
        _ => 0,
    };
    Some((dt >> 1).wrapping_mul(MICROS).wrapping_add(micros))
}

/// Encode `entries` `(time, event, tag)`, sorted by `(time, event)`, as a [`TAGGED`] list;
/// returns the row's `first_us`, `last_us` and list.
pub fn encode_tagged(entries: &[(i64, i64, u8)]) -> (i64, i64, Vec<u8>) {
    let first_us = entries.first().map_or(0, |e| e.0);
    let mut out = Vec::with_capacity(entries.len() * 3 + 1);
    out.push(TAGGED);
    let (mut time, mut id) = (first_us, 0i64);
    for &(t, e, tag) in entries {
        put_step(&mut out, t.wrapping_sub(time) as u64);
        put(&mut out, zigzag(e.wrapping_sub(id)));
        out.push(tag);
        (time, id) = (t, e);
    }
    (first_us, time, out)
}

/// Decode a list written by [`encode_tagged`], appending its entries to `into`.
pub fn decode_tagged(
    first_us: i64,
    list: &[u8],
    into: &mut Vec<(i64, i64, u8)>,
) -> Result<(), String> {
    let Some((&TAGGED, mut rest)) = list.split_first() else {
        return Err("it is not a tagged list".into());
    };
    let (mut time, mut id) = (first_us, 0i64);
    while !rest.is_empty() {
        let dt = take_step(&mut rest).ok_or("a time is cut short")?;
        let de = take(&mut rest).ok_or("an event id is cut short")?;
        let (&tag, after) = rest.split_first().ok_or("a tag is missing")?;
        rest = after;
        time = time.wrapping_add(dt as i64);
        id = id.wrapping_add(unzigzag(de));
        into.push((time, id, tag));
    }
    Ok(())
}

/// A signed step as an unsigned varint's value: small either way, small after.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The step [`zigzag`] made.
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

pub fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn take(rest: &mut &[u8]) -> Option<u64> {
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

/// A list as schema 10 wrote it: time steps in microseconds, no tag (migration tests).
#[cfg(test)]
pub(crate) fn encode_in_micros(pairs: &[(i64, i64)]) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut time, mut id) = (pairs.first().map_or(0, |p| p.0), 0i64);
    for &(t, e) in pairs {
        put(&mut out, t.wrapping_sub(time) as u64);
        put(&mut out, zigzag(e.wrapping_sub(id)));
        (time, id) = (t, e);
    }
    out
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
        assert!(list.len() < 20, "{} bytes", list.len());
        let mut back = Vec::new();
        decode(first, &list, &mut back).unwrap();
        assert_eq!(back, pairs);
    }

    #[test]
    fn a_tagged_list_round_trips_and_a_cut_one_is_an_error() {
        let entries = vec![
            (1_700_000_000_000_000, 5, 3),
            (1_700_000_000_000_000, 9, 0),
            (1_700_000_000_500_000, 2, 0x31),
            (1_700_000_090_000_000, 1_000_000, 7),
        ];
        let (first, last, list) = encode_tagged(&entries);
        assert_eq!((first, last), (entries[0].0, entries[3].0));
        let mut back = Vec::new();
        decode_tagged(first, &list, &mut back).unwrap();
        assert_eq!(back, entries);
        for cut in 1..list.len() {
            let mut back = Vec::new();
            if decode_tagged(first, &list[..cut], &mut back).is_ok() {
                assert!(entries.starts_with(&back), "cut at {cut}");
            }
        }
        assert!(decode_tagged(first, &encode(&[(1, 2)]).2, &mut back).is_err());
    }

    #[test]
    fn a_cut_list_is_an_error() {
        let (first, _, list) = encode(&[(10, 300), (20, 70000)]);
        // The tag, then 0 s and id 300 (three bytes), then 0 s with 10 µs and id 69700.
        for cut in 2..list.len() {
            let mut back = Vec::new();
            let whole = decode(first, &list[..cut], &mut back).is_ok();
            // A cut between two pairs decodes the first pair; any other cut is an error.
            assert_eq!(whole, back.len() == 1 && cut == 4, "cut at {cut}");
        }
    }

    #[test]
    fn whole_seconds_take_a_byte_a_minute_apart() {
        let t = 1_700_000_000_000_000;
        let pairs: Vec<(i64, i64)> = (0..100).map(|i| (t + i * 60_000_000, 7 + i)).collect();
        let (first, _, list) = encode(&pairs);
        // The tag, the first id (7), then a byte for each minute and one for each id step.
        assert_eq!(list.len(), 1 + 2 + 99 * 2);
        let mut back = Vec::new();
        decode(first, &list, &mut back).unwrap();
        assert_eq!(back, pairs);
    }

    #[test]
    fn a_list_in_microseconds_still_reads() {
        let pairs = vec![(5_000_000, 1), (5_000_001, 2), (9_000_000, 300)];
        let old = encode_in_micros(&pairs);
        assert_eq!(old[0], 0, "an untagged list starts with a zero step");
        let mut back = Vec::new();
        decode(pairs[0].0, &old, &mut back).unwrap();
        assert_eq!(back, pairs);
    }

    #[test]
    fn rows_stay_within_their_byte_budget_and_lose_no_pair() {
        // Ids far apart take three bytes each: a busy facet's list in a big store.
        let t = 1_700_000_000_000_000;
        let pairs: Vec<(i64, i64)> = (0..10_000)
            .map(|i| (t + i * 7_000_000, i * 40_000))
            .collect();
        let mut rows = Vec::new();
        write(pairs.clone(), |first, last, list| {
            rows.push((first, last, list));
            Ok::<_, ()>(())
        })
        .unwrap();
        let mut back = Vec::new();
        for (first, last, list) in &rows {
            assert!(list.len() <= MAX_LIST_BYTES, "{} bytes", list.len());
            let from = back.len();
            decode(*first, list, &mut back).unwrap();
            assert_eq!((back[from].0, back.last().unwrap().0), (*first, *last));
        }
        assert_eq!(back, pairs);
        // Full rows, not a row per pair: each but the last is within a pair of the budget.
        for (_, _, list) in &rows[..rows.len() - 1] {
            assert!(list.len() > MAX_LIST_BYTES - 16, "{} bytes", list.len());
        }
    }

    proptest! {
        #[test]
        fn any_pairs_written_in_rows_read_back(pairs in proptest::collection::vec((any::<i64>(), any::<i64>()), 0..3000)) {
            let mut expected = pairs.clone();
            expected.sort_unstable();
            expected.dedup();
            let mut back = Vec::new();
            write(pairs, |first, _, list| {
                prop_assert!(list.len() <= MAX_LIST_BYTES);
                decode(first, &list, &mut back).unwrap();
                Ok(())
            })?;
            prop_assert_eq!(back, expected);
        }

        #[test]
        fn any_sorted_pairs_round_trip(mut pairs in proptest::collection::vec((any::<i64>(), any::<i64>()), 0..200)) {
            pairs.sort_unstable();
            let (first, _, list) = encode(&pairs);
            let mut back = Vec::new();
            decode(first, &list, &mut back).unwrap();
            prop_assert_eq!(&back, &pairs);
            if let Some(&(first, _)) = pairs.first() {
                back.clear();
                decode(first, &encode_in_micros(&pairs), &mut back).unwrap();
                prop_assert_eq!(back, pairs);
            }
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), first in any::<i64>()) {
            let _ = decode(first, &bytes, &mut Vec::new());
        }
    }
}
