//! The events use case: search the event store with the filters of `driftlog events`, times
//! in the one time grammar, globs in the one glob dialect.

use crate::AppError;
use driftlog_core::time::{self, Bound, Direction};
use driftlog_core::{ActorKind, Source};
use driftlog_store::{EventQuery, StoredEvent};
use std::path::PathBuf;

/// The filters as a user writes them; every one that is set must match.
#[derive(Debug, Clone, Default)]
pub struct EventsRequest {
    pub store: PathBuf,
    pub resource: Option<String>,
    pub principal: Option<String>,
    pub action: Option<String>,
    pub actor_kind: Option<ActorKind>,
    pub source: Option<Source>,
    /// Times in the grammar of `driftlog_core::time` (`7d`, a date, RFC 3339).
    pub since: Option<String>,
    pub until: Option<String>,
    pub writes_only: bool,
    pub limit: Option<u64>,
    /// Read each event's original record too.
    pub raw: bool,
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct Found {
    /// Oldest first; with `raw`, each with its original record.
    pub events: Vec<(StoredEvent, Option<String>)>,
    /// When `resource` is a Terraform address a scan reported: the identifiers it stands for.
    pub address_identifiers: Vec<String>,
}

pub fn search(request: &EventsRequest) -> Result<Found, AppError> {
    let store = crate::stores::open_events_existing(&request.store)?;
    let now = jiff::Timestamp::now();
    let when = |text: &Option<String>, bound, option| {
        text.as_deref()
            .map(|t| time::parse(t, now, bound, Direction::Past).map(|t| t.us))
            .transpose()
            .map_err(|source| AppError::Time { option, source })
    };
    let query = EventQuery {
        resource: request.resource.clone(),
        principal: request.principal.clone(),
        action: request.action.clone(),
        actor_kind: request.actor_kind,
        source: request.source,
        since_us: when(&request.since, Bound::Start, "--since")?,
        until_us: when(&request.until, Bound::End, "--until")?,
        writes_only: request.writes_only,
        limit: request.limit,
    };
    let found = store.query(&query)?;
    let address_identifiers = match &request.resource {
        Some(resource) => store.address_identifiers(resource)?,
        None => Vec::new(),
    };
    let mut events = Vec::with_capacity(found.len());
    for e in found {
        let raw = if request.raw {
            Some(String::from_utf8_lossy(&store.raw(e.id)?).into_owned())
        } else {
            None
        };
        events.push((e, raw));
    }
    Ok(Found {
        events,
        address_identifiers,
    })
}
