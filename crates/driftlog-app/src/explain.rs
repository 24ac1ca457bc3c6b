//! The explain use case: everything the audit logs say about one resource, in time order, and,
//! given the state inputs, its current drift attributed to the call that caused it.

use crate::AppError;
use driftlog_core::attribution::attribute_with_requests;
use driftlog_core::Finding;
use driftlog_store::StoredEvent;
use std::path::PathBuf;

/// One resource to explain: a Terraform address (with state inputs, or once a scan has seen
/// it), or an id, ARN or name as the logs name it.
#[derive(Debug, Clone)]
pub struct ExplainRequest {
    pub target: String,
    pub declared: Option<PathBuf>,
    pub live: Option<PathBuf>,
    pub plan: Option<PathBuf>,
    pub store: PathBuf,
}

impl ExplainRequest {
    pub fn has_state(&self) -> bool {
        self.declared.is_some() || self.plan.is_some()
    }
}

/// A resource's story.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The identifiers searched for.
    pub identifiers: Vec<String>,
    /// Every stored event naming one of them, oldest first.
    pub events: Vec<StoredEvent>,
    /// Its current drift, attributed (with state inputs, when it drifted).
    pub drift: Option<Finding>,
}

pub fn explain(request: &ExplainRequest) -> Result<Explanation, AppError> {
    let mut store = crate::stores::open_events_existing(&request.store)?;
    let (mut drift, identifiers) = if request.has_state() {
        let (finding, ids) = crate::scan::resource_in_states(
            request.declared.as_deref(),
            request.live.as_deref(),
            request.plan.as_deref(),
            &request.target,
        )?;
        store.remember_addresses(&[(request.target.as_str(), ids.as_slice())])?;
        (finding, ids)
    } else {
        // An address a scan (or an earlier `explain`) has seen stands for its identifiers.
        let mut ids = vec![request.target.clone()];
        ids.extend(store.address_identifiers(&request.target)?);
        // A Kubernetes address names its object's API path even before any scan saw it.
        if let Some(path) = driftlog_core::k8s::identifier_of_address(&request.target) {
            if !ids.contains(&path) {
                ids.push(path);
            }
        }
        (None, ids)
    };
    let events = store.events_naming(&identifiers)?;
    if let Some(f) = drift.as_mut() {
        let plain: Vec<_> = events.iter().map(|s| s.event.clone()).collect();
        let now = jiff::Timestamp::now().as_microsecond();
        let mut request_body = |i: usize| {
            store
                .raw(events[i].id)
                .ok()
                .and_then(|raw| driftlog_audit::request_body(&raw))
        };
        f.attribution = Some(attribute_with_requests(
            f,
            &identifiers,
            &plain,
            now,
            None,
            &mut request_body,
        ));
    }
    Ok(Explanation {
        identifiers,
        events,
        drift,
    })
}
