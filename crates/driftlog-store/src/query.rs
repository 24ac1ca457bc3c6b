//! Reading events back: the filters of `driftlog events`, each served by an index.

use crate::{Store, StoreError};
use driftlog_core::{Actor, ActorKind, AuditEvent, Outcome, Principal, Source};
use rusqlite::types::Value;
use rusqlite::Row;

/// Filters; every one that is set must match.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// An id, ARN, name, URL or Kubernetes path the event names (any of its spellings).
    pub resource: Option<String>,
    /// The acting principal or the role/user it assumed (exact, or a glob with `*`).
    pub principal: Option<String>,
    /// The action name (exact, or a glob with `*`).
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

/// An event as stored, with the store's own row id (stable, usable with [`Store::raw`]).
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: i64,
    pub event: AuditEvent,
}

const COLUMNS: &str = "e.id, e.source, e.event_id, e.time_us, e.account, e.region, e.service, \
    e.action, e.read_only, e.outcome, e.error_message, e.principal, e.principal_type, e.issuer, \
    e.session_name, e.source_identity, e.on_behalf_of, e.invoked_by, e.mfa, e.actor_kind, \
    e.actor_rule, e.source_ip, e.user_agent, e.resources, e.completeness";

fn is_glob(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

impl Store {
    /// Events matching `q`, oldest first.
    pub fn query(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM events e");
        let mut args: Vec<Value> = Vec::new();
        let mut clauses: Vec<String> = Vec::new();
        let arg = |v: Value, args: &mut Vec<Value>| {
            args.push(v);
            format!("?{}", args.len())
        };
        if let Some(resource) = &q.resource {
            // Azure keeps resource ids lower-cased (they are case-insensitive there).
            let exact = arg(Value::Text(resource.clone()), &mut args);
            let lower = arg(Value::Text(resource.to_ascii_lowercase()), &mut args);
            sql.push_str(&format!(
                " JOIN (SELECT DISTINCT event FROM refs WHERE ref IN ({exact}, {lower})) r \
                 ON r.event = e.id"
            ));
        }
        if let Some(p) = &q.principal {
            let a = arg(Value::Text(p.clone()), &mut args);
            clauses.push(if is_glob(p) {
                format!("(e.principal GLOB {a} OR e.issuer GLOB {a})")
            } else {
                format!("(e.principal = {a} OR e.issuer = {a})")
            });
        }
        if let Some(action) = &q.action {
            let a = arg(Value::Text(action.clone()), &mut args);
            clauses.push(if is_glob(action) {
                format!("e.action GLOB {a}")
            } else {
                format!("e.action = {a}")
            });
        }
        if let Some(kind) = q.actor_kind {
            let a = arg(Value::Text(kind.as_str().into()), &mut args);
            clauses.push(format!("e.actor_kind = {a}"));
        }
        if let Some(source) = q.source {
            let a = arg(Value::Text(source.as_str().into()), &mut args);
            clauses.push(format!("e.source = {a}"));
        }
        if let Some(since) = q.since_us {
            let a = arg(Value::Integer(since), &mut args);
            clauses.push(format!("e.time_us >= {a}"));
        }
        if let Some(until) = q.until_us {
            let a = arg(Value::Integer(until), &mut args);
            clauses.push(format!("e.time_us <= {a}"));
        }
        if q.writes_only {
            clauses.push("e.read_only = 0".into());
        }
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        sql.push_str(" ORDER BY e.time_us, e.id");
        if let Some(limit) = q.limit {
            let a = arg(Value::Integer(limit.min(i64::MAX as u64) as i64), &mut args);
            sql.push_str(&format!(" LIMIT {a}"));
        }
        let err = |e| StoreError::sql(&self.path, e);
        let mut stmt = self.conn.prepare(&sql).map_err(err)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), read_row)
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    /// The original record of a stored event, as logged.
    pub fn raw(&self, id: i64) -> Result<Vec<u8>, StoreError> {
        let err = |e| StoreError::sql(&self.path, e);
        let (block, offset, len): (i64, i64, i64) = self
            .conn
            .query_row(
                "SELECT raw_block, raw_offset, raw_len FROM events WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(err)?;
        let blob: Vec<u8> = self
            .conn
            .query_row("SELECT lz4 FROM raw_blocks WHERE id = ?1", [block], |r| {
                r.get(0)
            })
            .map_err(err)?;
        let damaged = |reason: String| StoreError::Damaged {
            path: self.path.clone(),
            id,
            reason,
        };
        let data = lz4_flex::decompress_size_prepended(&blob)
            .map_err(|e| damaged(format!("evidence block {block} does not decompress: {e}")))?;
        let (offset, len) = (offset as usize, len as usize);
        data.get(offset..offset + len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| damaged(format!("record lies outside evidence block {block}")))
    }
}

fn read_row(r: &Row) -> rusqlite::Result<StoredEvent> {
    let text = |i: usize| r.get::<_, Option<String>>(i);
    let source: String = r.get(1)?;
    let outcome: String = r.get(9)?;
    let outcome = match outcome.as_str() {
        "success" => Outcome::Success,
        "unknown" => Outcome::Unknown,
        _ => Outcome::Failure {
            code: outcome,
            message: text(10)?,
        },
    };
    let kind: String = r.get(19)?;
    let resources: String = r.get(23)?;
    Ok(StoredEvent {
        id: r.get(0)?,
        event: AuditEvent {
            source: source.parse().unwrap_or(Source::Aws),
            event_id: r.get(2)?,
            time_us: r.get(3)?,
            account: text(4)?,
            region: text(5)?,
            service: text(6)?,
            action: r.get(7)?,
            read_only: r.get(8)?,
            outcome,
            principal: Principal {
                id: text(11)?,
                kind: text(12)?,
                issuer: text(13)?,
                session_name: text(14)?,
                source_identity: text(15)?,
                on_behalf_of: text(16)?,
                invoked_by: text(17)?,
                mfa: r.get(18)?,
            },
            actor: Actor {
                kind: kind.parse().unwrap_or(ActorKind::Unknown),
                rule: r.get(20)?,
            },
            source_ip: text(21)?,
            user_agent: text(22)?,
            resources: serde_json::from_str(&resources).unwrap_or_default(),
            completeness: r.get(24)?,
        },
    })
}
