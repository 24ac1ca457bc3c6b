//! The JSON API, `/api/v1/`: stacks, runs, findings (with their attribution evidence),
//! acknowledgements, runs on demand, alerts and event search; the ledger (`crate::tlog`); plus
//! `/healthz`, `/readyz` and `/metrics`.
//!
//! Every error is `{"error": {"code": "…", "message": "…"}}` with a fitting status. Listings
//! are pages: `limit` (default 100, at most 1000) and a cursor (`after` for findings, `before`
//! for runs) given back as `next`.

use crate::auth::{Caller, Role};
use crate::State;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use driftlog_store::service::{FindingQuery, RunQuery};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The API's version, in its paths and its OpenAPI document.
pub const VERSION: &str = "1.0.0";

/// A structured error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"driftlog\""),
            );
        }
        r
    }
}

impl From<driftlog_store::StoreError> for ApiError {
    fn from(e: driftlog_store::StoreError) -> Self {
        tracing::warn!(error = %e, "store error in a request");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the store could not answer; try again",
        )
    }
}

/// A caller with at least the read role.
pub struct Reader(pub Caller);
/// A caller with the admin role.
pub struct Admin(pub Caller);

fn caller(parts: &Parts, state: &Arc<State>, role: Role) -> Result<Caller, ApiError> {
    let token = crate::auth::token_of(&parts.headers);
    // A browser sends the sign-in cookie with any site's form: a write on the cookie alone
    // must also carry a header that only the dashboard's own script can add.
    let by_cookie = !parts.headers.contains_key(header::AUTHORIZATION) && token.is_some();
    if by_cookie
        && !matches!(
            parts.method,
            axum::http::Method::GET | axum::http::Method::HEAD
        )
        && parts
            .headers
            .get("x-requested-with")
            .and_then(|v| v.to_str().ok())
            != Some("driftlog")
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a write with the dashboard's cookie needs the header X-Requested-With: driftlog",
        ));
    }
    match state.tokens.check(token) {
        Some(c) if c.role >= role => Ok(c),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token's role may only read",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "give a token: Authorization: Bearer TOKEN",
        )),
    }
}

impl FromRequestParts<Arc<State>> for Reader {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, ApiError> {
        caller(parts, state, Role::Read).map(Reader)
    }
}

impl FromRequestParts<Arc<State>> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, ApiError> {
        caller(parts, state, Role::Admin).map(Admin)
    }
}

/// A filter given empty (`?stack=`) is no filter: forms and scripts send empty fields.
fn given(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// A query string that does not parse is a 400 in the API's error shape.
pub struct Q<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> FromRequestParts<Arc<State>> for Q<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Q(q))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// The API's routes.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/stacks", get(stacks))
        .route("/api/v1/stacks/{name}/run", post(run_stack))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/findings", get(findings))
        .route("/api/v1/findings/{id}", get(finding))
        .route("/api/v1/findings/{id}/ack", post(acknowledge))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/events", get(events))
        .route("/api/v1/timeline", get(timeline))
        .merge(crate::tlog::router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn(time_limit))
        .with_state(state)
}

/// Every request answers within 30 s or gets a 503 in the API's error shape.
async fn time_limit(request: Request, next: Next) -> Response {
    match tokio::time::timeout(Duration::from_secs(30), next.run(request)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took longer than 30 s",
        )
        .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such path")
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the loops run and the store answers.
async fn readyz(axum::extract::State(state): axum::extract::State<Arc<State>>) -> Response {
    if !state.ready.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: starting or stopping\n",
        )
            .into_response();
    }
    match state.blocking(|s| s.stacks()).await {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the store does not answer\n",
        )
            .into_response(),
    }
}

async fn metrics(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> Result<Response, ApiError> {
    let stacks = state.blocking(|s| s.stacks()).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(&stacks),
    )
        .into_response())
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../openapi.json"),
    )
        .into_response()
}

/// Every configured stack with its standing (a stack that has not run yet has no `status`).
pub async fn stack_list(state: &Arc<State>) -> Result<Vec<Value>, ApiError> {
    let status = state.blocking(|s| s.stacks()).await?;
    Ok(state
        .service
        .config
        .stacks
        .iter()
        .map(|s| {
            let name = s.name.get_ref();
            let st = status.iter().find(|x| &x.stack == name);
            json!({
                "name": name,
                "environment": s.environment.get_ref(),
                "schedule": s.schedule.get_ref(),
                "source": match (&s.state, &s.terraform) {
                    (Some(state), _) => json!({"state": state.get_ref(), "live": s.live.as_ref().map(|l| l.get_ref())}),
                    (_, Some(dir)) => json!({"terraform": dir.get_ref(), "live": s.live.as_ref().map(|l| l.get_ref())}),
                    _ => Value::Null,
                },
                "status": st.map(|s| json!({
                    "open": s.open,
                    "changed": s.changed,
                    "deleted": s.deleted,
                    "unmanaged": s.unmanaged,
                    "acknowledged": s.acknowledged,
                    "last_run": s.last_run.as_ref().map(run_json),
                    "last_success": s.last_success_us.map(time),
                })),
            })
        })
        .collect())
}

async fn stacks(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": stack_list(&state).await? })))
}

async fn run_stack(
    Admin(who): Admin,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let job = format!("stack:{name}");
    let now = driftlog_app::service::now_us();
    let found = state.blocking(move |s| s.run_now(&job, now)).await?;
    if !found {
        return Err(ApiError::not_found(format!("no stack `{name}`")));
    }
    tracing::info!(stack = %name, by = %who.name, "run requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"stack": name, "due": time(now)})),
    )
        .into_response())
}

fn time(us: i64) -> String {
    driftlog_core::time::format_time_us(us)
}

pub fn run_json(r: &driftlog_store::service::RunRow) -> Value {
    json!({
        "id": r.id,
        "job": r.job,
        "stack": r.stack,
        "environment": r.environment,
        "started": time(r.started_us),
        "finished": time(r.finished_us),
        "outcome": r.outcome,
        "open": r.open,
        "new": r.new,
        "changed": r.changed,
        "resolved": r.resolved,
        "summary": r.summary,
    })
}

/// A finding as the API serves it. The stored report entry is written out as stored, not
/// parsed and serialized again: listing pages are mostly that.
#[derive(serde::Serialize)]
pub struct FindingOut<'a> {
    id: i64,
    stack: &'a str,
    environment: &'a str,
    address: &'a str,
    kind: &'a str,
    state: &'a str,
    first_seen: String,
    last_seen: String,
    changed: String,
    resolved: Option<String>,
    first_run: i64,
    last_run: i64,
    acknowledged: Option<Value>,
    finding: &'a serde_json::value::RawValue,
}

pub fn finding_json(f: &driftlog_store::service::FindingRow) -> FindingOut<'_> {
    FindingOut {
        id: f.id,
        stack: &f.stack,
        environment: &f.environment,
        address: &f.address,
        kind: &f.kind,
        state: &f.state,
        first_seen: time(f.first_seen_us),
        last_seen: time(f.last_seen_us),
        changed: time(f.changed_us),
        resolved: f.resolved_us.map(time),
        first_run: f.first_run,
        last_run: f.last_run,
        acknowledged: f
            .acknowledged
            .as_ref()
            .map(|a| json!({"by": a.by, "at": time(a.at_us), "note": a.note})),
        finding: &f.finding,
    }
}

/// The same as a value (the dashboard's templates read its fields).
pub fn finding_value(f: &driftlog_store::service::FindingRow) -> Value {
    serde_json::to_value(finding_json(f)).unwrap_or(Value::Null)
}

fn limit(n: Option<usize>) -> Result<usize, ApiError> {
    match n.unwrap_or(100) {
        0 => Err(ApiError::bad_request("limit is at least 1")),
        n if n > 1000 => Err(ApiError::bad_request("limit is at most 1000")),
        n => Ok(n),
    }
}

fn since(s: Option<&str>) -> Result<Option<i64>, ApiError> {
    s.map(|s| {
        driftlog_core::time::parse(
            s,
            jiff::Timestamp::now(),
            driftlog_core::time::Bound::Start,
            driftlog_core::time::Direction::Past,
        )
        .map(|t| t.us)
        .map_err(|e| ApiError::bad_request(format!("since: {e}")))
    })
    .transpose()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunParams {
    stack: Option<String>,
    job: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
}

async fn runs(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Q(p): Q<RunParams>,
) -> Result<Json<Value>, ApiError> {
    let q = RunQuery {
        stack: given(p.stack),
        job: given(p.job),
        before_id: p.before,
        limit: limit(p.limit)?,
    };
    let n = q.limit;
    let rows = state.blocking(move |s| s.runs(&q)).await?;
    let next = (rows.len() == n)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(Json(json!({
        "items": rows.iter().map(run_json).collect::<Vec<_>>(),
        "next": next,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingParams {
    stack: Option<String>,
    address: Option<String>,
    environment: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    since: Option<String>,
    after: Option<i64>,
    limit: Option<usize>,
}

async fn findings(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    headers: axum::http::HeaderMap,
    Q(p): Q<FindingParams>,
) -> Result<Response, ApiError> {
    let p = FindingParams {
        stack: given(p.stack),
        address: given(p.address),
        environment: given(p.environment),
        since: given(p.since),
        ..p
    };
    if let Some(k) = &p.kind {
        if !matches!(k.as_str(), "changed" | "deleted" | "unmanaged") {
            return Err(ApiError::bad_request(
                "kind is changed, deleted or unmanaged",
            ));
        }
    }
    if let Some(s) = &p.state {
        if !matches!(s.as_str(), "open" | "resolved") {
            return Err(ApiError::bad_request("state is open or resolved"));
        }
    }
    // A relative `since` (`2h`) names another window at every request: not kept.
    let keep = p.since.is_none();
    let q = FindingQuery {
        stack: p.stack,
        address: p.address,
        environment: p.environment,
        kind: p.kind,
        state: p.state,
        since_us: since(p.since.as_deref())?,
        after_id: p.after,
        limit: limit(p.limit)?,
    };
    let key = format!("{q:?}");
    // The generation first, then the listing: a page is never labelled newer than it is.
    let generation = state.generation().await?;
    let cached = keep.then(|| state.pages.get(&key, generation)).flatten();
    let body = match cached {
        Some(body) => body,
        None => {
            let shared = state.clone();
            state
                .blocking(move |s| {
                    let rows = s.findings(&q)?;
                    let body = findings_page(&rows, q.limit);
                    if keep {
                        shared.pages.put(key, generation, body.clone());
                    }
                    Ok(body)
                })
                .await?
        }
    };
    let mut response = if keep {
        let tag = crate::cache::etag(generation);
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| crate::cache::matches(v, &tag));
        let mut r = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        };
        r.headers_mut()
            .insert(header::ETAG, header::HeaderValue::from_str(&tag).unwrap());
        r
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    // Behind a token: no shared cache may keep it, and a client asks again each time.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-cache"),
    );
    Ok(response)
}

/// A page of findings as JSON: the items and the cursor of the next page (`null` on the
/// last).
fn findings_page(rows: &[driftlog_store::service::FindingRow], limit: usize) -> Bytes {
    #[derive(serde::Serialize)]
    struct Page<'a> {
        items: Vec<FindingOut<'a>>,
        next: Option<i64>,
    }
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let page = Page {
        items: rows.iter().map(finding_json).collect(),
        next,
    };
    serde_json::to_vec(&page)
        .expect("a page of findings serializes")
        .into()
}

fn id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not a finding id")))
}

async fn finding(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = id(&raw)?;
    let row = state.blocking(move |s| s.finding(id)).await?;
    let row = row.ok_or_else(|| ApiError::not_found(format!("no finding {id}")))?;
    Ok(Json(finding_json(&row)).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    note: Option<String>,
}

async fn acknowledge(
    Admin(who): Admin,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Path(raw): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let id = id(&raw)?;
    // An empty body is no note; anything else is `{"note": "…"}`.
    let body: AckBody = if body.iter().all(u8::is_ascii_whitespace) {
        AckBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!("the body is not {{\"note\": \"…\"}}: {e}"))
        })?
    };
    let note = body.note;
    if note.as_ref().is_some_and(|n| n.len() > 2000) {
        return Err(ApiError::bad_request("note: at most 2000 bytes"));
    }
    let by = who.name.clone();
    let now = driftlog_app::service::now_us();
    let done = state
        .blocking(move |s| s.acknowledge(id, &by, note.as_deref(), now))
        .await?;
    if !done {
        return Err(ApiError::not_found(format!("no finding {id}")));
    }
    let row = state.blocking(move |s| s.finding(id)).await?;
    let row = row.ok_or_else(|| ApiError::not_found(format!("no finding {id}")))?;
    tracing::info!(finding = id, by = %who.name, "acknowledged");
    Ok(Json(finding_json(&row)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertParams {
    state: Option<String>,
    limit: Option<usize>,
}

async fn alerts(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Q(p): Q<AlertParams>,
) -> Result<Json<Value>, ApiError> {
    if let Some(s) = &p.state {
        if !matches!(s.as_str(), "pending" | "delivered" | "dead") {
            return Err(ApiError::bad_request("state is pending, delivered or dead"));
        }
    }
    let n = limit(p.limit)?;
    let rows = state
        .blocking(move |s| s.deliveries(p.state.as_deref(), n))
        .await?;
    Ok(Json(json!({
        "items": rows.iter().map(|d| json!({
            "id": d.id,
            "target": d.target,
            "run": d.run,
            "state": d.state,
            "attempts": d.attempts,
            "created": time(d.created_us),
            "next_attempt": (d.state == "pending").then(|| time(d.next_us)),
            "done": d.done_us.map(time),
            "last_error": d.last_error,
            "body": serde_json::from_str::<Value>(&d.body).unwrap_or(Value::Null),
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventParams {
    resource: Option<String>,
    principal: Option<String>,
    action: Option<String>,
    actor_kind: Option<String>,
    source: Option<String>,
    since: Option<String>,
    until: Option<String>,
    writes_only: Option<bool>,
    limit: Option<usize>,
}

/// The `driftlog events` search (newest first), without raw records: those may hold what a
/// request carried, and stay on the command line.
async fn events(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Q(p): Q<EventParams>,
) -> Result<Json<Value>, ApiError> {
    let actor_kind = p
        .actor_kind
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|_| ApiError::bad_request("actor_kind: not an actor kind"))?;
    let source = p
        .source
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|_| ApiError::bad_request("source: not a log source"))?;
    let request = driftlog_app::events::EventsRequest {
        store: state.service.store.clone(),
        resource: given(p.resource),
        principal: given(p.principal),
        action: given(p.action),
        actor_kind,
        source,
        since: given(p.since),
        until: given(p.until),
        writes_only: p.writes_only.unwrap_or(false),
        limit: Some(limit(p.limit)? as u64),
        raw: false,
    };
    let (items, address_identifiers) = search_events(request).await?;
    Ok(Json(json!({
        "items": items,
        "address_identifiers": address_identifiers,
    })))
}

/// Run an event search off the async threads: the events as JSON, and the identifiers a
/// Terraform address stood for.
async fn search_events(
    request: driftlog_app::events::EventsRequest,
) -> Result<(Vec<Value>, Vec<String>), ApiError> {
    let found = tokio::task::spawn_blocking(move || driftlog_app::events::search(&request))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the search failed",
            )
        })?;
    let found = found.map_err(|e| match e {
        driftlog_app::AppError::Time { .. }
        | driftlog_app::AppError::Usage(_)
        | driftlog_app::AppError::Input(_) => ApiError::bad_request(e.to_string()),
        other => {
            tracing::warn!(error = %other, "event search failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the event store could not answer",
            )
        }
    })?;
    let items: Vec<Value> = found
        .listed
        .events
        .iter()
        .map(|e| {
            driftlog_report::events::event_json(&driftlog_report::events::EventView {
                id: e.id,
                event: &e.event,
                raw: None,
            })
        })
        .collect();
    Ok((items, found.address_identifiers))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimelineParams {
    resource: Option<String>,
    limit: Option<usize>,
}

/// One resource's story (`driftlog explain` without state files): its findings in every stack
/// with their life, and the audit events naming it under any identifier it had, newest first.
async fn timeline(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Q(p): Q<TimelineParams>,
) -> Result<Json<Value>, ApiError> {
    let resource = given(p.resource).ok_or_else(|| {
        ApiError::bad_request("resource: give a Terraform address, an id, an ARN or a name")
    })?;
    let n = limit(p.limit)?;
    let q = FindingQuery {
        address: Some(resource.clone()),
        limit: 1000,
        ..FindingQuery::default()
    };
    let rows = state.blocking(move |s| s.findings(&q)).await?;
    let (events, identifiers) = search_events(driftlog_app::events::EventsRequest {
        store: state.service.store.clone(),
        resource: Some(resource.clone()),
        principal: None,
        action: None,
        actor_kind: None,
        source: None,
        since: None,
        until: None,
        writes_only: false,
        limit: Some(n as u64),
        raw: false,
    })
    .await?;
    Ok(Json(json!({
        "resource": resource,
        "identifiers": identifiers,
        "findings": rows.iter().map(finding_value).collect::<Vec<_>>(),
        "events": events,
    })))
}
