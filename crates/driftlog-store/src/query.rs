//! Reading events back: the filters of `driftlog events`. Resource, principal and action
//! filters start from their posting lists (see `postings`), time ranges from the identity
//! index; the other filters are SQL clauses on those candidates.

use crate::resource_lists::StoredResources;
use crate::shapes::Shape;
use crate::texts::{self, StoredText, Table};
use crate::{postings, schema, Store, StoreError};
use driftlog_core::glob::Glob;
use driftlog_core::{Actor, ActorKind, AuditEvent, Outcome, Principal, Source};
use rusqlite::types::Value;
use rusqlite::Row;
use rustc_hash::FxHashMap;
use std::ops::ControlFlow;

/// Filters; every one that is set must match.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// An id, ARN, name, URL or Kubernetes path the event names (any of its spellings), or a
    /// glob ([`driftlog_core::glob`]) over them.
    pub resource: Option<String>,
    /// The acting principal or the role/user it assumed (exact, or a glob).
    pub principal: Option<String>,
    /// The action name (exact, or a glob).
    pub action: Option<String>,
    pub actor_kind: Option<ActorKind>,
    pub source: Option<Source>,
    /// Inclusive bounds, microseconds since the epoch.
    pub since_us: Option<i64>,
    pub until_us: Option<i64>,
    /// Successful or not, but writes only (`read_only = false`).
    pub writes_only: bool,
    pub limit: Option<u64>,
}

/// A stored event, its original record, and the leaf recorded when it was stored.
pub type EventWithEvidence = (StoredEvent, Vec<u8>, Option<crate::RecordedLeaf>);

/// An event as stored, with the store's own row id (stable, usable with [`Store::raw`]).
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: i64,
    pub event: AuditEvent,
}

/// The fields of an event that are ids into `strings`: the ones [`IN_ROW`] names are columns
/// of `events`, the others are in its shape (`crate::shapes`).
const INTERNED: [&str; 13] = [
    "source",
    "account",
    "region",
    "service",
    "action",
    "outcome",
    "principal",
    "principal_type",
    "issuer",
    "invoked_by",
    "actor_kind",
    "actor_rule",
    "user_agent",
];

/// Positions in [`INTERNED`].
mod col {
    pub const SOURCE: usize = 0;
    pub const ACCOUNT: usize = 1;
    pub const REGION: usize = 2;
    pub const SERVICE: usize = 3;
    pub const ACTION: usize = 4;
    pub const OUTCOME: usize = 5;
    pub const PRINCIPAL: usize = 6;
    pub const PRINCIPAL_TYPE: usize = 7;
    pub const ISSUER: usize = 8;
    pub const INVOKED_BY: usize = 9;
    pub const ACTOR_KIND: usize = 10;
    pub const ACTOR_RULE: usize = 11;
    pub const USER_AGENT: usize = 12;
}

#[cfg(test)]
mod col_tests {
    use super::*;

    #[test]
    fn interned_positions_name_their_columns() {
        use col::*;
        for (at, name) in [
            (SOURCE, "source"),
            (ACCOUNT, "account"),
            (REGION, "region"),
            (SERVICE, "service"),
            (ACTION, "action"),
            (OUTCOME, "outcome"),
            (PRINCIPAL, "principal"),
            (PRINCIPAL_TYPE, "principal_type"),
            (ISSUER, "issuer"),
            (INVOKED_BY, "invoked_by"),
            (ACTOR_KIND, "actor_kind"),
            (ACTOR_RULE, "actor_rule"),
            (USER_AGENT, "user_agent"),
        ] {
            assert_eq!(INTERNED[at], name);
        }
    }
}

/// The fields of [`INTERNED`] that are columns of `events` (those the filters ask of the
/// row), by position, in the order [`read_row`] reads them.
const IN_ROW: [usize; 5] = [
    col::SOURCE,
    col::ACTION,
    col::PRINCIPAL,
    col::ISSUER,
    col::ACTOR_KIND,
];

/// Where [`select_from`] reads the first of [`IN_ROW`].
const FIRST_IN_ROW: usize = 6;

/// The `SELECT` list: plain columns, the shape's id and the body (`crate::body`), then the
/// interned ids (resolved in memory, see [`Store::names`]: one hash lookup instead of a join
/// per field and row).
fn select_from(from: &str) -> String {
    let ids: Vec<String> = IN_ROW
        .iter()
        .map(|&c| format!("e.{}", INTERNED[c]))
        .collect();
    format!(
        "SELECT e.id, e.event_id, e.time_us, e.read_only, e.shape, e.body, {} FROM {from}",
        ids.join(", ")
    )
}

/// What a listing hands its caller a batch at a time, oldest first; `Break` stops it.
pub type EachBatch<'a> = dyn FnMut(Vec<StoredEvent>) -> ControlFlow<()> + 'a;

/// Where the row readers hand their rows (to be resolved and handed on).
type RowSink<'a> = dyn FnMut(Vec<RawRow>) -> Result<ControlFlow<()>, StoreError> + 'a;

/// The most rows read and resolved at once: a listing's memory is a batch, not the result.
const BATCH: usize = 4096;

/// The statement of [`Store::rows_matching`]: in the identity index's order, by second (its
/// next column is not the id), each second's rows ordered by time and id as they are read:
/// under a limit, reading stops after the second of the last row wanted, instead of every
/// match being read and sorted first.
fn matching_sql(clauses: &[String]) -> String {
    let mut sql = select_from("events e");
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY ");
    sql.push_str(SECOND);
    sql
}

/// An event's second, as the identity index keys it (`schema::V16`): written as the index
/// is, so SQLite reads the index for it.
const SECOND: &str = "e.time_us / 1000000";

/// The `WHERE` clauses and arguments of every filter but the resource.
fn filters(q: &EventQuery) -> (Vec<String>, Vec<Value>) {
    let mut args: Vec<Value> = Vec::new();
    let mut clauses: Vec<String> = Vec::new();
    let arg = |v: Value, args: &mut Vec<Value>| {
        args.push(v);
        format!("?{}", args.len())
    };
    if let Some(p) = &q.principal {
        let a = arg(Value::Text(sql_pattern(p)), &mut args);
        let glob = is_glob(p);
        clauses.push(format!(
            "({} OR {})",
            interned_matches("principal", &a, glob),
            interned_matches("issuer", &a, glob)
        ));
    }
    if let Some(action) = &q.action {
        let a = arg(Value::Text(sql_pattern(action)), &mut args);
        clauses.push(interned_matches("action", &a, is_glob(action)));
    }
    if let Some(kind) = q.actor_kind {
        let a = arg(Value::Text(kind.as_str().into()), &mut args);
        clauses.push(interned_matches("actor_kind", &a, false));
    }
    if let Some(source) = q.source {
        let a = arg(Value::Text(source.as_str().into()), &mut args);
        clauses.push(interned_matches("source", &a, false));
    }
    // A time range is asked of the second too, which the identity index keys events by
    // (`schema::V16`): the whole time alone is not in any index.
    if let Some(since) = q.since_us {
        let second = arg(Value::Integer(schema::key_second(since)), &mut args);
        let a = arg(Value::Integer(since), &mut args);
        clauses.push(format!("{SECOND} >= {second} AND e.time_us >= {a}"));
    }
    if let Some(until) = q.until_us {
        let second = arg(Value::Integer(schema::key_second(until)), &mut args);
        let a = arg(Value::Integer(until), &mut args);
        clauses.push(format!("{SECOND} <= {second} AND e.time_us <= {a}"));
    }
    if q.writes_only {
        clauses.push("e.read_only = 0".into());
    }
    (clauses, args)
}

/// Bytes of posting lists that cost about as much to decode as one candidate's row costs to
/// read and check (on a million events, some 3 ns a byte and 3 µs a row): the planner
/// decodes a list to narrow the candidates only when it costs less than the rows it may
/// spare ([`Store::query_each`]).
pub(crate) const ROW_BYTES: u64 = 1024;

/// A filter answered from posting lists.
enum Lookup {
    /// A resource, in any of its spellings.
    Named(String),
    /// Resources matching a glob.
    NamedLike(String),
    /// A principal, issuer or action (or a glob over them).
    String(String),
    /// A facet's code (`crate::facets`).
    Facet(i64),
}

/// Where the lists of each lookup are: `?1` the name(s), `?2` since, `?3` until.
const NAMED: &str = "FROM ref_names n JOIN ref_postings p ON p.name = n.id \
     WHERE n.text IN rarray(?1) AND p.last_us >= ?2 AND p.first_us <= ?3";
const NAMED_LIKE: &str = "FROM ref_names n JOIN ref_postings p ON p.name = n.id \
     WHERE n.text GLOB ?1 AND p.last_us >= ?2 AND p.first_us <= ?3";
const FACET: &str =
    "FROM facet_postings p WHERE p.facet = ?1 AND p.last_us >= ?2 AND p.first_us <= ?3";
/// A family of facet codes `?1..=?2` but `?3`, `?4` since, `?5` until.
const FAMILY: &str = "FROM facet_postings p WHERE p.facet BETWEEN ?1 AND ?2 AND p.facet <> ?3 \
     AND p.last_us >= ?4 AND p.first_us <= ?5";

/// What the lists `from` selects cost: their bytes, summed from their table's index alone
/// (`schema::V18`), without reading a list.
fn cost_sql(from: &str) -> String {
    format!("SELECT coalesce(sum(length(p.events)), 0) {from}")
}

/// A set of event ids, a bit each (a million events: 125 KB).
#[derive(Default)]
struct IdSet {
    words: Vec<u64>,
}

impl IdSet {
    /// Add `id`; whether it was new (an id below zero is never held).
    fn insert(&mut self, id: i64) -> bool {
        let Ok(id) = usize::try_from(id) else {
            return false;
        };
        let word = id / 64;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let bit = 1 << (id % 64);
        let new = self.words[word] & bit == 0;
        self.words[word] |= bit;
        new
    }

    fn contains(&self, id: i64) -> bool {
        usize::try_from(id).is_ok_and(|id| {
            self.words
                .get(id / 64)
                .is_some_and(|w| w & (1 << (id % 64)) != 0)
        })
    }
}

fn strings_from(text: &str) -> String {
    let op = if is_glob(text) { "GLOB" } else { "=" };
    format!(
        "FROM strings s JOIN string_postings p ON p.string = s.id \
         WHERE s.text {op} ?1 AND p.last_us >= ?2 AND p.first_us <= ?3"
    )
}

/// `e.COLUMN` holds the string `?N` (or, with a glob, any string it matches).
fn interned_matches(column: &str, placeholder: &str, glob: bool) -> String {
    let op = if glob { "GLOB" } else { "=" };
    format!("e.{column} IN (SELECT id FROM strings WHERE text {op} {placeholder})")
}

fn is_glob(s: &str) -> bool {
    Glob::is_pattern(s)
}

/// What is bound for a filter: the text itself, or a glob in SQLite's spelling (brackets are
/// literal in driftlog's dialect, a character class in SQLite's).
fn sql_pattern(s: &str) -> String {
    if is_glob(s) {
        Glob::new(s).to_sqlite()
    } else {
        s.to_owned()
    }
}

impl Store {
    /// Events matching `q`, oldest first: [`Store::query_each`], collected.
    pub fn query(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let mut all = Vec::new();
        self.query_each(q, &mut |batch| {
            all.extend(batch);
            ControlFlow::Continue(())
        })?;
        Ok(all)
    }

    /// Events matching `q`, handed to `each` a batch at a time as they are read, oldest
    /// first, until it answers `Break`: a listing of many thousands is printed while the rest
    /// are read, and never held whole.
    ///
    /// Every filter with posting lists (names, principal, action, writes only, actor kind,
    /// source) is a lookup, its cost the bytes of its lists (read from an index). The
    /// smallest list gives the candidates, in time order; another lookup becomes a set of
    /// event ids the candidates must be in (or, for a facet that most events have, the set of
    /// its complement they must not be in, which is smaller to decode) when decoding it costs
    /// less than reading the candidates' rows it may spare ([`ROW_BYTES`] a row): a rare
    /// principal's few hundred rows are read and checked sooner than the lists of every
    /// write are decoded. The SQL clauses of all filters then run on the rows that remain, a
    /// chunk at a time, so a `--limit` stops early. Facets alone that most events match,
    /// under a `--limit`, walk the time index instead: it meets the first matches sooner
    /// than a list is decoded.
    pub fn query_each(&self, q: &EventQuery, each: &mut EachBatch) -> Result<(), StoreError> {
        self.map_for_lookups()?;
        let (clauses, args) = filters(q);
        let (since, until) = (
            q.since_us.unwrap_or(i64::MIN),
            q.until_us.unwrap_or(i64::MAX),
        );
        let mut lookups: Vec<Lookup> = Vec::new();
        match q.resource.as_deref() {
            Some(r) if is_glob(r) => lookups.push(Lookup::NamedLike(r.to_owned())),
            Some(r) => lookups.push(Lookup::Named(r.to_owned())),
            None => {}
        }
        for text in [&q.principal, &q.action].into_iter().flatten() {
            lookups.push(Lookup::String(text.clone()));
        }
        let required = crate::facets::required(q.writes_only, q.actor_kind, q.source);
        lookups.extend(required.into_iter().map(Lookup::Facet));
        if self.ruled_out(&lookups)? {
            return Ok(());
        }
        let mut hand = |rows: Vec<RawRow>| self.hand(rows, &mut *each);
        if lookups.is_empty() {
            return self.rows_matching(q, &clauses, &args, &mut hand);
        }
        // Each lookup's cost (the bytes of its lists) and, for a facet, the share of events
        // it lists.
        let mut costed = Vec::with_capacity(lookups.len());
        let mut density = 1.0f64;
        for l in lookups {
            let bytes = self.lookup_bytes(&l, since, until)?;
            let share = match l {
                Lookup::Facet(code) => {
                    let (lo, hi) = crate::facets::family(code);
                    let all = self.family_bytes(lo, hi, since, until)?;
                    if all == 0 {
                        0.0
                    } else {
                        bytes as f64 / all as f64
                    }
                }
                _ => 0.0,
            };
            density *= if matches!(l, Lookup::Facet(_)) {
                share
            } else {
                0.0
            };
            costed.push((bytes, share, l));
        }
        // Facets only, under a limit, and (were they independent) at least one event in a
        // hundred matching: the time walk reads about a hundred rows per result.
        if q.limit.is_some() && density >= 0.01 {
            return self.rows_matching(q, &clauses, &args, &mut hand);
        }
        // The driver: the smallest list that is not most of the store.
        costed.sort_by_key(|(bytes, _, _)| *bytes);
        let driver = costed
            .iter()
            .position(|(_, share, _)| *share <= 0.5)
            .unwrap_or(0);
        let (_, _, first) = costed.remove(driver);
        // In no order yet: when the other filters leave nothing, sorting was wasted.
        let mut candidates = self.lookup_unordered(&first, since, until)?;
        // The resource filter has no SQL clause: its list must narrow the candidates always.
        for (_, _, named) in &costed {
            if matches!(named, Lookup::Named(_) | Lookup::NamedLike(_)) {
                let ids = self.lookup_ids(named, since, until)?;
                candidates.retain(|&(_, id)| ids.contains(id));
            }
        }
        costed.retain(|(_, _, l)| !matches!(l, Lookup::Named(_) | Lookup::NamedLike(_)));
        // Every other list narrows the candidates only when decoding it costs less than
        // reading the rows it could spare (their SQL clauses check them anyway), cheapest
        // first. Before a probe those are the probe's rows, after it every candidate's.
        let mut narrowing: Vec<_> = costed
            .iter()
            .map(|(bytes, share, l)| match l {
                &Lookup::Facet(code) if *share > 0.5 => {
                    // Subtract the complement, the family's other codes: the smaller list.
                    let all = (*bytes as f64 / share) as u64;
                    (
                        all.saturating_sub(*bytes),
                        l,
                        Some(crate::facets::family(code)),
                    )
                }
                _ => (*bytes, l, None),
            })
            .collect();
        narrowing.sort_by_key(|(cost, _, _)| *cost);
        let mut narrowing = narrowing.into_iter().peekable();
        let mut narrow = |candidates: &mut Vec<(i64, i64)>, rows: usize| {
            while let Some((_, other, complement)) = narrowing
                .next_if(|(cost, _, _)| *cost <= self.row_bytes.saturating_mul(rows as u64))
            {
                if candidates.is_empty() {
                    break;
                }
                let (ids, keep) = match (other, complement) {
                    (&Lookup::Facet(code), Some((lo, hi))) => {
                        (self.facet_ids(lo, hi, Some(code), since, until)?, false)
                    }
                    _ => (self.lookup_ids(other, since, until)?, true),
                };
                candidates.retain(|&(_, id)| ids.contains(id) == keep);
            }
            Ok::<bool, StoreError>(narrowing.peek().is_none())
        };
        // Under a limit, the first few candidates' rows first: when matches are common that
        // is the whole answer, and no other list need be decoded.
        let (mut handed, mut probed_rows) = (0, 0);
        if let Some(limit) = q.limit.map(|l| l.min(usize::MAX as u64) as usize) {
            let probe = limit.saturating_mul(4).max(256);
            // A probe reads at least `limit` rows: lists cheaper than those first.
            let narrowed = narrow(&mut candidates, limit)?;
            let probe = probe.min(candidates.len());
            // The `probe` oldest, in order; the rest stay unsorted.
            if probe < candidates.len() {
                candidates.select_nth_unstable(probe);
            }
            candidates[..probe].sort_unstable();
            let (probed, rest) = candidates.split_at_mut(probe);
            if rest.is_empty() || narrowed {
                // Nothing left to narrow the candidates: the answer is theirs, in order.
                let mut counted = |rows: Vec<RawRow>| {
                    handed += rows.len();
                    hand(rows)
                };
                if self
                    .rows_among(probed, limit, &clauses, &args, &mut counted)?
                    .is_continue()
                    && handed < limit
                    && !rest.is_empty()
                {
                    rest.sort_unstable();
                    let _ = self.rows_among(rest, limit - handed, &clauses, &args, &mut hand)?;
                }
                return Ok(());
            }
            let mut rows = Vec::new();
            let _ = self.rows_among(probed, limit, &clauses, &args, &mut |chunk| {
                rows.extend(chunk);
                Ok(ControlFlow::Continue(()))
            })?;
            handed = rows.len();
            probed_rows = probe;
            let enough = handed >= limit;
            if hand(rows)?.is_break() || enough {
                return Ok(());
            }
            candidates.drain(..probe);
        }
        // The rows left to read: all of them, or as many as the probe's share of matches
        // says the rest of the limit takes.
        let left = candidates.len();
        let rows = match handed {
            0 => left,
            _ => {
                (q.limit.unwrap_or(u64::MAX) as usize)
                    .saturating_sub(handed)
                    .saturating_mul(probed_rows)
                    / handed
            }
        };
        narrow(&mut candidates, rows.min(left))?;
        candidates.sort_unstable();
        let wanted = q
            .limit
            .map_or(usize::MAX, |l| l.min(usize::MAX as u64) as usize)
            .saturating_sub(handed);
        // The last batches: nothing follows, whether or not they were wanted.
        let _ = self.rows_among(&candidates, wanted, &clauses, &args, &mut hand)?;
        Ok(())
    }

    /// Whether no event can meet `lookups`, known before any list is read: a principal,
    /// issuer or action they name was never stored with the facets they ask for together
    /// (`string_facets`, see `schema::V12`). A busy principal's lists take milliseconds to
    /// intersect with a facet's only to find nothing ("did config.amazonaws.com ever
    /// write?"); its few combinations answer at once.
    fn ruled_out(&self, lookups: &[Lookup]) -> Result<bool, StoreError> {
        let required: Vec<i64> = lookups
            .iter()
            .filter_map(|l| match l {
                Lookup::Facet(code) => Some(*code),
                _ => None,
            })
            .collect();
        if required.is_empty() {
            return Ok(false);
        }
        let sql = |e| StoreError::sql(&self.path, e);
        for l in lookups {
            let Lookup::String(text) = l else { continue };
            let op = if is_glob(text) { "GLOB" } else { "=" };
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT f.facets FROM strings s JOIN string_facets f ON f.string = s.id \
                     WHERE s.text {op} ?1"
                ))
                .map_err(sql)?;
            let mut rows = stmt.query([sql_pattern(text)]).map_err(sql)?;
            let mut possible = false;
            while let Some(row) = rows.next().map_err(sql)? {
                if crate::facets::satisfies(row.get(0).map_err(sql)?, &required) {
                    possible = true;
                    break;
                }
            }
            if !possible {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The bytes of posting lists `l` would decode within the bounds: its cost.
    fn lookup_bytes(&self, l: &Lookup, since: i64, until: i64) -> Result<u64, StoreError> {
        let (from, first) = self.lists(l)?;
        self.list_bytes(&from, rusqlite::params![first, since, until])
    }

    /// Where the posting lists `p` of lookup `l` are (`FROM … WHERE …`, with `?2` since and
    /// `?3` until), and the statement's first parameter.
    fn lists(&self, l: &Lookup) -> Result<(String, Box<dyn rusqlite::ToSql>), StoreError> {
        Ok(match l {
            Lookup::Named(r) => {
                let names = crate::spellings(self, std::slice::from_ref(r))?;
                let names: rusqlite::vtab::array::Array =
                    std::rc::Rc::new(names.into_iter().map(Value::Text).collect());
                (NAMED.to_owned(), Box::new(names))
            }
            Lookup::NamedLike(pattern) => (NAMED_LIKE.to_owned(), Box::new(sql_pattern(pattern))),
            Lookup::String(text) => (strings_from(text), Box::new(sql_pattern(text))),
            Lookup::Facet(code) => (FACET.to_owned(), Box::new(*code)),
        })
    }

    /// The `(time, event)` pairs of lookup `l` within the bounds, each event once, in no
    /// particular order.
    fn lookup_unordered(
        &self,
        l: &Lookup,
        since: i64,
        until: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let (from, first) = self.lists(l)?;
        // One event reached through two names (two spellings, or principal and issuer).
        let mut seen = IdSet::default();
        let mut out = Vec::new();
        self.each_within(
            &from,
            rusqlite::params![first, since, until],
            since,
            until,
            |t, id| {
                if seen.insert(id) {
                    out.push((t, id));
                }
            },
        )?;
        Ok(out)
    }

    /// The bytes of the facet lists with codes `lo..=hi` within the bounds.
    fn family_bytes(&self, lo: i64, hi: i64, since: i64, until: i64) -> Result<u64, StoreError> {
        self.list_bytes(FAMILY, rusqlite::params![lo, hi, i64::MIN, since, until])
    }

    /// The bytes of the posting lists `from` (a `FROM … WHERE …` over lists `p`) selects.
    fn list_bytes(&self, from: &str, params: &[&dyn rusqlite::ToSql]) -> Result<u64, StoreError> {
        let bytes: i64 = self
            .conn
            .prepare_cached(&cost_sql(from))
            .and_then(|mut stmt| stmt.query_row(params, |r| r.get(0)))
            .map_err(|e| StoreError::sql(&self.path, e))?;
        Ok(bytes.max(0) as u64)
    }

    /// The events of the facet lists with codes `lo..=hi` (but `except`) within the bounds.
    fn facet_ids(
        &self,
        lo: i64,
        hi: i64,
        except: Option<i64>,
        since: i64,
        until: i64,
    ) -> Result<IdSet, StoreError> {
        self.posting_ids(
            FAMILY,
            rusqlite::params![lo, hi, except.unwrap_or(i64::MIN), since, until],
            since,
            until,
        )
    }

    /// The events of lookup `l` within the bounds, as a set (decoded straight into it: a set
    /// needs no order, and sorting a busy principal's pairs cost more than decoding them).
    fn lookup_ids(&self, l: &Lookup, since: i64, until: i64) -> Result<IdSet, StoreError> {
        let (from, first) = self.lists(l)?;
        self.posting_ids(&from, rusqlite::params![first, since, until], since, until)
    }

    /// Decode the posting lists `from` (a `FROM … WHERE …` over lists `p`) selects straight
    /// into a set of the events within the bounds: no sorting, one bit per event.
    fn posting_ids(
        &self,
        from: &str,
        params: impl rusqlite::Params,
        since: i64,
        until: i64,
    ) -> Result<IdSet, StoreError> {
        let mut set = IdSet::default();
        self.each_within(from, params, since, until, |_, id| {
            set.insert(id);
        })?;
        Ok(set)
    }

    /// Call `each` on every `(time, event)` pair within the bounds of the posting lists
    /// `from` selects, list by list, in no particular order.
    fn each_within(
        &self,
        from: &str,
        params: impl rusqlite::Params,
        since: i64,
        until: i64,
        mut each: impl FnMut(i64, i64),
    ) -> Result<(), StoreError> {
        let sql = format!("SELECT p.id, p.first_us, p.events {from}");
        self.decode_lists(&sql, params, &mut Vec::new(), |pairs| {
            for &(t, id) in pairs.iter() {
                if t >= since && t <= until {
                    each(t, id);
                }
            }
            pairs.clear();
        })
    }

    /// Resolve `rows` and hand them to `each` (nothing when there are none).
    fn hand(&self, rows: Vec<RawRow>, each: &mut EachBatch) -> Result<ControlFlow<()>, StoreError> {
        if rows.is_empty() {
            return Ok(ControlFlow::Continue(()));
        }
        let events = self.resolve(rows)?;
        Ok(each(events))
    }

    /// Turn rows into events, their interned ids into text.
    fn resolve(&self, mut rows: Vec<RawRow>) -> Result<Vec<StoredEvent>, StoreError> {
        {
            let mut shapes = self.shapes.borrow_mut();
            let wanted = rows.iter().filter_map(|r| r.shape).collect();
            load_shapes(&self.conn, &mut shapes, wanted)
                .map_err(|e| StoreError::sql(&self.path, e))?;
            for row in &mut rows {
                row.take_shape(&shapes);
            }
        }
        let mut names = self.names(false)?;
        if rows.iter().any(|r| !r.resolvable(&names)) {
            // Strings added since the names were loaded (by this process's own ingest).
            names = self.names(true)?;
        }
        let ids: Vec<i64> = rows
            .iter()
            .flat_map(|r| match &r.resources {
                StoredResources::Ids(ids) => ids.as_slice(),
                StoredResources::Names(_) => &[],
            })
            .copied()
            .collect();
        let free: Vec<i64> = rows
            .iter()
            .flat_map(|r| &r.free)
            .filter_map(|t| match t {
                Some(StoredText::Id(id)) => Some(*id),
                _ => None,
            })
            .collect();
        let err = |e| StoreError::sql(&self.path, e);
        let mut refs = self.ref_texts.borrow_mut();
        texts::load(&self.conn, Table::RefNames, &mut refs, ids).map_err(err)?;
        let mut free_texts = self.free_texts.borrow_mut();
        texts::load(&self.conn, Table::Texts, &mut free_texts, free).map_err(err)?;
        Ok(rows
            .into_iter()
            .map(|r| r.resolve(&names, &refs, &free_texts))
            .collect())
    }

    /// Without candidates from posting lists: one statement (a time range reads the identity
    /// index; anything else scans), its rows handed on in batches of whole seconds.
    fn rows_matching(
        &self,
        q: &EventQuery,
        clauses: &[String],
        args: &[Value],
        each: &mut RowSink,
    ) -> Result<(), StoreError> {
        let sql = matching_sql(clauses);
        let err = |e| StoreError::sql(&self.path, e);
        // Attribution runs the same shapes of query thousands of times.
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err)?;
        let found = stmt
            .query_map(rusqlite::params_from_iter(args), read_row)
            .map_err(err)?;
        let limit = q
            .limit
            .map_or(usize::MAX, |l| l.min(usize::MAX as u64) as usize);
        let mut handed = 0;
        let mut open: Vec<RawRow> = Vec::new();
        for row in found {
            let row = row.map_err(err)?;
            let second = schema::key_second(row.time_us);
            if open
                .last()
                .is_some_and(|last| second > schema::key_second(last.time_us))
            {
                // `open` ends with a whole second: everything still to come is later.
                if handed + open.len() >= limit {
                    break;
                }
                if open.len() >= BATCH {
                    open.sort_by_key(|r| (r.time_us, r.id));
                    handed += open.len();
                    if each(std::mem::take(&mut open))?.is_break() {
                        return Ok(());
                    }
                }
            }
            open.push(row);
        }
        open.sort_by_key(|r| (r.time_us, r.id));
        open.truncate(limit - handed);
        let _ = each(open)?;
        Ok(())
    }

    /// The rows among `candidates` (in time order) that match every filter, up to `limit`,
    /// handed on a chunk at a time in the candidates' order, so a `--limit` stops early
    /// however many candidates there are.
    fn rows_among(
        &self,
        candidates: &[(i64, i64)],
        limit: usize,
        clauses: &[String],
        args: &[Value],
        each: &mut RowSink,
    ) -> Result<ControlFlow<()>, StoreError> {
        // The candidates drive the join: each row is found by its id, in the candidates'
        // order, with no index of the chunk built first and no reordering after.
        let mut sql = select_from(&format!(
            "rarray(?{}) AS c CROSS JOIN events e ON e.id = c.value",
            args.len() + 1
        ));
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        let err = |e| StoreError::sql(&self.path, e);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err)?;
        let mut handed = 0;
        let mut chunk_size = limit.clamp(16, 1024);
        let mut rest = candidates;
        while !rest.is_empty() && handed < limit {
            let (chunk, after) = rest.split_at(chunk_size.min(rest.len()));
            rest = after;
            chunk_size = (chunk_size * 2).min(BATCH);
            let ids: rusqlite::vtab::array::Array =
                std::rc::Rc::new(chunk.iter().map(|&(_, id)| Value::Integer(id)).collect());
            let mut bound: Vec<&dyn rusqlite::ToSql> =
                args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
            bound.push(&ids);
            let rows: Vec<RawRow> = stmt
                .query_map(&bound[..], read_row)
                .map_err(err)?
                .take(limit - handed)
                .collect::<Result<_, _>>()
                .map_err(err)?;
            handed += rows.len();
            if each(rows)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The `(time, event)` pairs naming any of `resources` (in any of their spellings, or, for
    /// a known Terraform address, any identifier its resource had) within the bounds, in order,
    /// each event once.
    fn events_named(
        &self,
        resources: &[String],
        since: i64,
        until: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let names = crate::spellings(self, resources)?;
        let names: rusqlite::vtab::array::Array =
            std::rc::Rc::new(names.into_iter().map(Value::Text).collect());
        self.postings(
            &format!("SELECT p.id, p.first_us, p.events {NAMED}"),
            rusqlite::params![names, since, until],
            since,
            until,
        )
    }

    /// Decode each posting list `sql` selects (id, first_us, events), appending its pairs to
    /// `pairs` and then calling `each` on them.
    fn decode_lists(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        pairs: &mut Vec<(i64, i64)>,
        mut each: impl FnMut(&mut Vec<(i64, i64)>),
    ) -> Result<(), StoreError> {
        let err = |e| StoreError::sql(&self.path, e);
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let mut rows = stmt.query(params).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let posting: i64 = row.get(0).map_err(err)?;
            let first_us: i64 = row.get(1).map_err(err)?;
            let list = row
                .get_ref(2)
                .map_err(err)?
                .as_blob()
                .map_err(|e| err(e.into()))?;
            postings::decode(first_us, list, pairs).map_err(|reason| StoreError::Damaged {
                path: self.path.clone(),
                what: format!("posting list {posting}"),
                reason,
            })?;
            each(pairs);
        }
        Ok(())
    }

    /// Decode the posting lists `sql` selects (id, first_us, events), keep the pairs within the
    /// bounds, sorted, each event once.
    pub(crate) fn postings(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        since: i64,
        until: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut pairs = Vec::new();
        self.decode_lists(sql, params, &mut pairs, |_| {})?;
        pairs.retain(|&(t, _)| t >= since && t <= until);
        // Each list is in order and lists come about in time order: a few long sorted runs,
        // which the stable sort merges instead of sorting afresh.
        pairs.sort();
        // One event reached through two names (two spellings, or principal and issuer).
        pairs.dedup_by_key(|p| p.1);
        Ok(pairs)
    }

    /// Every event that names any of `identifiers`, oldest first, each once.
    pub fn events_naming(&self, identifiers: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        self.map_for_lookups()?;
        let candidates = self.events_named(identifiers, i64::MIN, i64::MAX)?;
        let mut rows = Vec::new();
        let _ = self.rows_among(&candidates, usize::MAX, &[], &[], &mut |chunk| {
            rows.extend(chunk);
            Ok(ControlFlow::Continue(()))
        })?;
        self.resolve(rows)
    }

    /// Up to `limit` events with ids above `after`, in id order, each with its original record
    /// and the leaf recorded when it was stored (none for events stored before schema 3): what
    /// `driftlog verify` recomputes against the ledger.
    pub fn events_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<EventWithEvidence>, StoreError> {
        let err = |e| StoreError::sql(&self.path, e);
        let limit = limit.min(i64::MAX as usize) as i64;
        let mut sql = select_from("events e");
        sql.push_str(" WHERE e.id > ?1 ORDER BY e.id LIMIT ?2");
        let rows = {
            let mut stmt = self.conn.prepare_cached(&sql).map_err(err)?;
            let rows = stmt
                .query_map(rusqlite::params![after, limit], read_row)
                .map_err(err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            rows
        };
        // Each event's leaf and where its record is, read with the same walk (a query per
        // event for its record's place made a walk over a million events slow).
        type Evidence = (Option<Vec<u8>>, (i64, i64, i64));
        let evidence: rustc_hash::FxHashMap<i64, Evidence> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT id, leaf, raw_block, body FROM events \
                     WHERE id > ?1 ORDER BY id LIMIT ?2",
                )
                .map_err(err)?;
            let evidence = stmt
                .query_map(rusqlite::params![after, limit], |r| {
                    Ok((r.get(0)?, (r.get(1)?, place(r.get(2)?, r.get_ref(3)?))))
                })
                .map_err(err)?
                .collect::<Result<_, _>>()
                .map_err(err)?;
            evidence
        };
        let mut out = Vec::with_capacity(rows.len());
        for event in self.resolve(rows)? {
            let (raw, leaf) = match evidence.get(&event.id) {
                Some((leaf, at)) => (
                    self.raw_at(event.id, &event.event.event_id, *at)?,
                    leaf.as_deref().and_then(crate::RecordedLeaf::from_bytes),
                ),
                None => (self.raw(event.id)?, None),
            };
            out.push((event, raw, leaf));
        }
        Ok(out)
    }

    /// The original record of a stored event, as logged.
    pub fn raw(&self, id: i64) -> Result<Vec<u8>, StoreError> {
        let err = |e| StoreError::sql(&self.path, e);
        let (event_id, at): (String, (i64, i64, i64)) = self
            .conn
            .query_row(
                "SELECT event_id, raw_block, body FROM events WHERE id = ?1",
                [id],
                |r| {
                    let event_id = crate::event_ids::decode(r.get_ref(0)?).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            0,
                            rusqlite::types::Type::Blob,
                            e.into(),
                        )
                    })?;
                    Ok((event_id, place(r.get(1)?, r.get_ref(2)?)))
                },
            )
            .map_err(err)?;
        self.raw_at(id, &event_id, at)
    }

    /// Evidence dictionary `id`, read once per store handle.
    pub(crate) fn dictionary(
        &self,
        id: u32,
    ) -> Result<std::sync::Arc<crate::evidence::Dictionary>, StoreError> {
        if let Some(d) = self.dictionaries.borrow().get(&id) {
            return Ok(d.clone());
        }
        let damaged = |reason: String| StoreError::Damaged {
            path: self.path.clone(),
            what: format!("evidence dictionary {id}"),
            reason,
        };
        let bytes: Vec<u8> = self
            .conn
            .query_row(
                "SELECT bytes FROM evidence_dictionaries WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .map_err(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => {
                    damaged("blocks name it, the store does not have it".into())
                }
                e => StoreError::sql(&self.path, e),
            })?;
        let d =
            std::sync::Arc::new(crate::evidence::Dictionary::from_bytes(bytes).map_err(damaged)?);
        self.dictionaries.borrow_mut().insert(id, d.clone());
        Ok(d)
    }

    /// The record of event `id` (whose event id is `event_id`) at `(block, offset, len)` in
    /// the evidence blocks, as logged (`crate::evidence::restore`).
    fn raw_at(
        &self,
        id: i64,
        event_id: &str,
        (block, offset, len): (i64, i64, i64),
    ) -> Result<Vec<u8>, StoreError> {
        let err = |e| StoreError::sql(&self.path, e);
        let damaged = |reason: String| StoreError::Damaged {
            path: self.path.clone(),
            what: format!("stored event {id}"),
            reason,
        };
        let cached = self.blocks.borrow().get(&block).cloned();
        let data = match cached {
            Some(data) => data,
            None => {
                let blob = crate::pieces::read(&self.conn, block)
                    .map_err(err)?
                    .ok_or_else(|| damaged(format!("evidence block {block} is missing")))?;
                let dictionary = crate::evidence::dictionary_of(&blob)
                    .map(|id| self.dictionary(id))
                    .transpose()?;
                let data = std::sync::Arc::new(
                    crate::evidence::decompress(&blob, |_| dictionary).map_err(|e| {
                        damaged(format!("evidence block {block} does not decompress: {e}"))
                    })?,
                );
                let mut cache = self.blocks.borrow_mut();
                // Neighbouring records share blocks (a delivery file's, up to a megabyte);
                // sixteen cover any one resource's story.
                if cache.len() >= 16 {
                    cache.clear();
                }
                cache.insert(block, data.clone());
                data
            }
        };
        let (offset, len) = (offset as usize, len as usize);
        let kept = data
            .get(offset..offset + len)
            .ok_or_else(|| damaged(format!("record lies outside evidence block {block}")))?;
        crate::evidence::restore(kept, event_id).map_err(damaged)
    }
}

/// A row as read, before the interned ids are turned into text.
struct RawRow {
    id: i64,
    event_id: String,
    time_us: i64,
    read_only: Option<bool>,
    /// The free-text fields, in the order of [`crate::body::Body::texts`].
    free: [Option<StoredText>; 5],
    /// The id of its shape, whose fields [`RawRow::take_shape`] fills in.
    shape: Option<i64>,
    mfa: Option<bool>,
    resources: StoredResources,
    completeness: u8,
    /// By position in [`INTERNED`]: those [`IN_ROW`] as read, the others once the shape's
    /// are filled in.
    interned: [Option<i64>; INTERNED.len()],
}

fn read_row(r: &Row) -> rusqlite::Result<RawRow> {
    let mut interned = [None; INTERNED.len()];
    for (i, &at) in IN_ROW.iter().enumerate() {
        interned[at] = r.get(FIRST_IN_ROW + i)?;
    }
    // A damaged body reads as no texts and no resources: the event's leaf then no longer
    // matches what the ledger committed to, and `driftlog verify` names it.
    let body = match r.get_ref(5)? {
        rusqlite::types::ValueRef::Blob(b) => crate::body::Body::decode(b).unwrap_or_default(),
        _ => crate::body::Body::default(),
    };
    Ok(RawRow {
        id: r.get(0)?,
        event_id: crate::event_ids::decode(r.get_ref(1)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Blob, e.into())
        })?,
        time_us: r.get(2)?,
        read_only: r.get(3)?,
        free: body.texts.map(|t| t.map(StoredText::Id)),
        shape: r.get(4)?,
        mfa: None,
        resources: StoredResources::Ids(body.resources),
        completeness: 0,
        interned,
    })
}

impl RawRow {
    /// Fill in the fields of its shape, from `shapes` (a shape the store lost leaves them
    /// empty, as a lost name does).
    fn take_shape(&mut self, shapes: &FxHashMap<i64, Shape>) {
        let Some(shape) = self.shape.and_then(|id| shapes.get(&id)) else {
            return;
        };
        self.mfa = shape.mfa;
        self.completeness = shape.completeness;
        for (at, id) in [
            (col::ACCOUNT, shape.account),
            (col::REGION, shape.region),
            (col::SERVICE, shape.service),
            (col::OUTCOME, shape.outcome),
            (col::PRINCIPAL_TYPE, shape.principal_type),
            (col::INVOKED_BY, shape.invoked_by),
            (col::ACTOR_RULE, shape.actor_rule),
            (col::USER_AGENT, shape.user_agent),
        ] {
            self.interned[at] = id;
        }
    }

    fn resolvable(&self, names: &Names) -> bool {
        self.interned
            .iter()
            .flatten()
            .all(|id| names.contains_key(id))
    }

    /// The event, its strings from `names`, its resources' names from `refs` and its free
    /// texts from `free`.
    fn resolve(self, names: &Names, refs: &RefTexts, free: &RefTexts) -> StoredEvent {
        let [error_message, session_name, source_identity, on_behalf_of, source_ip] =
            self.free.map(|t| t.and_then(|t| t.resolve(free)));
        let resources = match self.resources {
            StoredResources::Names(listed) => listed,
            // A name the store lost is left out, as a damaged list is (`read_row`).
            StoredResources::Ids(ref ids) => ids
                .iter()
                .filter_map(|id| refs.get(id).map(|t| t.to_string()))
                .collect(),
        };
        // By position in `INTERNED` (a listing resolves thirteen of these per event).
        let text = |column: usize| self.interned[column].and_then(|id| names.get(&id).cloned());
        let outcome = text(col::OUTCOME).unwrap_or_default();
        let outcome = Outcome::from_label(outcome, error_message);
        StoredEvent {
            id: self.id,
            event: AuditEvent {
                source: text(col::SOURCE)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(Source::Aws),
                event_id: self.event_id,
                time_us: self.time_us,
                account: text(col::ACCOUNT),
                region: text(col::REGION),
                service: text(col::SERVICE),
                action: text(col::ACTION).unwrap_or_default(),
                read_only: self.read_only,
                outcome,
                principal: Principal {
                    id: text(col::PRINCIPAL),
                    kind: text(col::PRINCIPAL_TYPE),
                    issuer: text(col::ISSUER),
                    session_name,
                    source_identity,
                    on_behalf_of,
                    invoked_by: text(col::INVOKED_BY),
                    mfa: self.mfa,
                },
                actor: Actor {
                    kind: text(col::ACTOR_KIND)
                        .and_then(|k| k.parse().ok())
                        .unwrap_or(ActorKind::Unknown),
                    rule: text(col::ACTOR_RULE).unwrap_or_default(),
                },
                source_ip,
                user_agent: text(col::USER_AGENT),
                resources,
                completeness: self.completeness,
            },
        }
    }
}

/// Where the record of a row with evidence block `block` and body `body` is: block, offset
/// and length. A damaged body places it nowhere (an empty record), which `driftlog verify`
/// names.
fn place(block: i64, body: rusqlite::types::ValueRef<'_>) -> (i64, i64, i64) {
    match body {
        rusqlite::types::ValueRef::Blob(b) => crate::body::Body::decode(b)
            .map_or((block, 0, 0), |b| {
                (block, b.raw_offset.into(), b.raw_len.into())
            }),
        _ => (block, 0, 0),
    }
}

/// Read the shapes of `ids` that `cache` lacks into it (a listing of a million events names
/// a few thousand shapes). A shape that cannot be read is left out: its rows read without
/// its fields.
fn load_shapes(
    conn: &rusqlite::Connection,
    cache: &mut FxHashMap<i64, Shape>,
    ids: Vec<i64>,
) -> rusqlite::Result<()> {
    let sql = "SELECT id, shape FROM shapes WHERE id IN rarray(?1)";
    texts::load_by_id(conn, sql, cache, ids, |r| {
        Ok(Shape::from_sql(r.get_ref(1)?).ok())
    })
}

/// The `strings` table by id.
pub(crate) type Names = rustc_hash::FxHashMap<i64, String>;

/// Texts by their id in `ref_names` or `texts`, as far as read.
pub(crate) type RefTexts = rustc_hash::FxHashMap<i64, std::sync::Arc<str>>;

impl Store {
    /// The `strings` table in memory (small: distinct principals, agents, actions…), loaded
    /// once, or again when `reload` (after new strings were written).
    fn names(&self, reload: bool) -> Result<std::sync::Arc<Names>, StoreError> {
        if !reload {
            if let Some(names) = self.names.borrow().as_ref() {
                return Ok(names.clone());
            }
        }
        let err = |e| StoreError::sql(&self.path, e);
        let mut stmt = self
            .conn
            .prepare("SELECT id, text FROM strings")
            .map_err(err)?;
        let names: Names = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)?;
        let names = std::sync::Arc::new(names);
        *self.names.borrow_mut() = Some(names.clone());
        Ok(names)
    }
}

#[cfg(test)]
mod ruled_out_tests {
    use super::*;
    use crate::facets;
    use driftlog_core::{ActorKind, Source};

    /// The short cut answers "nothing" exactly when no stored event has the principal (or
    /// issuer, or action) with every facet asked for, and never otherwise.
    #[test]
    fn facets_a_name_was_never_stored_with_rule_a_query_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("events.db")).unwrap();
        crate::conformance::write_filter_matrix(&mut store);
        let events = crate::conformance::filter_matrix_events();
        let kinds = [None, Some(ActorKind::Cli), Some(ActorKind::Service)];
        let sources = [None, Some(Source::Gcp), Some(Source::Kubernetes)];
        let mut ruled_out = 0;
        let mut checked = 0;
        let texts = [
            "arn:aws:iam::1:user/p2",
            "arn:aws:iam::1:role/r1",
            "Put1",
            "*/p3",
        ];
        for text in texts {
            for kind in kinds {
                for source in sources {
                    for writes_only in [false, true] {
                        let mut lookups = vec![Lookup::String(text.into())];
                        let required = facets::required(writes_only, kind, source);
                        lookups.extend(required.into_iter().map(Lookup::Facet));
                        let named = |e: &AuditEvent| {
                            [
                                Some(&e.action),
                                e.principal.id.as_ref(),
                                e.principal.issuer.as_ref(),
                            ]
                            .into_iter()
                            .flatten()
                            .any(|x| {
                                if is_glob(text) {
                                    Glob::new(text).matches(x)
                                } else {
                                    x == text
                                }
                            })
                        };
                        let possible = events.iter().any(|e| {
                            named(e)
                                && (!writes_only || e.read_only == Some(false))
                                && kind.is_none_or(|k| e.actor.kind == k)
                                && source.is_none_or(|s| e.source == s)
                        });
                        let out = store.ruled_out(&lookups).unwrap();
                        assert_eq!(out, !possible, "{text} {kind:?} {source:?} {writes_only}");
                        ruled_out += usize::from(out);
                        checked += 1;
                    }
                }
            }
        }
        // Both answers happen: the test is not vacuous.
        assert!(
            ruled_out > 5 && ruled_out < checked - 5,
            "{ruled_out} of {checked}"
        );
        // A name no event has is ruled out by any facet, and never without one.
        assert!(store
            .ruled_out(&[
                Lookup::String("nobody".into()),
                Lookup::Facet(facets::NOT_WRITE)
            ])
            .unwrap());
        assert!(!store.ruled_out(&[Lookup::String("nobody".into())]).unwrap());
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    fn plan(q: &EventQuery) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("events.db")).unwrap();
        let (clauses, _) = filters(q);
        schema::plan_of(&store.conn, &matching_sql(&clauses))
    }

    /// A time range reads only its seconds of the identity index, and a listing without one
    /// walks the index in order: neither reads the whole table and sorts it.
    #[test]
    fn listings_without_candidates_read_the_key_index_in_time_order() {
        let range = EventQuery {
            since_us: Some(1_730_700_000_000_000),
            until_us: Some(1_730_707_200_000_000),
            writes_only: true,
            ..EventQuery::default()
        };
        assert_eq!(
            plan(&range),
            ["SEARCH e USING INDEX events_key (<expr>>? AND <expr><?)"]
        );
        let since = EventQuery {
            since_us: Some(-1_500_000),
            ..EventQuery::default()
        };
        assert_eq!(plan(&since), ["SEARCH e USING INDEX events_key (<expr>>?)"]);
        let writes = EventQuery {
            writes_only: true,
            ..EventQuery::default()
        };
        assert_eq!(plan(&writes), ["SCAN e USING INDEX events_key"]);
    }
}

#[cfg(test)]
mod cost_tests {
    use super::*;

    /// Whatever a list costs against a row, the answers are the same: with a row as cheap as
    /// nothing no list narrows the candidates (the rows' clauses do all the filtering), with
    /// a row as dear as anything every list does.
    #[test]
    fn lists_left_to_the_rows_clauses_give_the_same_answers() {
        for row_bytes in [0, ROW_BYTES, u64::MAX] {
            let dir = tempfile::tempdir().unwrap();
            let mut store = Store::open(&dir.path().join("events.db")).unwrap();
            crate::conformance::write_filter_matrix(&mut store);
            store.row_bytes = row_bytes;
            crate::conformance::check_filter_matrix(&store);
        }
    }

    /// A lookup's cost is read from its table's index, never from the lists themselves.
    #[test]
    fn costs_are_summed_from_the_indexes_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("events.db")).unwrap();
        for from in [
            NAMED.to_owned(),
            NAMED_LIKE.to_owned(),
            strings_from("AssumeRole"),
            strings_from("arn:aws:sts::*"),
            FACET.to_owned(),
            FAMILY.to_owned(),
        ] {
            let plan = schema::plan_of(&store.conn, &cost_sql(&from));
            let lists = plan
                .iter()
                .find(|step| step.starts_with("SEARCH p ") || step.starts_with("SCAN p "));
            assert!(
                lists.is_some_and(|step| step.contains("USING COVERING INDEX")),
                "{from}: {plan:?}"
            );
        }
    }
}
