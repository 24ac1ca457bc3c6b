//! The statement an `events` query runs on PostgreSQL, shaped so that the planner has no bad
//! choice left.
//!
//! Left to itself, PostgreSQL answers "the first 20 events of a busy principal that wrote" by
//! walking the time index and checking each row, hoping to find 20 early: when the principal
//! never wrote, it reads every event in the store (0.6 s on a million, and linear in the
//! store). So the query is planned here, from what the store records:
//!
//! - Every event keeps its facets (write or not, actor kind, source) packed in one integer
//!   (`driftlog_store::facets`), and the indexes over who and what lead with the name, then
//!   the facets, then the time. `audit_string_facets` records which facets each name was
//!   stored with, and `audit_facets` which the store has at all. A query's facet filters
//!   become the set of packed values that satisfy them *and* occur: empty, and the answer is
//!   known at once; otherwise the filter is an equality on an indexed column.
//! - With one named filter (a principal, which may be the principal or the issuer, or an
//!   action) and a limit, the statement is a merge of one index range per (column, facets)
//!   pair, each already in time order and cut at the limit: it reads at most the limit from
//!   each, whatever the store's size. With facet filters alone, the same over the index on
//!   (facets, time).
//! - With a resource (the GIN index, which has no order) or several named filters, the
//!   matching events are found first (the planner's bitmaps over every index that applies),
//!   then sorted. With a limit this is done in widening windows of time from the oldest event
//!   on (an hour, then eight times the last), until the limit is reached: a busy resource's
//!   first 20 events are found among its first hour's, not among all its 43,000. Without one,
//!   over the whole range at once: the work is the size of the answer, never the store's.
//! - With no filter, or none but time, the time index in order.

use crate::events::READ_COLUMNS;
use crate::strings::Strings;
use driftlog_core::glob::Glob;
use driftlog_store::{facets, EventQuery};
use postgres::types::ToSql;
use postgres::GenericClient;

/// Above this many ranges to merge, the statement finds the matching events first instead:
/// planning that many branches would cost more than it saves.
const MAX_BRANCHES: usize = 48;

/// Arguments of a dynamic statement, numbered as they are added.
#[derive(Default)]
pub(crate) struct Args {
    values: Vec<Box<dyn ToSql + Sync>>,
}

impl Args {
    fn add(&mut self, v: impl ToSql + Sync + 'static) -> String {
        self.values.push(Box::new(v));
        format!("${}", self.values.len())
    }

    /// The placeholder of the `n`th value bound after these (from 1).
    fn after(&self, n: usize) -> String {
        format!("${}", self.values.len() + n)
    }

    pub(crate) fn bound(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values.iter().map(|v| v.as_ref()).collect()
    }
}

/// A named filter's value as ids: one string, the strings a glob matches, or none (a value
/// no event has).
enum Key {
    One(i32),
    Any(Vec<i32>),
}

impl Key {
    fn resolve(
        c: &mut impl GenericClient,
        strings: &mut Strings,
        text: &str,
    ) -> Result<Option<Key>, postgres::Error> {
        if Glob::is_pattern(text) {
            let ids = Strings::matching(c, &Glob::new(text).to_like())?;
            return Ok((!ids.is_empty()).then_some(Key::Any(ids)));
        }
        Ok(strings
            .find(c, &[text.to_owned()])?
            .first()
            .map(|&id| Key::One(id)))
    }

    /// `column` holding this key.
    fn test(&self, column: &str, args: &mut Args) -> String {
        match self {
            Key::One(id) => format!("{column} = {}", args.add(*id)),
            Key::Any(ids) => format!("{column} = ANY({})", args.add(ids.clone())),
        }
    }
}

/// How a query is read.
pub(crate) enum Plan {
    /// One statement; its rows are the answer, in order.
    Statement(String, Args),
    /// One statement per window of time, its last three parameters the window's start
    /// (inclusive), end (exclusive) and how many events are still wanted; windows widen from
    /// `from` until `limit` events are found or the window passes `through`.
    Windows {
        sql: String,
        args: Args,
        from: i64,
        through: i64,
        limit: i64,
    },
}

/// The first window's width: an hour.
const FIRST_WINDOW_US: i64 = 3_600_000_000;
/// Each window is this many times as wide as the one before.
const WIDENING: i64 = 8;

impl Plan {
    /// The plan's rows, in order: its statement's, or window after window's until the limit.
    pub(crate) fn rows(
        &self,
        c: &mut impl GenericClient,
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        let (sql, args, from, through, limit) = match self {
            Plan::Statement(sql, args) => return c.query(sql.as_str(), &args.bound()),
            Plan::Windows {
                sql,
                args,
                from,
                through,
                limit,
            } => (sql, args, *from, *through, *limit),
        };
        let mut rows = Vec::new();
        let (mut start, mut width) = (from, FIRST_WINDOW_US);
        while (rows.len() as i64) < limit && start <= through {
            let end = start.saturating_add(width).min(through.saturating_add(1));
            let wanted = limit - rows.len() as i64;
            let mut bound = args.bound();
            bound.extend([&start as &(dyn ToSql + Sync), &end, &wanted]);
            rows.extend(c.query(sql.as_str(), &bound)?);
            if end == i64::MAX {
                break;
            }
            start = end;
            width = width.saturating_mul(WIDENING);
        }
        Ok(rows)
    }
}

/// The plan of `q`. `names` is what an exact resource stands for (its spellings), found by the
/// caller before it took this connection.
pub(crate) fn query_sql(
    c: &mut impl GenericClient,
    strings: &mut Strings,
    q: &EventQuery,
    names: Option<Vec<String>>,
) -> Result<Plan, postgres::Error> {
    let mut args = Args::default();
    let nothing = || {
        Plan::Statement(
            format!("SELECT {READ_COLUMNS} FROM audit_events e WHERE FALSE"),
            Args::default(),
        )
    };
    let resources = match &q.resource {
        None => None,
        Some(resource) => {
            let ids = match names {
                Some(names) => strings.find(c, &names)?,
                None => Strings::matching(c, &Glob::new(resource).to_like())?,
            };
            if ids.is_empty() {
                return Ok(nothing());
            }
            Some(ids)
        }
    };
    let principal = match &q.principal {
        None => None,
        Some(p) => match Key::resolve(c, strings, p)? {
            None => return Ok(nothing()),
            key => key,
        },
    };
    let action = match &q.action {
        None => None,
        Some(a) => match Key::resolve(c, strings, a)? {
            None => return Ok(nothing()),
            key => key,
        },
    };

    // The facets the answer's events may have: those the filters allow, among those the
    // named values (or, with none, the store) were ever stored with.
    let required = facets::required(q.writes_only, q.actor_kind, q.source);
    let mut occurring: Option<Vec<i32>> = None;
    for key in [&principal, &action].into_iter().flatten() {
        let ids = match key {
            Key::One(id) => vec![*id],
            Key::Any(ids) => ids.clone(),
        };
        let found: Vec<i32> = c
            .query(
                "SELECT DISTINCT facets FROM audit_string_facets WHERE string = ANY($1)",
                &[&ids],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        occurring = Some(match occurring {
            None => found,
            Some(before) => before.into_iter().filter(|f| found.contains(f)).collect(),
        });
    }
    let occurring = match occurring {
        Some(found) => found,
        None => c
            .query("SELECT facets FROM audit_facets", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect(),
    };
    let mut allowed: Vec<i32> = occurring
        .iter()
        .copied()
        .filter(|&f| facets::satisfies(i64::from(f), &required))
        .collect();
    allowed.sort_unstable();
    allowed.dedup();
    if allowed.is_empty() {
        return Ok(nothing());
    }
    // No facet filter: every event passes, and the clause is left out.
    let facet_filter = !required.is_empty();

    let mut common = Vec::new();
    if let Some(since) = q.since_us {
        common.push(format!("e.time_us >= {}", args.add(since)));
    }
    if let Some(until) = q.until_us {
        common.push(format!("e.time_us <= {}", args.add(until)));
    }
    // Bound where a statement uses it (a value bound and not used is an error).
    let limit = q.limit.map(|l| l.min(i64::MAX as u64) as i64);
    let order = " ORDER BY e.time_us, e.id";
    let select = |clauses: &[String]| {
        let mut sql = format!("SELECT {READ_COLUMNS} FROM audit_events e");
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        sql
    };

    // One named filter and a limit: merge the ranges of (column, facets) in time order.
    let one_name = match (&resources, &principal, &action) {
        (None, Some(Key::One(id)), None) => Some((*id, &["e.principal", "e.issuer"][..])),
        (None, None, Some(Key::One(id))) => Some((*id, &["e.action"][..])),
        _ => None,
    };
    if let (Some((id, columns)), Some(limit)) = (one_name, limit) {
        if columns.len() * allowed.len() <= MAX_BRANCHES {
            let limit = &args.add(limit);
            let key = args.add(id);
            let mut branches = Vec::new();
            for (i, column) in columns.iter().enumerate() {
                for &f in &allowed {
                    let mut clauses = vec![format!("{column} = {key}")];
                    // An event whose principal is also its issuer comes from the first range.
                    for earlier in &columns[..i] {
                        clauses.push(format!("{earlier} IS DISTINCT FROM {key}"));
                    }
                    clauses.push(format!("e.facets = {}", args.add(f)));
                    clauses.extend(common.iter().cloned());
                    branches.push(format!("({}{order} LIMIT {limit})", select(&clauses)));
                }
            }
            return Ok(Plan::Statement(merged(&branches, limit), args));
        }
    }
    // Facets alone and a limit: merge the ranges of (facets, time).
    let named = resources.is_some() || principal.is_some() || action.is_some();
    if let (false, true, Some(limit)) = (named, facet_filter, limit) {
        if allowed.len() <= MAX_BRANCHES {
            let limit = &args.add(limit);
            let branches: Vec<String> = allowed
                .iter()
                .map(|&f| {
                    let mut clauses = vec![format!("e.facets = {}", args.add(f))];
                    clauses.extend(common.iter().cloned());
                    format!("({}{order} LIMIT {limit})", select(&clauses))
                })
                .collect();
            return Ok(Plan::Statement(merged(&branches, limit), args));
        }
    }

    let mut clauses = Vec::new();
    if let Some(ids) = resources {
        clauses.push(format!("e.resources && {}::int4[]", args.add(ids)));
    }
    if let Some(key) = &principal {
        clauses.push(format!(
            "({} OR {})",
            key.test("e.principal", &mut args),
            key.test("e.issuer", &mut args)
        ));
    }
    if let Some(key) = &action {
        clauses.push(key.test("e.action", &mut args));
    }
    if facet_filter {
        clauses.push(format!("e.facets = ANY({})", args.add(allowed)));
    }
    clauses.extend(common);
    if let (true, Some(wanted)) = (named, limit) {
        // A named filter and a limit: window by window, the matching events first (bitmaps
        // over every index that applies), then their first few. The window's two ends and
        // the number still wanted are bound last, after every value bound here.
        let row = c.query_one("SELECT min(time_us), max(time_us) FROM audit_events", &[])?;
        let (Some(first), Some(last)) =
            (row.get::<_, Option<i64>>(0), row.get::<_, Option<i64>>(1))
        else {
            return Ok(nothing());
        };
        clauses.push(format!("e.time_us >= {}", args.after(1)));
        clauses.push(format!("e.time_us < {}", args.after(2)));
        let sql = format!(
            "WITH hits AS MATERIALIZED ({}) SELECT * FROM hits e{order} LIMIT {}",
            select(&clauses),
            args.after(3)
        );
        return Ok(Plan::Windows {
            sql,
            args,
            from: q.since_us.map_or(first, |s| s.max(first)),
            through: q.until_us.map_or(last, |u| u.min(last)),
            limit: wanted,
        });
    }
    let sql = match limit {
        // No named filter: the time index, in order. No limit: the whole answer is read anyway.
        Some(limit) => format!("{}{order} LIMIT {}", select(&clauses), args.add(limit)),
        None => format!("{}{order}", select(&clauses)),
    };
    Ok(Plan::Statement(sql, args))
}

/// Ranges already in time order and cut at `limit`, merged and cut again.
fn merged(branches: &[String], limit: &str) -> String {
    format!(
        "SELECT * FROM ({}) e ORDER BY e.time_us, e.id LIMIT {limit}",
        branches.join(" UNION ALL ")
    )
}
