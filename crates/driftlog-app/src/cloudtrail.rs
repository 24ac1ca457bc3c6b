//! CloudTrail's own integrity: validate digest chains (a local copy of the trail's bucket now;
//! S3 through the same [`Objects`] trait) and continue the chain of custody in the ledger.

use crate::record::{CloudTrailDigestEntry, Recorder};
use crate::AppError;
use driftlog_audit::digest::{validate, LocalCopy, Objects, PublicKeys, Status, Validation};
use std::path::PathBuf;

/// What to validate.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// A local copy of the trail's bucket (digests with `.sig` files beside them).
    pub path: PathBuf,
    /// `aws cloudtrail list-public-keys` output for the digests' time span.
    pub public_keys: PathBuf,
}

/// The validation, and how many digests were newly recorded in the ledger.
#[derive(Debug, Clone)]
pub struct Verified {
    pub validation: Validation,
    pub recorded: usize,
}

pub fn verify(request: &VerifyRequest, ledger: &Recorder) -> Result<Verified, AppError> {
    let text = std::fs::read_to_string(&request.public_keys).map_err(|source| AppError::Io {
        path: request.public_keys.clone(),
        what: "reading the public keys",
        source,
    })?;
    let keys = PublicKeys::from_list_public_keys(&text)
        .map_err(|e| AppError::Input(format!("{}: {e}", request.public_keys.display())))?;
    if !request.path.is_dir() {
        return Err(AppError::Input(format!(
            "{}: not a directory (a local copy of the trail's bucket, e.g. `aws s3 sync s3://BUCKET/AWSLogs DIR/AWSLogs`)",
            request.path.display()
        )));
    }
    let objects = LocalCopy::new(&request.path);
    validate_and_record(&objects, &keys, ledger)
}

/// Validate what `objects` holds and record every digest's verdict in the ledger.
pub fn validate_and_record(
    objects: &dyn Objects,
    keys: &PublicKeys,
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
