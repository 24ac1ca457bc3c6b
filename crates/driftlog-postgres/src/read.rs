//! Answering an `events` query from blocks (`crate::blocks`) and posting lists
//! (`crate::lists`), planned here as the SQLite store plans (`driftlog_store::query`):
//!
//! - A filter no stored value matches, or facets no named value was ever stored with
//!   (`audit_string_facets`, `audit_facets`), answers at once with nothing.
//! - With a resource, principal or action: their lists are costed from the index, the
//!   cheapest decoded first, and each other one intersected while it costs no more than the
//!   candidates it may spare. Every entry carries its event's facets, so facet filters narrow
//!   the candidates without a list of their own. The candidates, in time order, are then read
//!   from their blocks a few at a time and checked against every filter, until the limit.
//!   With a limit and a long cheapest list, the lists are read a stretch of time at a time
//!   (`lists::Stretches`), so a `--limit 20` on a busy name of a large store reads the rows
//!   of its first hours, not all of them.
//! - With facets alone: their smallest list when it is small (a rare facet), otherwise the
//!   blocks in time order, each checked, until the limit: a common facet's first matches lie
//!   in the first blocks.
//! - With no filter but time: the blocks of that time, in order.
//!
//! Blocks overlap in time (each batch writes its own), so a scan merges them: a block's
//! events are handed on only once no block yet unread can hold an earlier one.
//!
//! No step of a limited query does work in proportion to the store: block heads are read a
//! page at a time by the index, a few candidates' blocks are found by a probe each, and long
//! lists are read by stretches.

use crate::blocks::{self, Row};
use crate::lists::{self, Entry, InTimeOrder, Lookup, Stats, Stretches};
use crate::strings::Strings;
use driftlog_core::glob::Glob;
use driftlog_store::{facets, EventQuery};
use postgres::types::Type;
use postgres::{Client, GenericClient};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::ControlFlow;

/// Why a read failed: the server, or a damaged block or list.
#[derive(Debug)]
pub(crate) enum ReadError {
    Pg(postgres::Error),
    Damaged { what: String, reason: String },
}

impl From<postgres::Error> for ReadError {
    fn from(e: postgres::Error) -> Self {
        Self::Pg(e)
    }
}

/// A microsecond's day, as blocks are cut: every event of a block lies in its first event's
/// day, so the block holding an event at `t` starts within `[day_start(t), t]`.
pub(crate) fn day_start(t: i64) -> i64 {
    const DAY: i64 = 86_400_000_000;
    t.saturating_sub(t.rem_euclid(DAY))
}

/// Decode a block's bytes, or say which block is damaged.
pub(crate) fn decode(first_id: i64, data: &[u8]) -> Result<Vec<Row>, ReadError> {
    decode_where(first_id, data, |_, _, _| true)
}

/// [`blocks::decode_where`], or say which block is damaged.
pub(crate) fn decode_where(
    first_id: i64,
    data: &[u8],
    keep: impl FnMut(i64, i64, i32) -> bool,
) -> Result<Vec<Row>, ReadError> {
    blocks::decode_where(data, keep).map_err(|reason| ReadError::Damaged {
        what: format!("the block of events from id {first_id}"),
        reason,
    })
}

/// A query's filters, names resolved to string ids.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    /// Sorted ids of the names any of which an event names.
    pub resources: Option<Vec<i32>>,
    /// Sorted ids any of which is the event's principal or issuer.
    pub principals: Option<Vec<i32>>,
    /// Sorted ids any of which is the event's action.
    pub actions: Option<Vec<i32>>,
    /// Facet codes every event is listed under (`driftlog_store::facets::required`).
    pub required: Vec<i64>,
    pub since: i64,
    pub until: i64,
    pub limit: Option<usize>,
}

impl Filter {
    /// Every event naming any of `resources`, oldest first.
    pub fn naming(resources: Vec<i32>) -> Self {
        Self {
            resources: Some(resources),
            principals: None,
            actions: None,
            required: Vec::new(),
            since: i64::MIN,
            until: i64::MAX,
            limit: None,
        }
    }

    /// Whether `row` passes every filter.
    pub fn admits(&self, row: &Row) -> bool {
        let among = |ids: &[i32], id: i32| ids.binary_search(&id).is_ok();
        row.time_us >= self.since
            && row.time_us <= self.until
            && self
                .resources
                .as_deref()
                .is_none_or(|ids| row.resources.iter().any(|&r| among(ids, r)))
            && self.principals.as_deref().is_none_or(|ids| {
                [row.principal, row.issuer]
                    .into_iter()
                    .flatten()
                    .any(|p| among(ids, p))
            })
            && self
                .actions
                .as_deref()
                .is_none_or(|ids| among(ids, row.action))
            && facets::satisfies(i64::from(row.facets), &self.required)
    }

    fn admits_tag(&self, tag: u8) -> bool {
        facets::satisfies(facets::untag(tag), &self.required)
    }
}

/// The ids of a named filter's value: one string (learned by `strings` already), or those a
/// glob matches.
fn named(
    c: &mut impl GenericClient,
    strings: &Strings,
    text: &str,
) -> Result<Vec<i32>, postgres::Error> {
    if Glob::is_pattern(text) {
        return Strings::matching(c, &Glob::new(text).to_like());
    }
    Ok(strings.id(text).into_iter().collect())
}

/// The filters of `q` resolved, or `None` when no stored event can match them. `names` is
/// what an exact resource stands for (its spellings), found by the caller.
pub(crate) fn resolve(
    c: &mut impl GenericClient,
    strings: &mut Strings,
    q: &EventQuery,
    names: Option<Vec<String>>,
) -> Result<Option<Filter>, postgres::Error> {
    // Every exact name the filters give, learned in one round trip.
    let exact = [q.principal.as_deref(), q.action.as_deref()]
        .into_iter()
        .flatten()
        .filter(|t| !Glob::is_pattern(t));
    strings.learn(c, names.iter().flatten().map(String::as_str).chain(exact))?;
    let resources = match (&q.resource, names) {
        (None, _) => None,
        (Some(_), Some(names)) => Some(strings.known(&names)),
        (Some(glob), None) => Some(Strings::matching(c, &Glob::new(glob).to_like())?),
    };
    let principals = q
        .principal
        .as_deref()
        .map(|p| named(c, strings, p))
        .transpose()?;
    let actions = q
        .action
        .as_deref()
        .map(|a| named(c, strings, a))
        .transpose()?;
    let sets = [&resources, &principals, &actions];
    if sets.iter().any(|s| s.as_ref().is_some_and(Vec::is_empty)) {
        return Ok(None);
    }
    let required = facets::required(q.writes_only, q.actor_kind, q.source);
    // The facets the named values were stored with (or, with none named, the store's):
    // none that satisfies the filters, and no event can.
    let occurring = match (&principals, &actions) {
        (None, None) => c
            .query_typed("SELECT facets FROM audit_facets", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect(),
        (principals, actions) => {
            // Both sets' facets in one round trip (a set not given is sent empty; it does not
            // narrow the facets).
            let none = Vec::new();
            let rows = c.query_typed(
                "SELECT 0, facets FROM audit_string_facets WHERE string = ANY($1) \
                 UNION SELECT 1, facets FROM audit_string_facets WHERE string = ANY($2)",
                &[
                    (principals.as_ref().unwrap_or(&none), Type::INT4_ARRAY),
                    (actions.as_ref().unwrap_or(&none), Type::INT4_ARRAY),
                ],
            )?;
            let of = |set: i32| -> Vec<i32> {
                rows.iter()
                    .filter(|r| r.get::<_, i32>(0) == set)
                    .map(|r| r.get(1))
                    .collect()
            };
            match (principals, actions) {
                (Some(_), None) => of(0),
                (None, Some(_)) => of(1),
                _ => {
                    let (p, a) = (of(0), of(1));
                    p.into_iter().filter(|f| a.contains(f)).collect()
                }
            }
        }
    };
    if !occurring
        .iter()
        .any(|&f| facets::satisfies(i64::from(f), &required))
    {
        return Ok(None);
    }
    let sorted = |ids: Option<Vec<i32>>| {
        ids.map(|mut ids| {
            ids.sort_unstable();
            ids.dedup();
            ids
        })
    };
    Ok(Some(Filter {
        resources: sorted(resources),
        principals: sorted(principals),
        actions: sorted(actions),
        required,
        since: q.since_us.unwrap_or(i64::MIN),
        until: q.until_us.unwrap_or(i64::MAX),
        limit: q.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
    }))
}

/// A list intersected with the candidates is worth it while it costs no more than this many
/// bytes for each candidate it may spare: a candidate left costs a look into its block, a
/// few kilobytes read and decompressed when its neighbours are not wanted too.
const BYTES_PER_CANDIDATE: i64 = 4096;
/// A list of at most this many bytes is always worth intersecting.
const SMALL_LIST: i64 = 256 << 10;

/// With a limit, a first list of more than this many bytes (some 170,000 events) is read a
/// stretch of time at a time ([`lists::Stretches`]); a shorter one, or any list of a
/// listing without a limit, is read whole in one round trip. Below it, reading a list whole
/// costs a few milliseconds, what stretches cost when the lists share no event (a first
/// stretch, then the rest whole); above it, a 10M-event store's busy names, reading them
/// whole cost 80 ms.
const STRETCH_FROM: i64 = 512 << 10;

/// A query's candidates, handed out oldest first: read from their lists at once, or a
/// stretch of time at a time as they are taken.
struct Candidates {
    order: InTimeOrder,
    /// When read by stretches: the stretches yet to read, and every named lookup with what
    /// its lists hold, cheapest first (read whole after a stretch that gave no candidate).
    stretched: Option<(Stretches, Vec<(Stats, Lookup)>)>,
}

fn damaged_list(reason: String) -> ReadError {
    ReadError::Damaged {
        what: "the posting lists".into(),
        reason,
    }
}

impl Candidates {
    fn all(entries: Vec<Entry>) -> Self {
        Self {
            order: InTimeOrder::new(entries),
            stretched: None,
        }
    }

    /// The next `n` candidates passing `f`'s facets (fewer only when there are no more),
    /// oldest first.
    fn take(
        &mut self,
        c: &mut impl GenericClient,
        f: &Filter,
        n: usize,
    ) -> Result<Vec<Entry>, ReadError> {
        let mut out = self.order.take(n);
        while out.len() < n {
            let Some((stretches, lookups)) = self.stretched.as_mut().filter(|s| !s.0.done()) else {
                break;
            };
            let mut lists = stretches.next(c)?.map_err(damaged_list)?.into_iter();
            let mut entries = lists.next().unwrap_or_default();
            entries.retain(|e| f.admits_tag(e.2));
            for other in lists {
                lists::intersect(&mut entries, &other);
            }
            if entries.is_empty() && !stretches.done() {
                // The lists may share no event at all: growing the stretches would take a
                // round trip a step to find that out. The rest is read whole, list by list,
                // and a list is not read once no candidate is left.
                entries = whole(c, f, lookups, stretches.through().saturating_add(1))?;
                self.stretched = None;
            }
            self.order.extend(entries);
            out.extend(self.order.take(n - out.len()));
        }
        Ok(out)
    }
}

/// The candidates of `lookups` (cheapest first) from `since` on, their lists read whole: the
/// first, then each other one intersected while it costs no more than the candidates it may
/// spare.
fn whole(
    c: &mut impl GenericClient,
    f: &Filter,
    lookups: &[(Stats, Lookup)],
    since: i64,
) -> Result<Vec<Entry>, ReadError> {
    let read = |c: &mut _, l: &Lookup| -> Result<Vec<Entry>, ReadError> {
        lists::entries(c, l, since, f.until)?.map_err(damaged_list)
    };
    let Some(((_, first), others)) = lookups.split_first() else {
        return Ok(Vec::new());
    };
    let mut entries = read(c, first)?;
    entries.retain(|e| f.admits_tag(e.2));
    for (stats, l) in others {
        if entries.is_empty() {
            break;
        }
        if stats.bytes <= SMALL_LIST || stats.bytes <= entries.len() as i64 * BYTES_PER_CANDIDATE {
            lists::retain_listed(c, &mut entries, l, since, f.until)?.map_err(damaged_list)?;
        }
    }
    Ok(entries)
}

/// The candidates of `f` from its lists, or `None` when the blocks are better read in time
/// order instead (see the module's documentation).
fn candidates(
    c: &mut impl GenericClient,
    f: &Filter,
    stretch_from: i64,
) -> Result<Option<Candidates>, ReadError> {
    let mut named: Vec<Lookup> = Vec::new();
    if let Some(ids) = &f.resources {
        named.push(Lookup {
            kind: lists::RESOURCE,
            keys: ids.clone(),
        });
    }
    for ids in [&f.principals, &f.actions].into_iter().flatten() {
        named.push(Lookup {
            kind: lists::NAME,
            keys: ids.clone(),
        });
    }
    if named.is_empty() {
        let facets: Vec<Lookup> = f
            .required
            .iter()
            .map(|&code| Lookup {
                kind: lists::FACET,
                keys: vec![code as i32],
            })
            .collect();
        let stats = lists::stats(c, &facets, f.since, f.until)?;
        // The first of the cheapest.
        let cheapest = stats.into_iter().zip(facets).reduce(|best, next| {
            if next.0.bytes < best.0.bytes {
                next
            } else {
                best
            }
        });
        return match cheapest {
            Some(cheapest) if cheapest.0.bytes <= SMALL_LIST => {
                Ok(Some(Candidates::all(whole(c, f, &[cheapest], f.since)?)))
            }
            _ => Ok(None),
        };
    }
    let mut costed: Vec<(Stats, Lookup)> = lists::stats(c, &named, f.since, f.until)?
        .into_iter()
        .zip(named)
        .collect();
    costed.sort_by_key(|(stats, _)| stats.bytes);
    let first = costed[0].0;
    let Some(limit) = f.limit.filter(|_| first.bytes > stretch_from) else {
        return Ok(Some(Candidates::all(whole(c, f, &costed, f.since)?)));
    };
    // Another list is read beside the first while it costs no more than the candidates it
    // may spare, as when read whole, with as many candidates as the first list can hold.
    let most = first.most_entries();
    let lookups = costed
        .iter()
        .enumerate()
        .filter(|(i, (s, _))| {
            *i == 0 || s.bytes <= SMALL_LIST || s.bytes <= most.saturating_mul(BYTES_PER_CANDIDATE)
        })
        .map(|(_, (_, l))| l.clone())
        .collect();
    // Enough for the limit when a few of the first stretch's candidates pass; the
    // stretches grow from there.
    let first_entries = limit.saturating_mul(4).max(256);
    let stretches = Stretches::new(lookups, first, f.since, f.until, first_entries);
    Ok(Some(Candidates {
        order: InTimeOrder::new(Vec::new()),
        stretched: Some((stretches, costed)),
    }))
}

/// What a listing hands its rows to, a batch at a time, with the connection it reads on.
pub(crate) type EachRows<'a> =
    dyn FnMut(&mut Client, Vec<Row>) -> Result<ControlFlow<()>, ReadError> + 'a;

/// Hand `each` the rows matching `f`, oldest first, in batches, until it answers `Break` or
/// the limit is reached.
pub(crate) fn each_row(c: &mut Client, f: &Filter, each: &mut EachRows) -> Result<(), ReadError> {
    each_row_stretching_from(c, f, STRETCH_FROM, each)
}

/// [`each_row`], lists read by stretches from `stretch_from` bytes (tests read small lists
/// both ways).
fn each_row_stretching_from(
    c: &mut Client,
    f: &Filter,
    stretch_from: i64,
    each: &mut EachRows,
) -> Result<(), ReadError> {
    let limit = f.limit.unwrap_or(usize::MAX);
    if limit == 0 {
        return Ok(());
    }
    match candidates(c, f, stretch_from)? {
        Some(mut candidates) => by_candidates(c, f, &mut candidates, limit, each),
        None => scan(c, f, limit, each),
    }
}

/// Most rows handed on at once.
const BATCH: usize = 4096;

/// A block's first and last id and first time, as the index on first times finds it.
pub(crate) type Head = (i64, i64, i64);

/// The blocks whose events' times overlap `[since, until]` (a block holds one day's events),
/// sorted by first id.
pub(crate) fn heads(
    c: &mut impl GenericClient,
    since: i64,
    until: i64,
) -> Result<Vec<Head>, ReadError> {
    let mut heads: Vec<Head> = c
        .query_typed(
            "SELECT first_id, last_id, min_us FROM audit_event_blocks \
             WHERE min_us >= $1 AND min_us <= $2 AND max_us >= $3",
            &[
                (&day_start(since), Type::INT8),
                (&until, Type::INT8),
                (&since, Type::INT8),
            ],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    heads.sort_unstable();
    Ok(heads)
}

/// Blocks `firsts` (by first id), whose first times lie in `[lo, hi]` (so only their months'
/// partitions are read): each row's first id, data and first time.
pub(crate) fn fetch(
    c: &mut impl GenericClient,
    firsts: &[i64],
    lo: i64,
    hi: i64,
) -> Result<Vec<postgres::Row>, postgres::Error> {
    blocks_among(c, "$1", firsts, lo, hi)
}

/// The blocks whose first ids are among `among` (an array expression of `$1`, given `ids`)
/// and whose first times lie in `[lo, hi]`: each row's first id, data and first time.
fn blocks_among(
    c: &mut impl GenericClient,
    among: &str,
    ids: &[i64],
    lo: i64,
    hi: i64,
) -> Result<Vec<postgres::Row>, postgres::Error> {
    c.query_typed(
        &format!(
            "SELECT first_id, data, min_us FROM audit_event_blocks \
             WHERE first_id = ANY({among}) AND min_us >= $2 AND min_us <= $3"
        ),
        &[
            (&ids, Type::INT8_ARRAY),
            (&lo, Type::INT8),
            (&hi, Type::INT8),
        ],
    )
}

/// Up to this many candidates, a window's blocks are found by a probe each, in the statement
/// that reads them; a larger window reads the heads of every block in its time span first.
/// A probe costs a descent of each month's index on first ids (about 10 µs); the heads cost
/// the blocks in the span, a few for a dense window, every block of the store for a rare
/// name's first twenty events spread over months.
const PROBE_UP_TO: usize = 64;

/// The blocks (first id, data, first time) holding events `ids`, whose blocks' first times
/// lie in `[lo, hi]`: each the block with the greatest first id not above the event's (block
/// ids never overlap), if its ids reach the event's (a pruned event's may not). One round
/// trip, and no more work on the server for a store ten times larger.
fn holding(
    c: &mut impl GenericClient,
    ids: &[i64],
    lo: i64,
    hi: i64,
) -> Result<Vec<postgres::Row>, postgres::Error> {
    blocks_among(
        c,
        "ARRAY(SELECT h.first_id FROM unnest($1::int8[]) AS w(id) \
         CROSS JOIN LATERAL (SELECT first_id, last_id FROM audit_event_blocks \
            WHERE first_id <= w.id ORDER BY first_id DESC LIMIT 1) h \
         WHERE h.last_id >= w.id)",
        ids,
        lo,
        hi,
    )
}

/// The head of the block (among `heads`, sorted) whose ids span `id`.
fn head_of(heads: &[Head], id: i64) -> Option<&Head> {
    let i = heads.partition_point(|h| h.0 <= id);
    heads[..i].last().filter(|h| id <= h.1)
}

/// Decode the blocks of `rows` (first id, data) on every core, keeping what `keep` keeps
/// (given id, time, facets; `keep` makes one such test per block), in no particular order. A
/// long listing reads thousands of blocks: decompressing and reading past their other events
/// is most of its time.
fn decode_all<K: FnMut(i64, i64, i32) -> bool>(
    rows: &[postgres::Row],
    keep: impl Fn() -> K + Sync,
) -> Result<Vec<Row>, ReadError> {
    use rayon::prelude::*;
    let parts = rows
        .par_iter()
        .map(|r| decode_where(r.get(0), r.get(1), keep()))
        .collect::<Result<Vec<Vec<Row>>, ReadError>>()?;
    // Sized at once: grown by doubling, a window's rows were copied into new memory a few
    // times, and each page's first touch is a fault the kernel zeroes (about 5 µs here).
    let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    all.extend(parts.into_iter().flatten());
    Ok(all)
}

/// A test of whether an event is among `ids` (sorted), for the events of one block in id
/// order: found by a search at first, then by walking on, so a block of 256 events costs
/// about 256 steps rather than 256 searches.
fn among(ids: &[i64]) -> impl FnMut(i64, i64, i32) -> bool + '_ {
    let mut at: Option<(usize, i64)> = None;
    move |id, _, _| {
        let i = match at {
            Some((mut i, last)) if id >= last => {
                while ids.get(i).is_some_and(|&x| x < id) {
                    i += 1;
                }
                i
            }
            _ => ids.partition_point(|&x| x < id),
        };
        at = Some((i, id));
        ids.get(i) == Some(&id)
    }
}

/// The blocks holding a window of wanted events, as read from the server: decoding them is
/// apart (`Fetched::rows`), so it can run while the next window is read.
struct Fetched {
    blocks: Vec<postgres::Row>,
    /// The wanted events' ids, sorted.
    ids: Vec<i64>,
}

impl Fetched {
    /// Read the blocks of the candidates `wanted` (in time order), each block once.
    fn read(c: &mut impl GenericClient, wanted: &[Entry]) -> Result<Self, ReadError> {
        let (Some(first), Some(last)) = (wanted.first(), wanted.last()) else {
            return Ok(Self {
                blocks: Vec::new(),
                ids: Vec::new(),
            });
        };
        let (lo, hi) = (day_start(first.0), last.0);
        let mut ids: Vec<i64> = wanted.iter().map(|w| w.1).collect();
        ids.sort_unstable();
        let blocks = if wanted.len() <= PROBE_UP_TO {
            holding(c, &ids, lo, hi)?
        } else {
            let heads = heads(c, first.0, last.0)?;
            let mut needed: Vec<i64> = wanted
                .iter()
                .filter_map(|w| head_of(&heads, w.1).map(|h| h.0))
                .collect();
            needed.sort_unstable();
            needed.dedup();
            if needed.is_empty() {
                Vec::new()
            } else {
                fetch(c, &needed, lo, hi)?
            }
        };
        Ok(Self { blocks, ids })
    }

    /// The wanted events' rows, sorted by id: only they are built.
    fn rows(&self) -> Result<Vec<Row>, ReadError> {
        let mut rows = decode_all(&self.blocks, || among(&self.ids))?;
        rows.sort_unstable_by_key(|r| r.id);
        Ok(rows)
    }
}

/// `decode` on the rayon pool while `read` runs here, both done when it returns: blocks decode
/// while the next are read from the server. On the pool, whose threads decode anyway, rather
/// than on a thread made for each window (two dozen for one long listing, each with an
/// allocator heap of its own).
fn while_decoding<D: Send, R>(
    decode: impl FnOnce() -> D + Send,
    read: impl FnOnce() -> R,
) -> (D, R) {
    let mut decoded = None;
    let read = rayon::in_place_scope(|s| {
        s.spawn(|_| decoded = Some(decode()));
        read()
    });
    (decoded.expect("a scope ends when its jobs have"), read)
}

/// From this many candidates a window on, the next window is read while this one decodes:
/// a listing this long is reading on, and the server's sending and the decoding each took
/// about half of it one after the other. Shorter windows (a `--limit`'s first) read nothing
/// they may not need.
const READ_AHEAD_FROM: usize = 1024;

/// Read the candidates from their blocks, a few at first and more each round, checking each
/// against `f`.
fn by_candidates(
    c: &mut Client,
    f: &Filter,
    candidates: &mut Candidates,
    limit: usize,
    each: &mut EachRows,
) -> Result<(), ReadError> {
    let mut handed = 0usize;
    // A listing without a limit wants every candidate: its first window is large enough to
    // be read ahead of, so the server's sending and the decoding overlap from the start.
    let mut step = match f.limit {
        None => READ_AHEAD_FROM,
        Some(_) => limit.clamp(1, 64),
    };
    // A window of candidates and their blocks, read before its turn when it is read ahead.
    let mut chunk = candidates.take(c, f, step)?;
    let mut fetched = Fetched::read(c, &chunk)?;
    while !chunk.is_empty() {
        step = (step * 4).min(BATCH);
        let (mut rows, ahead) = if chunk.len() >= READ_AHEAD_FROM {
            let following = candidates.take(c, f, step)?;
            let (rows, read) = while_decoding(|| fetched.rows(), || Fetched::read(c, &following));
            (rows?, Some((following, read?)))
        } else {
            (fetched.rows()?, None)
        };
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut out = Vec::with_capacity(chunk.len().min(limit.saturating_sub(handed)));
        for e in &chunk {
            if handed + out.len() >= limit {
                break;
            }
            // A list may name an event since pruned, or a copy since replaced.
            let Ok(i) = ids.binary_search(&e.1) else {
                continue;
            };
            if rows[i].time_us == e.0 && f.admits(&rows[i]) {
                // Each candidate once: its row is taken, not copied.
                out.push(std::mem::take(&mut rows[i]));
            }
        }
        handed += out.len();
        if !out.is_empty() && each(c, out)?.is_break() || handed >= limit {
            return Ok(());
        }
        (chunk, fetched) = match ahead {
            Some(window) => window,
            None => {
                let following = candidates.take(c, f, step)?;
                let read = Fetched::read(c, &following)?;
                (following, read)
            }
        };
    }
    Ok(())
}

/// The heads (first id, first time) of the blocks whose events' times overlap
/// `[since, until]`, in time order (first time, then first id), read a page at a time. Each
/// page is a walk of the index on first times from where the last page ended, so a scan that
/// stops after a few blocks reads a few pages, however many blocks the store holds; a cursor
/// over one statement for all of them had the server sort every block's head first.
struct InTimeHeads {
    since: i64,
    until: i64,
    /// The last head read: the next page starts after it.
    after: (i64, i64),
    /// The next page's size: small first (a `--limit` needs a few blocks), then larger.
    page: i64,
    exhausted: bool,
}

impl InTimeHeads {
    const FIRST_PAGE: i64 = 32;
    const MOST_PAGE: i64 = 1024;

    fn new(since: i64, until: i64) -> Self {
        Self {
            since,
            until,
            // Every head is after this one: ids start at 1, and a block starts within its
            // first event's day.
            after: (day_start(since), i64::MIN),
            page: Self::FIRST_PAGE,
            exhausted: false,
        }
    }

    fn next_page(&mut self, c: &mut impl GenericClient) -> Result<Vec<(i64, i64)>, ReadError> {
        let page: Vec<(i64, i64)> = c
            .query_typed(
                "SELECT first_id, min_us FROM audit_event_blocks \
                 WHERE min_us >= $1 AND min_us <= $2 AND max_us >= $3 \
                 AND (min_us, first_id) > ($1, $4) \
                 ORDER BY min_us, first_id LIMIT $5",
                &[
                    (&self.after.0, Type::INT8),
                    (&self.until, Type::INT8),
                    (&self.since, Type::INT8),
                    (&self.after.1, Type::INT8),
                    (&self.page, Type::INT8),
                ],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        self.exhausted = (page.len() as i64) < self.page;
        if let Some(&(first_id, min_us)) = page.last() {
            self.after = (min_us, first_id);
        }
        self.page = (self.page * 4).min(Self::MOST_PAGE);
        Ok(page)
    }
}

/// A row ordered as listings are: by time, then id.
struct InOrder(Row);

impl InOrder {
    fn key(&self) -> (i64, i64) {
        (self.0.time_us, self.0.id)
    }
}

impl PartialEq for InOrder {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for InOrder {}

impl PartialOrd for InOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for InOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// A scan's most blocks read at once; from there on, the next step's blocks are read while
/// this step's decode (a long scan is reading on, as a long listing's windows are).
const SCAN_STEP: usize = 64;

/// A step of a scan: the heads (first id, first time) it takes, and their blocks as read.
type ScanStep = (Vec<(i64, i64)>, Vec<postgres::Row>);

/// The next `step` heads of a scan, in time order, paging `heads` into `pending` as needed.
fn next_heads(
    c: &mut impl GenericClient,
    heads: &mut InTimeHeads,
    pending: &mut std::collections::VecDeque<(i64, i64)>,
    step: usize,
) -> Result<Vec<(i64, i64)>, ReadError> {
    if pending.len() < step + 1 && !heads.exhausted {
        pending.extend(heads.next_page(c)?);
    }
    Ok(pending.drain(..step.min(pending.len())).collect())
}

/// The blocks of `take` (heads in time order).
fn fetch_heads(
    c: &mut impl GenericClient,
    take: &[(i64, i64)],
) -> Result<Vec<postgres::Row>, ReadError> {
    let (Some(first), Some(last)) = (take.first(), take.last()) else {
        return Ok(Vec::new());
    };
    let firsts: Vec<i64> = take.iter().map(|t| t.0).collect();
    Ok(fetch(c, &firsts, first.1, last.1)?)
}

/// Read the blocks of `f`'s time in time order, merging them, checking each event.
fn scan(c: &mut Client, f: &Filter, limit: usize, each: &mut EachRows) -> Result<(), ReadError> {
    let mut heads = InTimeHeads::new(f.since, f.until);
    let mut pending: std::collections::VecDeque<(i64, i64)> = Default::default();
    let mut heap: BinaryHeap<Reverse<InOrder>> = BinaryHeap::new();
    let mut handed = 0usize;
    let mut step = 2usize;
    // The next step's heads and blocks, read while the step before decoded.
    let mut ahead: Option<ScanStep> = None;
    // Without a named filter, time and facets decide: the rows are built only for the events
    // they keep.
    let kept = |_, time: i64, facets: i32| {
        time >= f.since && time <= f.until && facets::satisfies(i64::from(facets), &f.required)
    };
    loop {
        let (take, blocks) = match ahead.take() {
            Some(step_read) => step_read,
            None => {
                let take = next_heads(c, &mut heads, &mut pending, step)?;
                let blocks = fetch_heads(c, &take)?;
                (take, blocks)
            }
        };
        if take.is_empty() && heap.is_empty() {
            return Ok(());
        }
        let rows = if step >= SCAN_STEP && !take.is_empty() {
            let (rows, next) = while_decoding(
                || decode_all(&blocks, || kept),
                || -> Result<ScanStep, ReadError> {
                    let take = next_heads(c, &mut heads, &mut pending, step)?;
                    let blocks = fetch_heads(c, &take)?;
                    Ok((take, blocks))
                },
            );
            ahead = Some(next?);
            rows?
        } else {
            decode_all(&blocks, || kept)?
        };
        for row in rows {
            if f.admits(&row) {
                heap.push(Reverse(InOrder(row)));
            }
        }
        // Events before the next undecoded block's first time are final.
        let next = ahead.as_ref().and_then(|(take, _)| take.first());
        let bound = match next.or(pending.front()) {
            Some(&(_, min_us)) => min_us,
            None if heads.exhausted => i64::MAX,
            None => continue,
        };
        let mut out = Vec::new();
        while let Some(Reverse(InOrder(next))) = heap.peek() {
            if (next.time_us >= bound && bound != i64::MAX) || handed + out.len() >= limit {
                break;
            }
            out.extend(heap.pop().map(|Reverse(InOrder(row))| row));
            if out.len() >= BATCH {
                break;
            }
        }
        handed += out.len();
        if !out.is_empty() && each(c, out)?.is_break() {
            return Ok(());
        }
        if handed >= limit {
            return Ok(());
        }
        step = (step * 2).min(SCAN_STEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_at_its_midnight_before_1970_too() {
        let day = 86_400_000_000;
        assert_eq!(day_start(0), 0);
        assert_eq!(day_start(day + 5), day);
        assert_eq!(day_start(-1), -day);
        assert_eq!(day_start(i64::MIN), i64::MIN);
    }

    /// Four batches of events whose times overlap, a listing of every filter of names and
    /// times with and without a limit: the same events in the same order whether the lists
    /// are read whole or by stretches (and then read whole after a stretch with no
    /// candidate), and the same as filtering every event by hand.
    #[test]
    fn lists_read_by_stretches_or_whole_list_the_same_events() {
        use rand::{Rng, SeedableRng};
        let Some((_db, mut c)) = crate::testing::migrated() else {
            return;
        };
        let t0 = 1_730_419_200_000_000i64; // 2024-11-01
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut random = move |n: usize| rng.gen_range(0..n);
        let mut all: Vec<Row> = Vec::new();
        for batch in 0..4i64 {
            let first_id = all.len() as i64 + 1;
            let rows: Vec<Row> = (0..6000i64)
                .map(|i| Row {
                    id: first_id + i,
                    time_us: t0 + batch * 3 * 3_600_000_000 + i * 37_000_000,
                    // An action only the last batch has: with name 11, lists that share
                    // no event though their times overlap.
                    action: if batch == 3 && random(4) == 0 {
                        12
                    } else {
                        [6, 7][random(2)]
                    },
                    principal: Some([8, 9, 9][random(3)]),
                    // A name only the first batch has, and one only the last batch's
                    // second half has: with action 12, the first stretch of the action's
                    // list has no candidate, and the rest, read whole, has some.
                    issuer: match batch {
                        0 => (random(5) == 0).then_some(11),
                        3 => (i >= 3000).then_some(13),
                        _ => None,
                    },
                    resources: if random(2) == 0 { vec![10] } else { vec![] },
                    ..Row::default()
                })
                .collect();
            store_batch(&mut c, &rows);
            all.extend(rows);
        }
        // A store written before blocks of format 2 goes on holding its blocks of format 1
        // beside new ones: every other block is rewritten in the older format.
        let stored = c
            .query(
                "SELECT first_id, data FROM audit_event_blocks ORDER BY first_id",
                &[],
            )
            .unwrap();
        for r in stored.iter().step_by(2) {
            let rows = blocks::decode(r.get(1)).unwrap();
            let older = blocks::encode_as(&rows, blocks::VARINTS);
            c.execute(
                "UPDATE audit_event_blocks SET data = $2 WHERE first_id = $1",
                &[&r.get::<_, i64>(0), &older],
            )
            .unwrap();
        }
        let formats: Vec<i32> = c
            .query(
                "SELECT DISTINCT get_byte(data, 0) FROM audit_event_blocks ORDER BY 1",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(formats, [1, 2], "blocks of both formats");
        all.sort_by_key(|r| (r.time_us, r.id));
        let names = [
            None,
            Some(vec![8]),
            Some(vec![9, 11]),
            Some(vec![11]),
            Some(vec![13]),
        ];
        let actions = [None, Some(vec![6]), Some(vec![12])];
        let resources = [None, Some(vec![10])];
        let times = [
            (i64::MIN, i64::MAX),
            (t0 + 86_400_000_000, t0 + 2 * 86_400_000_000),
        ];
        for (principals, actions, resources, (since, until)) in
            product(&names, &actions, &resources, &times)
        {
            for limit in [Some(1), Some(20), Some(700), None] {
                let f = Filter {
                    resources: resources.clone(),
                    principals: principals.clone(),
                    actions: actions.clone(),
                    required: Vec::new(),
                    since: *since,
                    until: *until,
                    limit,
                };
                let want = wanted(&all, &f);
                for stretch_from in [0, i64::MAX] {
                    let got = listed(&mut c, &f, stretch_from);
                    assert!(
                        got == want,
                        "{f:?}, stretches from {stretch_from}: {} listed, {} wanted",
                        got.len(),
                        want.len()
                    );
                }
            }
        }
    }

    /// A scan reads hundreds of blocks whose times overlap (three batches a day, each its own
    /// block), far past the step from which it reads the next blocks while the last decode,
    /// and hands on every event once, in time order.
    #[test]
    fn a_long_scan_merges_every_block_in_time_order() {
        let Some((_db, mut c)) = crate::testing::migrated() else {
            return;
        };
        const DAY: i64 = 86_400_000_000;
        let t0 = 1_730_419_200_000_000i64; // 2024-11-01
        let mut all: Vec<Row> = Vec::new();
        for batch in 0..3i64 {
            let first_id = all.len() as i64 + 1;
            let rows: Vec<Row> = (0..150 * 4i64)
                .map(|i| Row {
                    id: first_id + i,
                    // Four events a day for 150 days, each batch's a second apart from the
                    // others' at the same hour: blocks of one day from each batch.
                    time_us: t0 + (i / 4) * DAY + (i % 4) * 3_600_000_000 + (2 - batch) * 1_000_000,
                    ..Row::default()
                })
                .collect();
            store_batch(&mut c, &rows);
            all.extend(rows);
        }
        all.sort_by_key(|r| (r.time_us, r.id));
        for (since, until) in [(i64::MIN, i64::MAX), (t0 + 9 * DAY + 1, t0 + 140 * DAY)] {
            for limit in [Some(5), Some(1000), None] {
                let f = Filter {
                    resources: None,
                    principals: None,
                    actions: None,
                    required: Vec::new(),
                    since,
                    until,
                    limit,
                };
                let (got, want) = (listed(&mut c, &f, STRETCH_FROM), wanted(&all, &f));
                assert!(
                    got == want,
                    "{f:?}: {} listed, {} wanted",
                    got.len(),
                    want.len()
                );
            }
        }
    }

    /// Store `rows` as one writer's batch.
    fn store_batch(c: &mut Client, rows: &[Row]) {
        let mut tx = c.transaction().unwrap();
        crate::partitions::ensure(&mut tx, rows.iter().map(|r| r.time_us)).unwrap();
        crate::events::store_rows(&mut tx, rows).unwrap();
        tx.commit().unwrap();
    }

    /// The ids of the events `f` lists, its lists read by stretches from `stretch_from` bytes.
    fn listed(c: &mut Client, f: &Filter, stretch_from: i64) -> Vec<i64> {
        let mut got = Vec::new();
        each_row_stretching_from(c, f, stretch_from, &mut |_, rows| {
            got.extend(rows.iter().map(|r| r.id));
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        got
    }

    /// The ids of the events among `all` (in listing order) that `f` admits, up to its limit:
    /// filtering by hand.
    fn wanted(all: &[Row], f: &Filter) -> Vec<i64> {
        all.iter()
            .filter(|r| f.admits(r))
            .take(f.limit.unwrap_or(usize::MAX))
            .map(|r| r.id)
            .collect()
    }

    /// Every combination of one value from each of four lists.
    fn product<'a, A, B, C, D>(
        a: &'a [A],
        b: &'a [B],
        c: &'a [C],
        d: &'a [D],
    ) -> impl Iterator<Item = (&'a A, &'a B, &'a C, &'a D)> {
        a.iter().flat_map(move |a| {
            b.iter().flat_map(move |b| {
                c.iter()
                    .flat_map(move |c| d.iter().map(move |d| (a, b, c, d)))
            })
        })
    }
}
