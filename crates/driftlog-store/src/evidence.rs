//! The codec of evidence blocks: the original records, packed many to a block and compressed
//! together.
//!
//! Blocks are zstd frames. Audit records of one producer repeat the same keys, ARNs, user
//! agents and service names from one record to the next, so a dictionary trained on a few
//! thousand of a store's own records lets each block start out knowing that text: on
//! generated CloudTrail a million records' evidence takes 0.31× the pages of the lz4 blocks
//! of the release before (0.49× in 128 KiB blocks, see `write::BLOCK_BYTES`), and zstd's
//! fastest strategy keeps up with lz4 once its hash table is large enough to remember what
//! the dictionary holds ([`WITH_DICTIONARY`]). A store keeps its dictionaries (the frame
//! header names the one it was written with); blocks written without one are plain zstd
//! frames, and blocks of stores written before schema 8 are lz4 with the size prepended, told
//! apart by zstd's magic number (an lz4 block would need a 4 GiB record to start with the
//! same four bytes).
//!
//! The ledger commits to the records, not to their compressed form: recompressing blocks or
//! replacing a dictionary changes no leaf, and a damaged dictionary shows as records whose
//! hash no longer matches.

use std::sync::Arc;

/// zstd's frame magic number, little-endian (RFC 8878 §3.1.1).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// A dictionary's magic number (RFC 8878 §5), followed by its 4-byte id.
const DICT_MAGIC: [u8; 4] = [0x37, 0xA4, 0x30, 0xEC];
/// The compression level of blocks without a dictionary (with one, see [`WITH_DICTIONARY`]).
const LEVEL: i32 = 3;
/// Dictionary size: zstd's default, measured best among 32 and 112 KiB.
const DICT_BYTES: usize = 112 * 1024;
/// Below this many sample records, training is not worth it (and zstd may refuse).
pub const MIN_SAMPLES: usize = 1_000;
/// Samples stop being gathered at this many bytes. Training takes time in proportion, and an
/// ingest waits for it before it parses a file: 3.5 MB of CloudTrail trained in about half a
/// second (zstd tries four sizes of segment) and compressed within 3% of a dictionary trained
/// on four times as much; 2 MB trains in half the time and compressed the 1M corpus alike
/// (docs/BENCHMARKS.md, issue #15 fourteenth part).
pub const SAMPLE_BYTES: usize = 2 << 20;
/// Ids below this are reserved by RFC 8878 for registered dictionaries.
const FIRST_ID: u32 = 32_768;
/// The most a block may say it decompresses to. A block is 1 MiB of records, or one record
/// alone when it is longer; no audit record comes near this, and a damaged header claiming
/// gigabytes is refused before anything is allocated.
const MAX_BLOCK: usize = 256 << 20;

/// A trained dictionary, ready for both directions.
pub struct Dictionary {
    id: u32,
    bytes: Vec<u8>,
    decoder: zstd::dict::DecoderDictionary<'static>,
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionary")
            .field("id", &self.id)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl Dictionary {
    /// Train on `samples` (whole records) and number the result `after + 1` (at least
    /// [`FIRST_ID`]). `None` when there are too few samples or zstd finds nothing to learn.
    pub fn train<S: AsRef<[u8]>>(samples: &[S], after: u32) -> Option<Dictionary> {
        if samples.len() < MIN_SAMPLES {
            return None;
        }
        let mut bytes = zstd::dict::from_samples(samples, DICT_BYTES).ok()?;
        if bytes.len() < 8 || bytes[..4] != DICT_MAGIC {
            return None;
        }
        let id = after.saturating_add(1).max(FIRST_ID);
        bytes[4..8].copy_from_slice(&id.to_le_bytes());
        Dictionary::from_bytes(bytes).ok()
    }

    /// A dictionary as stored.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Dictionary, String> {
        let id = match bytes.get(..8) {
            Some(head) if head[..4] == DICT_MAGIC => {
                u32::from_le_bytes([head[4], head[5], head[6], head[7]])
            }
            _ => return Err("not a zstd dictionary".into()),
        };
        // A damaged dictionary is an error here, not a panic inside zstd.
        let damaged = |e: std::io::Error| format!("a damaged zstd dictionary: {e}");
        Ok(Dictionary {
            id,
            decoder: zstd::dict::DecoderDictionary::try_copy(&bytes).map_err(damaged)?,
            bytes,
        })
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Compresses blocks, with the store's dictionary when it has one. One per packer (a batch of
/// an ingest); the zstd context it uses, with the dictionary loaded, stays with the thread
/// from one packer to the next (see [`CONTEXT`]).
pub struct Compressor<'d> {
    /// This thread's context (from [`CONTEXT`], put back on drop), once a block needs it.
    context: Option<Context>,
    dictionary: Option<&'d Dictionary>,
    /// Sized for the worst case once; each block is copied out at its compressed length, so
    /// a batch of blocks holds no spare capacity.
    scratch: Vec<u8>,
}

/// A zstd context and the dictionary bytes loaded into it (none: plain frames).
type Context = (Option<Vec<u8>>, zstd::bulk::Compressor<'static>);

/// The parameters blocks are compressed with when there is a dictionary: zstd's fastest
/// strategy (level 1's), with a hash table of 2^16 entries instead of 2^14 and a window that
/// holds a whole block and the dictionary. The smaller table forgets most of what the
/// dictionary taught; the larger one keeps it. On a million generated CloudTrail events,
/// against level 3 (the release before): evidence of 108.1 MB instead of 113.3, compressed
/// 1.4× as fast, ingest 4% faster (docs/BENCHMARKS.md). Every parameter is set:
/// those left to the level are chosen for the dictionary's size, which undid the gain.
/// Blocks decode the same way whatever they were written with.
const WITH_DICTIONARY: [zstd::zstd_safe::CParameter; 8] = {
    use zstd::zstd_safe::{CParameter as P, Strategy};
    [
        P::CompressionLevel(1),
        P::Strategy(Strategy::ZSTD_fast),
        P::WindowLog(21),
        P::HashLog(16),
        P::ChainLog(13),
        P::SearchLog(1),
        P::MinMatch(7),
        P::TargetLength(0),
    ]
};

thread_local! {
    /// This thread's zstd context. Loading a dictionary builds its tables for the parameters
    /// (about 0.2 ms), so that is done once per thread and dictionary, not once per packer.
    /// Bytes, not ids, tell dictionaries apart: two stores in one process may number
    /// different dictionaries alike.
    static CONTEXT: std::cell::RefCell<Option<Context>> = const { std::cell::RefCell::new(None) };
}

impl<'d> Compressor<'d> {
    pub fn new(dictionary: Option<&'d Dictionary>) -> Compressor<'d> {
        Compressor {
            context: None,
            dictionary,
            scratch: Vec::new(),
        }
    }

    /// A context with `dictionary` loaded: this thread's, when it has that one. Should zstd
    /// refuse the dictionary, blocks are plain frames, which read without it.
    fn context(dictionary: Option<&Dictionary>) -> Context {
        let wanted = dictionary.map(Dictionary::bytes);
        if let Some(cached) = CONTEXT.with_borrow_mut(Option::take) {
            if cached.0.as_deref() == wanted {
                return cached;
            }
        }
        let loaded = wanted.and_then(|bytes| {
            let mut context = zstd::bulk::Compressor::with_dictionary(1, bytes).ok()?;
            for parameter in WITH_DICTIONARY {
                context.set_parameter(parameter).ok()?;
            }
            Some((Some(bytes.to_vec()), context))
        });
        loaded.unwrap_or_else(|| {
            let plain = zstd::bulk::Compressor::new(LEVEL).expect("zstd accepts its own level");
            (None, plain)
        })
    }

    pub fn compress(&mut self, block: &[u8]) -> Vec<u8> {
        let dictionary = self.dictionary;
        let (_, context) = self
            .context
            .get_or_insert_with(|| Compressor::context(dictionary));
        self.scratch.clear();
        self.scratch
            .reserve(zstd::zstd_safe::compress_bound(block.len()));
        context
            .compress_to_buffer(block, &mut self.scratch)
            .expect("a buffer of zstd's bound holds any block");
        self.scratch.clone()
    }
}

impl Drop for Compressor<'_> {
    fn drop(&mut self) {
        if let Some(context) = self.context.take() {
            // Kept with the bytes it holds (none for plain frames), so the next file that
            // wants another dictionary loads its own.
            CONTEXT.with_borrow_mut(|cached| *cached = Some(context));
        }
    }
}

/// Why a block did not decompress.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("it was written with dictionary {0}, which the store does not have")]
    NoDictionary(u32),
    #[error("{0}")]
    Corrupt(String),
}

/// The dictionary id a zstd block was written with, if any (0 or none for plain frames and
/// lz4 blocks).
pub fn dictionary_of(block: &[u8]) -> Option<u32> {
    if block.get(..4) != Some(&ZSTD_MAGIC) {
        return None;
    }
    zstd::zstd_safe::get_dict_id_from_frame(block).map(|id| id.get())
}

/// Decompress one block. `dictionary` is asked for the block's dictionary when it names one.
pub fn decompress(
    block: &[u8],
    dictionary: impl FnOnce(u32) -> Option<Arc<Dictionary>>,
) -> Result<Vec<u8>, BlockError> {
    if block.get(..4) != Some(&ZSTD_MAGIC) {
        let claimed = block
            .get(..4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize);
        if claimed.is_some_and(|c| c > MAX_BLOCK) {
            return Err(BlockError::Corrupt(format!(
                "an lz4 block claiming {} bytes",
                claimed.unwrap_or_default()
            )));
        }
        return lz4_flex::decompress_size_prepended(block)
            .map_err(|e| BlockError::Corrupt(e.to_string()));
    }
    let size = match zstd::zstd_safe::get_frame_content_size(block) {
        Ok(Some(size)) if size <= MAX_BLOCK as u64 => size as usize,
        _ => {
            return Err(BlockError::Corrupt(
                "a zstd frame without a usable size".into(),
            ))
        }
    };
    let decompressed = match dictionary_of(block) {
        Some(id) => {
            let d = dictionary(id).ok_or(BlockError::NoDictionary(id))?;
            zstd::bulk::Decompressor::with_prepared_dictionary(&d.decoder)
                .and_then(|mut z| z.decompress(block, size))
        }
        None => zstd::bulk::decompress(block, size),
    };
    let out = decompressed.map_err(|e| BlockError::Corrupt(e.to_string()))?;
    if out.len() != size {
        return Err(BlockError::Corrupt(format!(
            "{} bytes where the frame says {size}",
            out.len()
        )));
    }
    Ok(out)
}

/// The first byte of a record kept in another form than as logged (see [`keep`]). No JSON
/// text starts with it, so every record of every earlier release reads as it was stored.
const RESHAPED: u8 = 0;
/// Ids shorter than this stay in their record: their place would cost about what they save.
const MIN_ELIDED: usize = 8;

/// Append `raw` to `out` as its block keeps it: without the first copy of `event_id` quoted
/// as a JSON string, when the record has one.
///
/// An audit event's id is random (a UUID, in CloudTrail, Kubernetes and GCP alike), so it is
/// the one part of a record that nothing before it in the block predicts: 19 of the 108
/// bytes a generated CloudTrail record takes once compressed. The store keeps the id in its
/// row anyway, so the record drops it and keeps where it was instead: `RESHAPED`, then how
/// far from the record's end the id started (a LEB128 varint; CloudTrail puts `eventID`
/// near the end, so the distance repeats better than the offset), then the record without
/// the id's text, its quotes left in place. A record that happens to start with `RESHAPED`
/// is kept as `RESHAPED`, 0, then itself. [`restore`] puts the id back, byte for byte: the
/// ledger commits to the record as logged, and `driftlog verify` recomputes it.
pub fn keep(raw: &[u8], event_id: &str, out: &mut Vec<u8>) {
    let id = event_id.as_bytes();
    let at = if id.len() >= MIN_ELIDED {
        quoted_at(raw, id)
    } else {
        None
    };
    match at {
        Some(at) => {
            out.push(RESHAPED);
            push_varint(out, (raw.len() - at) as u64);
            out.extend_from_slice(&raw[..at]);
            out.extend_from_slice(&raw[at + id.len()..]);
        }
        None if raw.first() == Some(&RESHAPED) => {
            out.extend_from_slice(&[RESHAPED, 0]);
            out.extend_from_slice(raw);
        }
        None => out.extend_from_slice(raw),
    }
}

/// Where `id` (not empty) last stands quoted in `raw`. Searched from the end, where
/// CloudTrail logs `eventID`, a byte at a time: a substring searcher built for each record's
/// id cost more than the search (2% of ingest's CPU, docs/BENCHMARKS.md, issue #15
/// fourteenth part). Any quoted place will do: [`restore`] puts the id back where it was.
fn quoted_at(raw: &[u8], id: &[u8]) -> Option<usize> {
    // The id needs a quote on either side.
    let last = raw.len().checked_sub(id.len() + 1)?;
    memchr::memrchr_iter(id[0], &raw[..=last]).find(|&at| {
        at > 0 && raw[at - 1] == b'"' && raw[at + id.len()] == b'"' && &raw[at..at + id.len()] == id
    })
}

/// The record as logged, from what its block keeps (see [`keep`]) and its event's id. Bytes
/// that do not decode are an error naming what is wrong, never a panic.
pub fn restore(kept: &[u8], event_id: &str) -> Result<Vec<u8>, String> {
    let Some(rest) = kept.strip_prefix(&[RESHAPED]) else {
        return Ok(kept.to_vec());
    };
    let (back, rest) = read_varint(rest).ok_or("the record's id position does not decode")?;
    if back == 0 {
        return Ok(rest.to_vec());
    }
    let id = event_id.as_bytes();
    let whole = rest.len() + id.len();
    let at = usize::try_from(back)
        .ok()
        .and_then(|back| whole.checked_sub(back))
        .filter(|&at| at <= rest.len())
        .ok_or_else(|| format!("the record's id lies {back} bytes from its end, past its start"))?;
    let mut out = Vec::with_capacity(whole);
    out.extend_from_slice(&rest[..at]);
    out.extend_from_slice(id);
    out.extend_from_slice(&rest[at..]);
    Ok(out)
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A LEB128 varint and what follows it; `None` for a truncated or overlong one.
fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut v: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some((v, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize) -> Vec<Vec<u8>> {
        crate::conformance::sample_records(n)
            .into_iter()
            .map(String::into_bytes)
            .collect()
    }

    #[test]
    fn blocks_round_trip_with_and_without_a_dictionary_and_old_lz4_blocks_still_read() {
        let samples = records(3_000);
        let dict = Arc::new(Dictionary::train(&samples, 0).expect("enough samples"));
        assert_eq!(dict.id(), FIRST_ID);
        let block: Vec<u8> = samples[..100].concat();

        let with = Compressor::new(Some(&dict)).compress(&block);
        let without = Compressor::new(None).compress(&block);
        let lz4 = lz4_flex::compress_prepend_size(&block);
        assert!(with.len() < without.len() && without.len() < lz4.len());
        assert_eq!(dictionary_of(&with), Some(FIRST_ID));
        assert_eq!(dictionary_of(&without), None);

        let found = |id: u32| (id == dict.id()).then(|| dict.clone());
        assert_eq!(decompress(&with, found).unwrap(), block);
        assert_eq!(decompress(&without, |_| None).unwrap(), block);
        assert_eq!(decompress(&lz4, |_| None).unwrap(), block);
        assert!(matches!(
            decompress(&with, |_| None),
            Err(BlockError::NoDictionary(FIRST_ID))
        ));
        let reloaded = Dictionary::from_bytes(dict.bytes().to_vec()).unwrap();
        assert_eq!(reloaded.id(), FIRST_ID);
        // The magic and an id, then a header zstd cannot load.
        let mut damaged = dict.bytes()[..8].to_vec();
        damaged.extend_from_slice(&[0xff; 64]);
        assert!(Dictionary::from_bytes(damaged).is_err());
    }

    /// A thread keeps its zstd context from one file to the next; a dictionary of another
    /// store that happens to have the same id is not mistaken for the one loaded.
    #[test]
    fn each_block_names_and_needs_the_dictionary_it_was_written_with() {
        let samples = records(3_000);
        let other: Vec<Vec<u8>> = samples
            .iter()
            .map(|r| r.iter().rev().copied().collect())
            .collect();
        let a = Arc::new(Dictionary::train(&samples, 0).unwrap());
        let b = Arc::new(Dictionary::train(&other, 0).unwrap());
        assert_eq!(a.id(), b.id());
        assert_ne!(a.bytes(), b.bytes());
        let block_a: Vec<u8> = samples[..50].concat();
        let block_b: Vec<u8> = other[..50].concat();
        for _ in 0..2 {
            let with_a = Compressor::new(Some(&a)).compress(&block_a);
            let with_b = Compressor::new(Some(&b)).compress(&block_b);
            let plain = Compressor::new(None).compress(&block_a);
            assert_eq!(decompress(&with_a, |_| Some(a.clone())).unwrap(), block_a);
            assert_eq!(decompress(&with_b, |_| Some(b.clone())).unwrap(), block_b);
            assert_eq!(dictionary_of(&plain), None);
            assert_eq!(decompress(&plain, |_| None).unwrap(), block_a);
            // Read with the other store's dictionary, a block does not come back as written.
            assert_ne!(
                decompress(&with_a, |_| Some(b.clone())).ok().as_deref(),
                Some(&block_a[..])
            );
        }
    }

    fn kept(raw: &[u8], id: &str) -> Vec<u8> {
        let mut out = Vec::new();
        keep(raw, id, &mut out);
        out
    }

    #[test]
    fn a_record_is_kept_without_its_id_and_restored_as_logged() {
        let id = "8d06d2ae-8da5-4118-941d-635031c440f2";
        let raw = format!(r#"{{"eventName":"RunInstances","eventID":"{id}","readOnly":false}}"#);
        let stored = kept(raw.as_bytes(), id);
        assert_eq!(stored.len(), raw.len() - id.len() + 2);
        assert!(!stored.windows(id.len()).any(|w| w == id.as_bytes()));
        assert_eq!(restore(&stored, id).unwrap(), raw.as_bytes());
    }

    #[test]
    fn only_a_whole_quoted_id_is_elided_and_every_record_restores() {
        let id = "abcdef0123";
        for raw in [
            // Inside a longer string, then bare, then quoted twice: only a quoted one goes.
            format!(r#"{{"a":"x{id}","b":{id},"eventID":"{id}","c":"{id}"}}"#),
            // Not there at all, at the very start and at the very end.
            r#"{"a":1}"#.to_owned(),
            format!(r#""{id}""#),
            format!(r#"{{"a":"{id}"#),
            String::new(),
            // No JSON, starting with the byte that marks a reshaped record.
            format!("\0\0{id}"),
            format!("\0\"{id}\""),
        ] {
            let stored = kept(raw.as_bytes(), id);
            assert_eq!(restore(&stored, id).unwrap(), raw.as_bytes(), "{raw:?}");
        }
        // Short ids stay; an empty id never matches everything.
        for short in ["", "abc"] {
            let raw = format!(r#"{{"id":"{short}"}}"#);
            assert_eq!(kept(raw.as_bytes(), short), raw.as_bytes());
        }
        // Records of earlier releases read as stored.
        assert_eq!(restore(br#"{"a":1}"#, id).unwrap(), br#"{"a":1}"#);
    }

    #[test]
    fn damaged_kept_records_are_errors_not_panics() {
        let id = "0123456789abcdef";
        let raw = format!(r#"{{"eventID":"{id}"}}"#);
        let stored = kept(raw.as_bytes(), id);
        for cut in 0..stored.len() {
            let _ = restore(&stored[..cut], id);
        }
        assert!(restore(&[RESHAPED], id).is_err());
        assert!(restore(&[RESHAPED, 0xff, 0xff], id).is_err());
        assert!(restore(&[RESHAPED, 0x7f, b'x'], id).is_err());
        let mut overlong = vec![RESHAPED];
        overlong.extend_from_slice(&[0xff; 11]);
        assert!(restore(&overlong, id).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_record_restores(
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            id in "[ -~]{0,40}",
            at in 0usize..300,
        ) {
            // Sometimes with the id quoted inside, where the proptest put it.
            let mut with = raw.clone();
            let at = at.min(with.len());
            with.splice(at..at, format!("\"{id}\"").into_bytes());
            for raw in [raw, with] {
                let stored = kept(&raw, &id);
                proptest::prop_assert_eq!(restore(&stored, &id).unwrap(), raw);
            }
        }
    }

    #[test]
    fn too_few_samples_train_nothing() {
        assert!(Dictionary::train(&records(10), 0).is_none());
    }

    #[test]
    fn damaged_blocks_are_errors_not_panics() {
        let block = Compressor::new(None).compress(b"some evidence, some evidence");
        for cut in 0..block.len() {
            let _ = decompress(&block[..cut], |_| None);
        }
        let mut flipped = block.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0xff;
        let _ = decompress(&flipped, |_| None);
        assert!(decompress(b"", |_| None).is_err());
        // Headers that claim more than any block holds allocate nothing.
        let mut huge = vec![0xff, 0xff, 0xff, 0x7f];
        huge.extend_from_slice(b"junk");
        assert!(matches!(
            decompress(&huge, |_| None),
            Err(BlockError::Corrupt(m)) if m.contains("claiming")
        ));
        let mut frame = ZSTD_MAGIC.to_vec();
        // Frame header: single segment, an 8-byte content size of 2^40.
        frame.push(0xe0);
        frame.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(decompress(&frame, |_| None).is_err());
    }
}
