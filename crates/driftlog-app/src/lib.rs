//! driftlog's use cases, in one layer that the command line and the server both call: each
//! takes a plain request and reports through plain results, so neither front end holds logic
//! of its own.
//!
//! - [`record`]: what driftlog writes in its tamper-evident ledger (typed entry schemas) and
//!   writing it, including the per-batch commitments to stored events' contents.
//! - [`verify`]: recomputing the event store against those commitments, naming the first
//!   altered, deleted or inserted event.

pub mod record;
pub mod verify;
