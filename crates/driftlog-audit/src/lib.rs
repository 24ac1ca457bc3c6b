//! Readers for audit logs: AWS CloudTrail (S3 delivery files, single records, JSON lines,
//! EventBridge envelopes, `aws cloudtrail lookup-events` output), Kubernetes audit logs, GCP
//! Cloud Audit Logs and the Azure Activity Log, all normalized to
//! [`driftlog_core::AuditEvent`].
//!
//! The format is recognised from the content, never from the file name, and gzip from its magic
//! bytes. One bad record never costs the others: [`read`] reports it to the [`Sink`] with its
//! position and goes on. A file that cannot be decoded at all (corrupt gzip, a JSON document cut
//! short) is an [`Err`] and none of its events should be kept.
//!
//! ```
//! use driftlog_audit::{read, Collect};
//!
//! let line = br#"{"eventVersion":"1.08","eventID":"e1","eventTime":"2024-11-04T09:00:00Z",
//!   "eventSource":"ec2.amazonaws.com","eventName":"CreateTags","awsRegion":"eu-west-1",
//!   "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice"},
//!   "userAgent":"aws-cli/2.15.0","requestParameters":{"resourcesSet":{"items":[{"resourceId":"i-0abc"}]}}}"#;
//! let mut out = Collect::default();
//! read(&line[..], &mut out).unwrap();
//! let event = &out.events[0].event;
//! assert_eq!(event.actor.kind.as_str(), "cli");
//! assert!(event.resources.contains(&"i-0abc".to_string()));
//! ```

mod azure;
mod cloudtrail;
mod container;
pub mod created;
pub mod digest;
mod error;
mod fields;
mod gcp;
mod kubernetes;
mod reader;
mod refs;
mod request;
mod sink;

pub use container::UNRECOGNISED;
pub use error::{FileError, Location, Rejection};
pub use reader::{is_gzip, read, read_path};
pub use request::{kubernetes_request, request_body};
pub use sink::{Collect, ParsedEvent, Sink};
