//! The events use case: search the event store with the filters of `driftlog events`, times
//! in the one time grammar, globs in the one glob dialect.

use crate::AppError;
use driftlog_core::time::{self, Bound, Direction};
use driftlog_core::{ActorKind, Source};
use driftlog_store::{EventQuery, StoredEvent};
use std::ops::ControlFlow;
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
    pub listed: Listed,
    /// When `resource` is a Terraform address a scan reported: the identifiers it stands for.
    pub address_identifiers: Vec<String>,
}

/// Events of a search, oldest first, as the store made them (a batch is handed on without
/// being copied: a long listing's batches are megabytes), and (when `raw`) each one's original
/// record.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    pub events: Vec<StoredEvent>,
    /// With `raw`, the original record of each event, in the same order; otherwise empty.
    pub raw: Vec<String>,
}

impl Listed {
    /// Each event, with its original record when it was read.
    pub fn iter(&self) -> impl Iterator<Item = (&StoredEvent, Option<&str>)> {
        self.events
            .iter()
            .enumerate()
            .map(|(i, e)| (e, self.raw.get(i).map(String::as_str)))
    }
}

/// Search the store, every match at once.
pub fn search(request: &EventsRequest) -> Result<Found, AppError> {
    let mut listed = Listed::default();
    let address_identifiers = search_each(request, &mut |batch| {
        listed.events.extend(batch.events);
        listed.raw.extend(batch.raw);
        ControlFlow::Continue(())
    })?;
    Ok(Found {
        listed,
        address_identifiers,
    })
}

/// Search the store, handing the matches to `each` a batch at a time, oldest first, as the
/// store reads them, until it answers `Break`: a listing of a hundred thousand events starts
/// printing at once and never holds them all. Returns what [`Found::address_identifiers`]
/// holds.
pub fn search_each(
    request: &EventsRequest,
    each: &mut dyn FnMut(Listed) -> ControlFlow<()>,
) -> Result<Vec<String>, AppError> {
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
    let address_identifiers = match &request.resource {
        Some(resource) => store.address_identifiers(resource)?,
        None => Vec::new(),
    };
    // A record that cannot be read ends the listing; the error is the answer.
    let mut unreadable = None;
    store.query_each(&query, &mut |events| {
        let mut raw = Vec::new();
        if request.raw {
            raw.reserve(events.len());
            for e in &events {
                match store.raw(e.id) {
                    Ok(record) => raw.push(String::from_utf8_lossy(&record).into_owned()),
                    Err(error) => {
                        unreadable = Some(error);
                        return ControlFlow::Break(());
                    }
                }
            }
        }
        each(Listed { events, raw })
    })?;
    match unreadable {
        Some(error) => Err(error.into()),
        None => Ok(address_identifiers),
    }
}
