//! Any text as a signed checkpoint (`ledger prove --checkpoint`, `ledger consistency`): note
//! splitting, signature lines, checkpoint fields, and keys.
#![no_main]

use driftlog_ledger::note::{Checkpoint, SignerKey, VerifierKey};
use libfuzzer_sys::fuzz_target;

const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let verifier = VerifierKey::parse(VKEY).unwrap();
    if let Ok(signed) = verifier.open(text) {
        let _ = Checkpoint::parse(signed);
    }
    let _ = Checkpoint::parse(text);
    let _ = VerifierKey::parse(text);
    let _ = SignerKey::parse(text);
});
