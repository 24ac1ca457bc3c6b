//! The model and the pure drift engine of driftlog.
//!
//! Readers (`driftlog-terraform`, later Kubernetes and CloudFormation) turn outside formats into
//! [`ResourceInstance`]s or matched before/after pairs; this crate decides what drifted and why
//! some differences are *not* drift, and describes the result as a [`ScanReport`] that every sink
//! renders. Nothing here does I/O, so every rule is unit-testable on plain values.
//!
//! ```
//! use driftlog_core::{diff::diff_attributes, sensitive::SensitiveMask};
//! use serde_json::json;
//!
//! let declared = json!({"instance_type": "t3.large", "tags": {"Owner": "platform"}});
//! let live = json!({"instance_type": "t3.small", "tags": {"Owner": "platform"}});
//! let outcome = diff_attributes("aws_instance", &declared, &live, &SensitiveMask::None);
//! assert_eq!(outcome.changes[0].path, "instance_type");
//! ```

pub mod address;
pub mod attribution;
pub mod cause;
pub mod compare;
pub mod diff;
pub mod engine;
pub mod event;
pub mod finding;
pub mod glob;
pub mod ignore;
pub mod integrity;
pub mod k8s;
pub mod normalize;
pub mod path;
pub mod remediate;
pub mod report;
pub mod sensitive;
pub mod text;
pub mod time;

pub use engine::{compare_instances, EngineError, ResourceInstance};
pub use event::{Actor, ActorKind, AuditEvent, Outcome, Principal, Source};
pub use finding::{Change, Finding, FindingKind, PendingChange, SuppressedChange};
pub use report::{ScanReport, Summary};
