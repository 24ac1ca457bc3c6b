//! Any bytes as a stored evidence block (zstd with or without the store's dictionary, or an
//! lz4 block of an older store) and as a stored dictionary: an error or records, never a
//! panic or an allocation the block's header alone asks for.
#![no_main]

use driftlog_store::evidence::{decompress, dictionary_of, Compressor, Dictionary};
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
});
