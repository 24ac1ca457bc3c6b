//! A CloudTrail digest of any bytes (and any signature text) through validation: verdicts,
//! never panics.
#![no_main]

use driftlog_audit::digest::{validate, Object, Objects, PublicKeys};
use libfuzzer_sys::fuzz_target;

struct One(Vec<u8>, String);

impl Objects for One {
    fn digests(&self) -> Result<Vec<(String, String)>, String> {
        Ok(vec![(
            "b".into(),
            "AWSLogs/1/CloudTrail-Digest/r/2026/01/01/1_CloudTrail-Digest_r_t_r_x.json.gz".into(),
        )])
    }
    fn get(&self, _bucket: &str, key: &str) -> Result<Option<Object>, String> {
        Ok(key.contains("Digest").then(|| Object {
            bytes: self.0.clone(),
            signature: Some(self.1.clone()),
            signature_algorithm: None,
        }))
    }
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let signature = String::from_utf8_lossy(&data[split.min(data.len())..]).into_owned();
    let _ = validate(
        &One(data[..split].to_vec(), signature),
        &PublicKeys::default(),
    );
    let _ = PublicKeys::from_list_public_keys(&String::from_utf8_lossy(data));
});
