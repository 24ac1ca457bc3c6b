//! Any bytes as an archived Parquet file (`driftlog verify --archive` reads each file's
//! footer for its row count): an error naming the file, or a count, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = driftlog_archive::row_count("archive/part.parquet", data.to_vec());
});
