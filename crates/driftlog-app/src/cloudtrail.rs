//! CloudTrail's own integrity: validate digest chains (a local copy of the trail's bucket now;
//! S3 through the same [`Objects`] trait) and continue the chain of custody in the ledger.

use crate::record::{CloudTrailDigestEntry, Recorder};
use crate::AppError;
use driftlog_audit::digest::{
    validate, KeySource, LocalCopy, Objects, PublicKeys, RsaPublicKey, Status, Validation,
};
use std::path::PathBuf;

/// What to validate.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// `s3://BUCKET/PREFIX` of the trail (signatures from the digests' metadata), or a local
    /// copy of it (digests with `.sig` files beside them).
    pub path: PathBuf,
    /// `aws cloudtrail list-public-keys` output for the digests' time span (offline); `None`:
    /// ask CloudTrail's `ListPublicKeys` in each digest's region.
    pub public_keys: Option<PathBuf>,
    pub aws: driftlog_aws::AwsOptions,
}

/// The validation, and how many digests were newly recorded in the ledger.
#[derive(Debug, Clone)]
pub struct Verified {
    pub validation: Validation,
    pub recorded: usize,
}

pub fn verify(request: &VerifyRequest, ledger: &Recorder) -> Result<Verified, AppError> {
    let keys = key_source(request.public_keys.as_deref(), &request.aws)?;
    let objects = trail_objects(&request.path, &request.aws)?;
    validate_and_record(objects.as_ref(), keys.as_ref(), ledger)
}

/// The public keys: from a `list-public-keys` file, else CloudTrail's `ListPublicKeys`.
fn key_source(
    public_keys: Option<&std::path::Path>,
    aws: &driftlog_aws::AwsOptions,
) -> Result<Box<dyn KeySource>, AppError> {
    Ok(match public_keys {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| AppError::Io {
                path: path.to_owned(),
                what: "reading the public keys",
                source,
            })?;
            Box::new(
                PublicKeys::from_list_public_keys(&text)
                    .map_err(|e| AppError::Input(format!("{}: {e}", path.display())))?,
            )
        }
        None => Box::new(ListedKeys {
            aws: aws.clone(),
            by_region: std::sync::Mutex::new(std::collections::HashMap::new()),
        }),
    })
}

/// A trail's objects: `s3://BUCKET/PREFIX`, or a local copy of the bucket (the folder holding
/// `AWSLogs/`, or `AWSLogs/` itself or a folder inside it).
fn trail_objects(
    path: &std::path::Path,
    aws: &driftlog_aws::AwsOptions,
) -> Result<Box<dyn Objects>, AppError> {
    let location = path.to_string_lossy();
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let s3 = driftlog_aws::S3::connect(aws).map_err(|e| AppError::Input(e.to_string()))?;
        return Ok(Box::new(S3Trail {
            s3,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        }));
    }
    if !path.is_dir() {
        return Err(AppError::Input(format!(
            "{}: not a directory (a local copy of the trail's bucket, e.g. `aws s3 sync s3://BUCKET/AWSLogs DIR/AWSLogs`)",
            path.display()
        )));
    }
    // Keys start at `AWSLogs/`: the copy's root is the folder above it.
    let root = path
        .ancestors()
        .find(|a| a.join("AWSLogs").is_dir())
        .unwrap_or(path);
    Ok(Box::new(LocalCopy::new(root)))
}

/// What `ingest --verify-digests` acts on: the digests under `path` validated, the log files
/// a digest says were altered (refused) and those a valid digest vouches for.
pub fn digest_gate(
    paths: &[&std::path::Path],
    public_keys: Option<&std::path::Path>,
    aws: &driftlog_aws::AwsOptions,
) -> Result<driftlog_ingest::DigestGate, AppError> {
    let keys = key_source(public_keys, aws)?;
    let mut gate = driftlog_ingest::DigestGate::default();
    for path in paths {
        let objects = trail_objects(path, aws)?;
        let validation = validate(objects.as_ref(), keys.as_ref()).map_err(AppError::Input)?;
        for d in &validation.digests {
            for (key, why) in &d.logs_invalid {
                gate.refused.insert(key.clone(), why.clone());
            }
            // Hashes are checked only once the digest's signature verified: a signed digest
            // vouches for each file whose hash matches, whatever its siblings' fate.
            gate.intact.extend(d.logs_intact.iter().cloned());
        }
    }
    Ok(gate)
}

/// Keys from CloudTrail's `ListPublicKeys`, asked once per region (and again for a digest older
/// than what was asked), from the digest's start to now. A region that cannot be asked leaves
/// its digests "no public key", with the reason logged.
struct ListedKeys {
    aws: driftlog_aws::AwsOptions,
    /// Per region: the earliest start asked for, and the keys.
    by_region: std::sync::Mutex<std::collections::HashMap<String, (i64, PublicKeys)>>,
}

impl KeySource for ListedKeys {
    fn key(&self, region: &str, fingerprint: &str, start: &str) -> Option<RsaPublicKey> {
        let start_s = driftlog_core::time::parse_time_us(start).map_or(0, |us| us / 1_000_000);
        // A day of slack: keys rotate on their own schedule.
        let from = start_s - 86_400;
        let mut map = self.by_region.lock().ok()?;
        if let Some((asked, keys)) = map.get(region) {
            if let Some(k) = keys.key(region, fingerprint, start) {
                return Some(k);
            }
            if *asked <= from {
                return None;
            }
        }
        let now = jiff::Timestamp::now().as_second();
        let listed = match driftlog_aws::list_public_keys(&self.aws, region, from, now) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(region, error = %e, "ListPublicKeys failed");
                return None;
            }
        };
        let entry = map
            .entry(region.to_owned())
            .or_insert_with(|| (from, PublicKeys::default()));
        entry.0 = entry.0.min(from);
        for (f, der) in listed {
            if let Err(e) = entry.1.insert_der(&f, &der) {
                tracing::warn!(region, error = %e, "a listed public key is unusable");
            }
        }
        entry.1.key(region, fingerprint, start)
    }
}

/// Validate what `objects` holds and record every digest's verdict in the ledger.
pub fn validate_and_record(
    objects: &dyn Objects,
    keys: &dyn KeySource,
    ledger: &Recorder,
) -> Result<Verified, AppError> {
    let validation = validate(objects, keys).map_err(AppError::Input)?;
    if validation.digests.is_empty() {
        return Err(AppError::Input(
            "no CloudTrail digest files found (…/CloudTrail-Digest/REGION/YYYY/MM/DD/*_CloudTrail-Digest_*.json.gz)".into(),
        ));
    }
    let entries = validation
        .digests
        .iter()
        .map(|d| CloudTrailDigestEntry {
            account: d.account.clone(),
            region: d.region.clone(),
            bucket: d.bucket.clone(),
            key: d.key.clone(),
            end: d.end.clone(),
            sha256: d.sha256.clone(),
            signature: d.signature.clone(),
            logs_valid: d.logs_valid as u64,
            valid: d.status == Status::Valid,
            reason: match &d.status {
                Status::Valid => None,
                Status::Invalid { reason } => Some(reason.clone()),
            },
        })
        .collect();
    let recorded = ledger
        .cloudtrail_digests(entries)
        .map_err(|e| AppError::recording("the validated digests", e))?;
    Ok(Verified {
        validation,
        recorded,
    })
}

/// A trail's bucket in S3: digests listed under the prefix, their signatures from the object
/// metadata CloudTrail writes (`x-amz-meta-signature`, `x-amz-meta-signature-algorithm`).
struct S3Trail {
    s3: driftlog_aws::S3,
    bucket: String,
    prefix: String,
}

impl Objects for S3Trail {
    fn digests(&self) -> Result<Vec<(String, String)>, String> {
        let listed = self
            .s3
            .objects(&self.bucket, &self.prefix)
            .map_err(|e| e.to_string())?;
        Ok(listed
            .into_iter()
            .filter(|o| driftlog_audit::digest::is_digest_key(&o.key))
            .map(|o| (self.bucket.clone(), o.key))
            .collect())
    }

    fn get(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<driftlog_audit::digest::Object>, String> {
        Ok(self
            .s3
            .get(bucket, key)
            .map_err(|e| e.to_string())?
            .map(|(bytes, metadata)| driftlog_audit::digest::Object {
                bytes,
                signature: metadata.get("signature").cloned(),
                signature_algorithm: metadata.get("signature-algorithm").cloned(),
            }))
    }
}
