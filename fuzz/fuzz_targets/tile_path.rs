//! Any text as the path after `/ledger/tile/` (what any HTTP client may send): a tile or
//! nothing, never a panic or an overflow; and a path that parses is the one spelling of its
//! tile.
#![no_main]

use driftlog_ledger::tiles::{index_path, TilePath};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(tile) = TilePath::parse(text) else {
        return;
    };
    let (head, index, width) = match tile {
        TilePath::Hashes {
            level,
            index,
            width,
        } => (level.to_string(), index, width),
        TilePath::Entries { index, width } => ("entries".to_owned(), index, width),
    };
    let mut again = format!("{head}/{}", index_path(index));
    if width < 256 {
        again.push_str(&format!(".p/{width}"));
    }
    assert_eq!(again, text, "one spelling per tile");
});
