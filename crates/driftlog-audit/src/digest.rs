//! CloudTrail's own integrity chain: digest files, validated exactly as
//! `aws cloudtrail validate-logs` does (see `../shared/notes/cloudtrail-digest.md`).
//!
//! Every hour CloudTrail writes, per region, a digest that lists the log files it delivered
//! with their SHA-256, signs it with RSA (SHA256withRSA) and chains it to the previous digest
//! by that digest's signature. The signature lives in the digest object's S3 metadata
//! (`x-amz-meta-signature`), so a checker needs each digest's bytes *and* its signature, which
//! [`Objects`] provides from S3 or from a local copy with `.sig` files beside the digests.
//!
//! What is checked, per digest: it was not moved (its recorded bucket and key are where it
//! is), its signature verifies with the public key whose fingerprint it names, its
//! `previousDigestSignature` equals the previous digest's signature, and every log file it
//! lists exists and hashes to the recorded value. A digest with no previous one is a gap
//! (logging or validation was off), a previous digest that is referenced but absent is
//! missing.

use flate2::read::MultiGzDecoder;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
pub use rsa::RsaPublicKey;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;

pub use driftlog_core::integrity::{ChainBreak, DigestResult, Status, Validation};

/// One digest file's fields (the ones validation uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestFile {
    pub aws_account_id: String,
    pub digest_start_time: String,
    pub digest_end_time: String,
    pub digest_s3_bucket: String,
    pub digest_s3_object: String,
    pub digest_public_key_fingerprint: String,
    #[serde(default)]
    pub digest_signature_algorithm: Option<String>,
    #[serde(default)]
    pub previous_digest_s3_bucket: Option<String>,
    #[serde(default)]
    pub previous_digest_s3_object: Option<String>,
    #[serde(default)]
    pub previous_digest_signature: Option<String>,
    #[serde(default)]
    pub log_files: Vec<LogFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogFile {
    pub s3_bucket: String,
    pub s3_object: String,
    pub hash_value: String,
    #[serde(default)]
    pub hash_algorithm: Option<String>,
}

/// An object as stored: its bytes (gzip for digests and logs) and, for digests, the signature
/// from its metadata.
#[derive(Debug, Clone, Default)]
pub struct Object {
    pub bytes: Vec<u8>,
    pub signature: Option<String>,
    pub signature_algorithm: Option<String>,
}

/// Where digests and log files are read from: S3, or a local copy.
pub trait Objects: Sync {
    /// Every digest object, as `(bucket, key)`.
    fn digests(&self) -> Result<Vec<(String, String)>, String>;
    /// One object; `Ok(None)` when it does not exist.
    fn get(&self, bucket: &str, key: &str) -> Result<Option<Object>, String>;
}

/// Public keys by fingerprint, from `ListPublicKeys`.
#[derive(Debug, Clone, Default)]
pub struct PublicKeys {
    keys: HashMap<String, RsaPublicKey>,
}

impl PublicKeys {
    /// Add a key: its fingerprint and its DER PKCS#1 `RSAPublicKey`.
    pub fn insert_der(&mut self, fingerprint: &str, der: &[u8]) -> Result<(), String> {
        let key = RsaPublicKey::from_pkcs1_der(der)
            .map_err(|e| format!("public key {fingerprint}: not a DER PKCS#1 RSA key: {e}"))?;
        self.keys.insert(fingerprint.to_ascii_lowercase(), key);
        Ok(())
    }

    /// The output of `aws cloudtrail list-public-keys` (`{"PublicKeyList": [{"Value":
    /// base64, "Fingerprint": hex, …}]}`).
    pub fn from_list_public_keys(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct List {
            public_key_list: Vec<Key>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Key {
            value: String,
            fingerprint: String,
        }
        let list: List = serde_json::from_str(text)
            .map_err(|e| format!("not `aws cloudtrail list-public-keys` output: {e}"))?;
        let mut keys = Self::default();
        for k in list.public_key_list {
            use base64::Engine;
            let der = base64::engine::general_purpose::STANDARD
                .decode(k.value.trim())
                .map_err(|e| format!("public key {}: value is not base64: {e}", k.fingerprint))?;
            keys.insert_der(&k.fingerprint, &der)?;
        }
        Ok(keys)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn get(&self, fingerprint: &str) -> Option<&RsaPublicKey> {
        self.keys.get(&fingerprint.to_ascii_lowercase())
    }
}

/// Where the public key a digest names comes from: a `list-public-keys` file, or CloudTrail's
/// `ListPublicKeys` asked per region (keys are regional) for the digest's time.
pub trait KeySource: Sync {
    /// The key with `fingerprint` that signed a digest of `region` starting at `start`
    /// (RFC 3339).
    fn key(&self, region: &str, fingerprint: &str, start: &str) -> Option<RsaPublicKey>;
}

impl KeySource for PublicKeys {
    fn key(&self, _region: &str, fingerprint: &str, _start: &str) -> Option<RsaPublicKey> {
        self.get(fingerprint).cloned()
    }
}

/// The string CloudTrail signs: end time, the digest's location, the SHA-256 of its
/// (uncompressed) bytes, and the previous digest's signature (`null` when there is none).
pub fn string_to_sign(d: &DigestFile, digest_bytes: &[u8]) -> String {
    format!(
        "{}\n{}/{}\n{}\n{}",
        d.digest_end_time,
        d.digest_s3_bucket,
        d.digest_s3_object,
        hex::encode(Sha256::digest(digest_bytes)),
        d.previous_digest_signature.as_deref().unwrap_or("null")
    )
}

/// Whether `signature_hex` is `key`'s SHA256withRSA (PKCS#1 v1.5) signature of `message`.
pub fn signature_verifies(key: &RsaPublicKey, message: &[u8], signature_hex: &str) -> bool {
    let Ok(bytes) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(key.clone())
        .verify(message, &signature)
        .is_ok()
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| format!("not valid gzip: {e}"))?;
    Ok(out)
}

/// The region of a digest key (`…/CloudTrail-Digest/REGION/YYYY/…`).
fn region_of(key: &str) -> String {
    let mut parts = key.split('/');
    while let Some(p) = parts.next() {
        if p == "CloudTrail-Digest" {
            return parts.next().unwrap_or("").to_owned();
        }
    }
    String::new()
}

/// Validate every digest `objects` has and their chains.
pub fn validate(objects: &dyn Objects, keys: &dyn KeySource) -> Result<Validation, String> {
    use rayon::prelude::*;
    let listed = objects.digests()?;
    // Each digest checked on its own (in parallel: log files are hashed), then chained.
    let checked: Vec<(DigestResult, Option<DigestFile>)> = listed
        .par_iter()
        .map(|(bucket, key)| check_one(objects, keys, bucket, key))
        .collect::<Result<_, String>>()?;
    let mut out = Validation::default();
    let by_location: BTreeMap<(String, String), usize> = checked
        .iter()
        .enumerate()
        .map(|(i, (r, _))| ((r.bucket.clone(), r.key.clone()), i))
        .collect();
    let mut verdicts: Vec<DigestResult> = checked.iter().map(|(r, _)| r.clone()).collect();
    // Whether a readable digest of the same account and region is older than this one: a
    // break before the oldest digest listed is only where the copy starts.
    let older_listed = |result: &DigestResult| {
        checked.iter().any(|(r, p)| {
            p.is_some()
                && r.account == result.account
                && r.region == result.region
                && r.end < result.end
        })
    };
    for (i, (result, parsed)) in checked.iter().enumerate() {
        let Some(d) = parsed else { continue };
        match (&d.previous_digest_s3_bucket, &d.previous_digest_s3_object) {
            (Some(pb), Some(pk)) if !pb.is_empty() && !pk.is_empty() => {
                match by_location.get(&(pb.clone(), pk.clone())) {
                    Some(&j) => {
                        // The chain: this digest's record of the previous signature must be
                        // that digest's signature.
                        let recorded = d.previous_digest_signature.as_deref().unwrap_or("null");
                        let actual = checked[j].0.signature.as_deref().unwrap_or("");
                        if !recorded.eq_ignore_ascii_case(actual)
                            && verdicts[i].status == Status::Valid
                        {
                            verdicts[i].status = Status::Invalid {
                                reason: format!(
                                    "previousDigestSignature does not match the signature of the previous digest {pk}"
                                ),
                            };
                        }
                    }
                    None => {
                        // Absent here: missing unless it is older than anything listed (the
                        // start of what was copied).
                        if older_listed(result) {
                            out.breaks.push(ChainBreak {
                                account: result.account.clone(),
                                region: result.region.clone(),
                                kind: "missing",
                                after: result.key.clone(),
                                detail: format!("s3://{pb}/{pk}"),
                            });
                        }
                    }
                }
            }
            _ => {
                if older_listed(result) {
                    out.breaks.push(ChainBreak {
                        account: result.account.clone(),
                        region: result.region.clone(),
                        kind: "gap",
                        after: result.key.clone(),
                        detail: format!("no digest before {}", d.digest_start_time),
                    });
                }
            }
        }
    }
    verdicts.sort_by(|a, b| {
        (&a.account, &a.region, &a.end, &a.key).cmp(&(&b.account, &b.region, &b.end, &b.key))
    });
    out.digests = verdicts;
    out.breaks
        .sort_by(|a, b| (&a.account, &a.region, &a.after).cmp(&(&b.account, &b.region, &b.after)));
    Ok(out)
}

fn check_one(
    objects: &dyn Objects,
    keys: &dyn KeySource,
    bucket: &str,
    key: &str,
) -> Result<(DigestResult, Option<DigestFile>), String> {
    let mut result = DigestResult {
        account: String::new(),
        region: region_of(key),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        start: String::new(),
        end: String::new(),
        status: Status::Valid,
        logs_valid: 0,
        logs_invalid: Vec::new(),
        logs_intact: Vec::new(),
        sha256: String::new(),
        signature: None,
    };
    let invalid = |mut r: DigestResult, reason: String| {
        r.status = Status::Invalid { reason };
        Ok((r, None))
    };
    let Some(object) = objects.get(bucket, key)? else {
        return invalid(result, "listed but cannot be read".into());
    };
    result.signature = object.signature.clone();
    let bytes = match gunzip(&object.bytes) {
        Ok(b) => b,
        Err(e) => return invalid(result, e),
    };
    result.sha256 = hex::encode(Sha256::digest(&bytes));
    let d: DigestFile = match serde_json::from_slice(&bytes) {
        Ok(d) => d,
        Err(e) => return invalid(result, format!("not a CloudTrail digest: {e}")),
    };
    result.account = d.aws_account_id.clone();
    result.start = d.digest_start_time.clone();
    result.end = d.digest_end_time.clone();
    let parsed = Some(d.clone());
    let fail = |mut r: DigestResult, reason: String| {
        r.status = Status::Invalid { reason };
        Ok((r, parsed.clone()))
    };
    if d.digest_s3_bucket != bucket || d.digest_s3_object != key {
        return fail(
            result,
            format!(
                "moved: it records s3://{}/{}",
                d.digest_s3_bucket, d.digest_s3_object
            ),
        );
    }
    let Some(signature) = object.signature.as_deref() else {
        return fail(
            result,
            "no signature (x-amz-meta-signature, or a .sig file beside a local copy)".into(),
        );
    };
    if let Some(alg) = object
        .signature_algorithm
        .as_deref()
        .or(d.digest_signature_algorithm.as_deref())
    {
        if alg != "SHA256withRSA" {
            return fail(result, format!("unsupported signature algorithm {alg}"));
        }
    }
    let Some(public) = keys.key(
        &result.region,
        &d.digest_public_key_fingerprint,
        &d.digest_start_time,
    ) else {
        return fail(
            result,
            format!(
                "no public key with fingerprint {} (ListPublicKeys for the digest's time, or --public-keys)",
                d.digest_public_key_fingerprint
            ),
        );
    };
    if !signature_verifies(&public, string_to_sign(&d, &bytes).as_bytes(), signature) {
        return fail(
            result,
            "signature does not verify: the digest was altered or signed with another key".into(),
        );
    }
    for log in &d.log_files {
        let problem = match objects.get(&log.s3_bucket, &log.s3_object)? {
            None => Some("missing".to_owned()),
            Some(o) => match gunzip(&o.bytes) {
                Err(e) => Some(e),
                Ok(plain) => {
                    let hash = hex::encode(Sha256::digest(&plain));
                    (!hash.eq_ignore_ascii_case(&log.hash_value)).then(|| {
                        format!(
                            "altered: SHA-256 {hash}, the digest recorded {}",
                            log.hash_value
                        )
                    })
                }
            },
        };
        match problem {
            None => {
                result.logs_valid += 1;
                result.logs_intact.push(log.s3_object.clone());
            }
            Some(why) => result.logs_invalid.push((log.s3_object.clone(), why)),
        }
    }
    if let Some((first, why)) = result.logs_invalid.first() {
        let reason = format!(
            "{} of {} log files fail: {first}: {why}",
            result.logs_invalid.len(),
            d.log_files.len()
        );
        result.status = Status::Invalid { reason };
    }
    Ok((result, parsed))
}

/// A local copy of a trail's bucket (`aws s3 sync s3://BUCKET/ DIR`): keys are paths under the
/// directory. S3 metadata does not survive a copy, so each digest's signature is read from a
/// `.sig` file beside it (hex, as `x-amz-meta-signature` holds it). A copy cannot tell which
/// bucket it came from: a digest's recorded bucket is taken as its own, and its key is checked.
pub struct LocalCopy {
    root: std::path::PathBuf,
}

impl LocalCopy {
    pub fn new(root: &std::path::Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    fn key_of(&self, path: &std::path::Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        Some(
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
}

/// Whether a key names a digest file (backfill digests included).
pub fn is_digest_key(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    name.contains("_CloudTrail-Digest_") && (name.ends_with(".json.gz") || name.ends_with(".json"))
}

impl Objects for LocalCopy {
    fn digests(&self) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for entry in entries {
                let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Some(key) = self.key_of(&path) else {
                    continue;
                };
                if !is_digest_key(&key) {
                    continue;
                }
                // The bucket a digest records: all a local copy can offer.
                let bucket = std::fs::read(&path)
                    .ok()
                    .and_then(|b| gunzip(&b).ok())
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .and_then(|v| v["digestS3Bucket"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                out.push((bucket, key));
            }
        }
        out.sort();
        Ok(out)
    }

    fn get(&self, _bucket: &str, key: &str) -> Result<Option<Object>, String> {
        if key.split('/').any(|part| part == ".." || part.is_empty()) {
            return Ok(None);
        }
        let path = self.root.join(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let mut sig = path.clone().into_os_string();
        sig.push(".sig");
        let signature = std::fs::read_to_string(std::path::PathBuf::from(sig))
            .ok()
            .map(|s| s.trim().to_owned());
        Ok(Some(Object {
            bytes,
            signature,
            signature_algorithm: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// aws-cli's own vector (tests/unit/customizations/cloudtrail/test_validation.py).
    #[test]
    fn string_to_sign_matches_aws_cli() {
        let d = DigestFile {
            aws_account_id: "1".into(),
            digest_start_time: "s".into(),
            digest_end_time: "a".into(),
            digest_s3_bucket: "b".into(),
            digest_s3_object: "c".into(),
            digest_public_key_fingerprint: "f".into(),
            digest_signature_algorithm: None,
            previous_digest_s3_bucket: None,
            previous_digest_s3_object: None,
            previous_digest_signature: None,
            log_files: vec![],
        };
        assert_eq!(
            string_to_sign(&d, b"abc"),
            "a\nb/c\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\nnull"
        );
    }

    #[test]
    fn regions_come_from_the_key() {
        assert_eq!(
            region_of("AWSLogs/o-1/123456789012/CloudTrail-Digest/eu-west-1/2026/11/20/x.json.gz"),
            "eu-west-1"
        );
    }
}
