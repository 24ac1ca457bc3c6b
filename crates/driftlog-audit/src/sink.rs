//! Where readers deliver what they find: the normalized events with their evidence, records
//! left out, and well-formed records that are no audit events. Readers and the envelope
//! dispatcher both write here; nothing here reads.

use crate::error::Rejection;
use driftlog_core::AuditEvent;

/// A normalized event and the original record it came from, kept as evidence.
#[derive(Debug, Clone)]
pub struct ParsedEvent<'r> {
    pub event: AuditEvent,
    /// The record as logged (for EventBridge and `lookup-events`, the whole envelope), borrowed
    /// from the input where possible: a sink copies it only if it keeps it.
    pub raw: std::borrow::Cow<'r, [u8]>,
}

impl ParsedEvent<'_> {
    pub fn into_owned(self) -> ParsedEvent<'static> {
        ParsedEvent {
            event: self.event,
            raw: std::borrow::Cow::Owned(self.raw.into_owned()),
        }
    }
}

/// Where readers deliver what they find.
pub trait Sink {
    fn event(&mut self, event: ParsedEvent<'_>);
    fn reject(&mut self, rejection: Rejection);
    /// A well-formed record that is not an audit event (a CloudTrail digest, a GCP log entry
    /// that is not an audit log, an EventBridge event of another kind). Not an error.
    fn ignore(&mut self, what: &'static str);
}

/// A [`Sink`] that keeps everything, for tests and small inputs.
#[derive(Debug, Default)]
pub struct Collect {
    pub events: Vec<ParsedEvent<'static>>,
    pub rejections: Vec<Rejection>,
    pub ignored: Vec<&'static str>,
}

impl Sink for Collect {
    fn event(&mut self, event: ParsedEvent<'_>) {
        self.events.push(event.into_owned());
    }
    fn reject(&mut self, rejection: Rejection) {
        self.rejections.push(rejection);
    }
    fn ignore(&mut self, what: &'static str) {
        self.ignored.push(what);
    }
}
