//! Any `.tf` text through the `backend "s3"` reader: an error or a backend, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Some(b)) = driftlog_terraform::backend::parse_s3_backend("main.tf", text) {
        let _ = b.state_location("default");
        let _ = b.state_location("prod");
    }
});
