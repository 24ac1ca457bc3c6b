//! Any bytes as a stored evidence block (zstd with or without the store's dictionary, or an
//! lz4 block of an older store), as a stored dictionary, and as a record as a block keeps it
//! (without its event id): an error or records, never a panic or an allocation the block's
//! header alone asks for. Any record kept and restored again is the record.
#![no_main]

use driftlog_store::evidence::{decompress, dictionary_of, keep, restore, Compressor, Dictionary};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

/// A dictionary trained once, on records shaped like CloudTrail's.
fn dictionary() -> Arc<Dictionary> {
    static DICT: OnceLock<Arc<Dictionary>> = OnceLock::new();
    DICT.get_or_init(|| {
        let samples = driftlog_store::conformance::sample_records(2_000);
        Arc::new(Dictionary::train(&samples, 0).expect("enough samples"))
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    let d = dictionary();
    let _ = dictionary_of(data);
    let _ = decompress(data, |_| Some(d.clone()));
    let _ = decompress(data, |_| None);
    // A compressed block with the fuzzed bytes as its records reads back exactly.
    let block = Compressor::new(Some(&d)).compress(data);
    assert_eq!(decompress(&block, |_| Some(d.clone())).unwrap(), data);
    if let Ok(stored) = Dictionary::from_bytes(data.to_vec()) {
        let _ = decompress(&block, |_| Some(Arc::new(stored)));
    }
    // The first bytes (up to a quote) as the event's id, the whole input as its record.
    let cut = data
        .iter()
        .take(40)
        .position(|&b| b == b'"')
        .unwrap_or(data.len().min(40));
    let id = String::from_utf8_lossy(&data[..cut]);
    let _ = restore(data, &id);
    let mut kept = Vec::new();
    keep(data, &id, &mut kept);
    assert_eq!(restore(&kept, &id).unwrap(), data);
});
