//! The results of checking a log producer's own integrity record (CloudTrail digest chains):
//! plain model types that the checker (`driftlog_audit::digest`) fills and every report shows.

/// What was found about one digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    Valid,
    /// The digest, or a log file it lists, fails a check.
    Invalid {
        reason: String,
    },
}

/// One digest's result, with its place in time and its chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DigestResult {
    pub account: String,
    pub region: String,
    pub bucket: String,
    pub key: String,
    pub start: String,
    pub end: String,
    #[serde(flatten)]
    pub status: Status,
    /// Log files checked and found intact.
    pub logs_valid: usize,
    /// Log files that are missing or altered: `(key, why)`.
    pub logs_invalid: Vec<(String, String)>,
    /// The keys of the intact log files (for `ingest --verify-digests`; not in reports).
    #[serde(skip)]
    pub logs_intact: Vec<String>,
    /// The SHA-256 of the digest's uncompressed bytes (for the ledger).
    pub sha256: String,
    pub signature: Option<String>,
}

/// A break in a chain: before `after` (a digest key), `kind` is `gap` (no previous digest:
/// validation or logging was off) or `missing` (the previous digest it names is absent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainBreak {
    pub account: String,
    pub region: String,
    pub kind: &'static str,
    pub after: String,
    /// The digest that should be there (missing), or the time the gap ends at.
    pub detail: String,
}

/// Everything validation found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Validation {
    pub digests: Vec<DigestResult>,
    pub breaks: Vec<ChainBreak>,
}

impl Validation {
    pub fn valid(&self) -> usize {
        self.digests
            .iter()
            .filter(|d| d.status == Status::Valid && d.logs_invalid.is_empty())
            .count()
    }

    pub fn invalid(&self) -> usize {
        self.digests.len() - self.valid()
    }

    /// Any invalid digest or log file, or a missing digest (a gap alone is not tampering).
    pub fn failed(&self) -> bool {
        self.invalid() > 0 || self.breaks.iter().any(|b| b.kind == "missing")
    }
}
