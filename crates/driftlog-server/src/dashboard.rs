//! The dashboard: server-rendered pages (minijinja templates compiled into the binary), one
//! stylesheet and a little vanilla JavaScript, all embedded, so the binary is the whole
//! deployment. Pages read the same store calls as the API and build no numbers of their own.
//!
//! - `/`: every stack, worst first, with its open findings by kind, last run and drift over
//!   time (an SVG plot of open findings per run); environments side by side; comparisons; the
//!   ledger; alerts that could not be delivered.
//! - `/stacks/NAME`: a stack's findings and runs.
//! - `/findings/ID`: what changed, who caused it with the evidence, and the resource's
//!   timeline of audit events (SVG).

use crate::api::{finding_value, run_json, stack_list};
use crate::auth::{Caller, Role, COOKIE};
use crate::State;
use axum::extract::{Form, Path};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use driftlog_store::service::{FindingQuery, RunQuery, RunRow};
use minijinja::{context, Environment};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// A serializable value for a template.
fn v<T: serde::Serialize>(x: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(x))
}
use std::sync::Arc;

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");

fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, text) in [
        ("base.html", include_str!("../templates/base.html")),
        ("overview.html", include_str!("../templates/overview.html")),
        ("stack.html", include_str!("../templates/stack.html")),
        (
            "comparison.html",
            include_str!("../templates/comparison.html"),
        ),
        ("finding.html", include_str!("../templates/finding.html")),
        ("login.html", include_str!("../templates/login.html")),
        ("error.html", include_str!("../templates/error.html")),
    ] {
        env.add_template(name, text)
            .expect("the embedded templates are valid (checked by the tests)");
    }
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env
}

/// The dashboard's routes.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/stacks/{name}", get(stack))
        .route("/comparisons/{name}", get(comparison))
        .route("/findings/{id}", get(finding))
        .route("/login", get(login_form).post(login))
        .route("/logout", get(logout))
        .route("/assets/app.css", get(|| async { asset("text/css", CSS) }))
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript", JS) }),
        )
        .with_state(state)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// A page needs a read token (header or cookie); without one, the sign-in form.
fn viewer(headers: &HeaderMap, state: &State) -> Option<Caller> {
    state.tokens.check(crate::auth::token_of(headers))
}

fn sign_in() -> Response {
    Redirect::to("/login").into_response()
}

fn render(name: &str, ctx: minijinja::Value) -> Response {
    match templates().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, template = name, "cannot render a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let mut r = render(
        "error.html",
        context! { message => message, status => status.as_u16() },
    );
    *r.status_mut() = status;
    r
}

fn unavailable(e: driftlog_store::StoreError) -> Response {
    tracing::warn!(error = %e, "store error on a page");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The store could not answer. Try again in a moment.",
    )
}

/// Worst first: a failed last run, then prod before the rest, then the most open findings.
fn severity(stack: &Value) -> (i64, i64, i64) {
    let status = &stack["status"];
    let failed = status["last_run"]["outcome"] == "error";
    let env = stack["environment"].as_str().unwrap_or("");
    let prod = matches!(env, "prod" | "production" | "prd");
    let open = status["open"].as_i64().unwrap_or(0) - status["acknowledged"].as_i64().unwrap_or(0);
    (-(failed as i64), -(prod as i64), -open)
}

async fn overview(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    headers: HeaderMap,
) -> Response {
    let Some(caller) = viewer(&headers, &state) else {
        return sign_in();
    };
    let mut stacks = match stack_list(&state).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    stacks.sort_by_key(severity);
    let loaded = state
        .blocking(|s| {
            let runs = s.runs(&RunQuery {
                limit: 500,
                ..RunQuery::default()
            })?;
            let recent = s.findings(&FindingQuery {
                since_us: Some(driftlog_app::service::now_us() - 7 * 86_400_000_000),
                limit: 1000,
                ..FindingQuery::default()
            })?;
            let dead = s.deliveries(Some("dead"), 20)?;
            Ok((runs, recent, dead))
        })
        .await;
    let (runs, mut recent, dead) = match loaded {
        Ok(x) => x,
        Err(e) => return unavailable(e),
    };
    recent.sort_by_key(|f| std::cmp::Reverse(f.changed_us));
    recent.truncate(15);
    // Environments side by side: open findings by kind.
    let mut environments: Vec<Value> = Vec::new();
    for s in &stacks {
        let env = s["environment"].as_str().unwrap_or("").to_owned();
        let entry = match environments.iter_mut().find(|e| e["name"] == env.as_str()) {
            Some(e) => e,
            None => {
                environments.push(json!({"name": env, "stacks": 0, "changed": 0, "deleted": 0, "unmanaged": 0, "open": 0}));
                environments.last_mut().expect("just pushed")
            }
        };
        for k in ["stacks", "changed", "deleted", "unmanaged", "open"] {
            let add = if k == "stacks" {
                1
            } else {
                s["status"][k].as_i64().unwrap_or(0)
            };
            entry[k] = json!(entry[k].as_i64().unwrap_or(0) + add);
        }
    }
    let comparisons: Vec<Value> = state
        .service
        .config
        .compare
        .iter()
        .map(|c| {
            let job = format!("compare:{}", c.name.get_ref());
            let last = runs.iter().find(|r| r.job == job);
            json!({"name": c.name.get_ref(), "stacks": c.stacks.get_ref(), "last": last.map(run_json)})
        })
        .collect();
    let ledger_rec = state.service.ledger.clone();
    let ledger = tokio::task::spawn_blocking(move || driftlog_app::ledger::status(&ledger_rec))
        .await
        .ok()
        .and_then(Result::ok);
    let open: i64 = stacks
        .iter()
        .map(|s| s["status"]["open"].as_i64().unwrap_or(0))
        .sum();
    let drifting = stacks
        .iter()
        .filter(|s| s["status"]["open"].as_i64().unwrap_or(0) > 0)
        .count();
    render(
        "overview.html",
        context! {
            caller => caller.name,
            admin => caller.role == Role::Admin,
            stacks => v(&stacks),
            open => open,
            drifting => drifting,
            environments => v(&environments),
            recent => v(&recent.iter().map(finding_value).collect::<Vec<_>>()),
            comparisons => v(&comparisons),
            dead => v(&dead.iter().map(|d| json!({"id": d.id, "target": d.target, "run": d.run, "attempts": d.attempts, "error": d.last_error})).collect::<Vec<_>>()),
            ledger => v(&ledger),
            plot => minijinja::Value::from_safe_string(drift_plot(&runs)),
            now => driftlog_core::time::format_time_us(driftlog_app::service::now_us()),
        },
    )
}

async fn stack(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let Some(caller) = viewer(&headers, &state) else {
        return sign_in();
    };
    let Some(config) = state
        .service
        .config
        .stacks
        .iter()
        .find(|s| s.name.get_ref() == &name)
    else {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("There is no stack named {name}."),
        );
    };
    let environment = config.environment.get_ref().clone();
    let n = name.clone();
    let loaded = state
        .blocking(move |s| {
            let findings = s.findings(&FindingQuery {
                stack: Some(n.clone()),
                limit: 1000,
                ..FindingQuery::default()
            })?;
            let runs = s.runs(&RunQuery {
                stack: Some(n),
                limit: 200,
                ..RunQuery::default()
            })?;
            Ok((findings, runs))
        })
        .await;
    let (findings, runs) = match loaded {
        Ok(x) => x,
        Err(e) => return unavailable(e),
    };
    let (open, resolved): (Vec<_>, Vec<_>) = findings.iter().partition(|f| f.state == "open");
    render(
        "stack.html",
        context! {
            caller => caller.name,
            admin => caller.role == Role::Admin,
            name => name,
            environment => environment,
            schedule => config.schedule.get_ref(),
            open => v(&open.iter().map(|f| finding_value(f)).collect::<Vec<_>>()),
            resolved => v(&resolved.iter().map(|f| finding_value(f)).collect::<Vec<_>>()),
            runs => v(&runs.iter().take(30).map(run_json).collect::<Vec<_>>()),
            plot => minijinja::Value::from_safe_string(drift_plot(&runs)),
        },
    )
}

/// A comparison's latest matrix: each resource that differs, a row per attribute, a column per
/// environment; equal values share a colour.
async fn comparison(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let Some(caller) = viewer(&headers, &state) else {
        return sign_in();
    };
    let Some(config) = state
        .service
        .config
        .compare
        .iter()
        .find(|c| c.name.get_ref() == &name)
    else {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("There is no comparison named {name}."),
        );
    };
    let job = format!("compare:{name}");
    let last = match state
        .blocking(move |s| {
            s.runs(&RunQuery {
                job: Some(job),
                limit: 1,
                ..RunQuery::default()
            })
        })
        .await
    {
        Ok(runs) => runs.into_iter().next(),
        Err(e) => return unavailable(e),
    };
    let environments: Vec<String> = config
        .stacks
        .get_ref()
        .iter()
        .map(|stack| {
            state
                .service
                .config
                .stacks
                .iter()
                .find(|s| s.name.get_ref() == stack)
                .map_or_else(|| stack.clone(), |s| s.environment.get_ref().clone())
        })
        .collect();
    render(
        "comparison.html",
        context! {
            caller => caller.name,
            name => name,
            stacks => config.stacks.get_ref(),
            environments => environments,
            schedule => config.schedule.get_ref(),
            last => last.as_ref().map(|r| v(&run_json(r))),
        },
    )
}

async fn finding(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Response {
    let Some(caller) = viewer(&headers, &state) else {
        return sign_in();
    };
    let Ok(id) = raw.parse::<i64>() else {
        return error_page(StatusCode::NOT_FOUND, "No such finding.");
    };
    let row = match state.blocking(move |s| s.finding(id)).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error_page(StatusCode::NOT_FOUND, &format!("There is no finding {id}."))
        }
        Err(e) => return unavailable(e),
    };
    // The resource's story: the audit events that name it (by its identifiers).
    let finding = row.finding_value();
    let identifiers: Vec<String> = finding["identifiers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let store = state.service.store.clone();
    let address = row.address.clone();
    let events = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let store = driftlog_app::stores::open_events_existing(&store).ok()?;
        let mut names = identifiers;
        names.extend(store.address_identifiers(&address).ok()?);
        names.sort();
        names.dedup();
        for e in store.events_naming(&names).ok()? {
            out.push(e);
        }
        Some(out)
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_default();
    let causes: Vec<String> = finding["attribution"]["caused_by"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["event_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let timeline: Vec<Value> = events
        .iter()
        .rev()
        .take(50)
        .map(|e| {
            let v = driftlog_report::events::event_json(&driftlog_report::events::EventView {
                id: e.id,
                event: &e.event,
                raw: None,
            });
            json!({"event": v, "cause": causes.contains(&e.event.event_id)})
        })
        .collect();
    let svg = timeline_svg(&events, &causes, row.first_seen_us);
    render(
        "finding.html",
        context! {
            caller => caller.name,
            admin => caller.role == Role::Admin,
            f => v(&finding_value(&row)),
            timeline => v(&timeline),
            timeline_svg => minijinja::Value::from_safe_string(svg),
        },
    )
}

async fn login_form() -> Response {
    render("login.html", context! {})
}

#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Form(form): Form<LoginForm>,
) -> Response {
    if state.tokens.check(Some(&form.token)).is_none() {
        let mut r = render(
            "login.html",
            context! { error => "That token is not known." },
        );
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    }
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age=2592000",
        form.token.trim()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

async fn logout() -> Response {
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

/// Escape text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PALETTE: [&str; 8] = [
    "#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#4b5563",
];

/// Open findings per stack over its runs: one line per stack, time across.
pub fn drift_plot(runs: &[RunRow]) -> String {
    let runs: Vec<&RunRow> = runs
        .iter()
        .filter(|r| r.stack.is_some() && r.outcome != "error")
        .collect();
    let (w, h, left, bottom, top, right) = (720.0, 220.0, 44.0, 28.0, 12.0, 150.0);
    let mut svg = format!(
        r#"<svg class="plot" viewBox="0 0 {w} {h}" role="img" aria-label="Open findings over time"><title>Open findings over time</title>"#
    );
    if runs.is_empty() {
        svg.push_str(
            r#"<text x="360" y="110" text-anchor="middle" class="muted">No runs yet</text></svg>"#,
        );
        return svg;
    }
    let t0 = runs.iter().map(|r| r.finished_us).min().unwrap_or(0);
    let t1 = runs
        .iter()
        .map(|r| r.finished_us)
        .max()
        .unwrap_or(0)
        .max(t0 + 1);
    let ymax = runs.iter().map(|r| r.open).max().unwrap_or(0).max(1);
    let x = |t: i64| left + (t - t0) as f64 / (t1 - t0) as f64 * (w - left - right);
    let y = |v: i64| top + (1.0 - v as f64 / ymax as f64) * (h - top - bottom);
    for tick in [0, ymax / 2, ymax] {
        let _ = write!(
            svg,
            r#"<line x1="{left}" x2="{}" y1="{y}" y2="{y}" class="grid"/><text x="{}" y="{}" text-anchor="end" class="axis">{tick}</text>"#,
            w - right,
            left - 6.0,
            y(tick) + 4.0,
            y = y(tick)
        );
    }
    for (t, anchor) in [(t0, "start"), (t1, "end")] {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="{anchor}" class="axis">{}</text>"#,
            x(t),
            h - 8.0,
            esc(&short_time(t))
        );
    }
    let mut stacks: Vec<&str> = runs.iter().filter_map(|r| r.stack.as_deref()).collect();
    stacks.sort_unstable();
    stacks.dedup();
    for (i, stack) in stacks.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let mut points: Vec<(f64, f64)> = runs
            .iter()
            .filter(|r| r.stack.as_deref() == Some(stack))
            .map(|r| (x(r.finished_us), y(r.open)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let path: Vec<String> = points
            .iter()
            .map(|(a, b)| format!("{a:.1},{b:.1}"))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            path.join(" "),
            esc(stack)
        );
        for (a, b) in &points {
            let _ = write!(
                svg,
                r#"<circle cx="{a:.1}" cy="{b:.1}" r="2.5" fill="{color}"/>"#
            );
        }
        let _ = write!(
            svg,
            r#"<rect x="{}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{}" class="legend">{}</text>"#,
            w - right + 12.0,
            top + i as f64 * 18.0,
            w - right + 28.0,
            top + i as f64 * 18.0 + 9.0,
            esc(stack)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn short_time(us: i64) -> String {
    let t = driftlog_core::time::format_time_us(us);
    t.get(..16).map(|s| s.replace('T', " ")).unwrap_or(t)
}

/// A resource's audit events on a time line: writes above, reads below, failures hollow, the
/// cause ringed, and when driftlog first saw the drift. The axis spans the events; a sighting
/// long after them is drawn past a break at the right edge, so months of quiet do not squeeze
/// the events into a corner.
fn timeline_svg(events: &[driftlog_store::StoredEvent], causes: &[String], seen_us: i64) -> String {
    let (w, h, pad, right) = (1200.0, 120.0, 30.0, 150.0);
    let mut svg = format!(
        r#"<svg class="plot" viewBox="0 0 {w} {h}" role="img" aria-label="The resource's audit events over time"><title>Audit events naming this resource</title>"#
    );
    if events.is_empty() {
        svg.push_str(r#"<text x="600" y="60" text-anchor="middle" class="muted">No audit event names this resource</text></svg>"#);
        return svg;
    }
    let t0 = events.iter().map(|e| e.event.time_us).min().unwrap_or(0);
    let mut t1 = events
        .iter()
        .map(|e| e.event.time_us)
        .max()
        .unwrap_or(0)
        .max(t0 + 1);
    let seen_inside = seen_us <= t1 + (t1 - t0) / 5;
    if seen_inside {
        t1 = t1.max(seen_us);
    }
    let end = w - right;
    let x = |t: i64| pad + (t - t0) as f64 / (t1 - t0) as f64 * (end - pad);
    let mid = 60.0;
    let _ = write!(
        svg,
        r#"<line x1="{pad}" x2="{end}" y1="{mid}" y2="{mid}" class="grid"/>"#
    );
    for e in events {
        let write = !e.event.read_only.unwrap_or(false);
        let failed = !e.event.outcome.is_success();
        let cause = causes.contains(&e.event.event_id);
        let cy = if write { mid - 22.0 } else { mid + 22.0 };
        let cls = match (cause, failed, write) {
            (true, _, _) => "ev cause",
            (_, true, _) => "ev failed",
            (_, _, true) => "ev write",
            _ => "ev read",
        };
        let _ = write!(
            svg,
            r#"<line x1="{cx:.1}" x2="{cx:.1}" y1="{mid}" y2="{cy}" class="stem"/><circle cx="{cx:.1}" cy="{cy}" r="{}" class="{cls}"><title>{} {} by {}</title></circle>"#,
            if cause { 8 } else { 5 },
            esc(&driftlog_core::time::format_time_us(e.event.time_us)),
            esc(&e.event.action),
            esc(e.event.principal.id.as_deref().unwrap_or("unknown")),
            cx = x(e.event.time_us)
        );
    }
    let sx = if seen_inside {
        x(seen_us)
    } else {
        // The break: the axis stops, a gap, then the sighting.
        let _ = write!(
            svg,
            r#"<line x1="{end}" x2="{}" y1="{mid}" y2="{mid}" class="gap"/>"#,
            w - 40.0
        );
        w - 40.0
    };
    let _ = write!(
        svg,
        r#"<line x1="{sx:.1}" x2="{sx:.1}" y1="22" y2="{}" class="seen"/><text x="{}" y="{}" text-anchor="end" class="axis">drift seen {}</text>"#,
        h - 22.0,
        (sx + 30.0).min(w - 4.0),
        h - 8.0,
        esc(&short_time(seen_us)).get(..10).unwrap_or("")
    );
    for (t, anchor) in [(t0, "start"), (t1, "end")] {
        let _ = write!(
            svg,
            r#"<text x="{}" y="14" text-anchor="{anchor}" class="axis">{}</text>"#,
            x(t),
            esc(&short_time(t))
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{pad}" y="{}" class="axis">writes above, reads below; the cause ringed</text>"#,
        h - 8.0
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let env = templates();
        for name in [
            "base.html",
            "overview.html",
            "stack.html",
            "finding.html",
            "login.html",
            "error.html",
        ] {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn the_plot_draws_one_line_per_stack_and_escapes_names() {
        let run = |id: i64, stack: &str, t: i64, open: i64| RunRow {
            id,
            job: format!("stack:{stack}"),
            stack: Some(stack.into()),
            environment: Some("prod".into()),
            started_us: t,
            finished_us: t,
            outcome: "drift".into(),
            open,
            new: 0,
            changed: 0,
            resolved: 0,
            summary: Value::Null,
        };
        let svg = drift_plot(&[run(1, "a", 0, 1), run(2, "b<x>", 10, 3), run(3, "a", 20, 0)]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("b&lt;x&gt;"));
        assert!(!svg.contains("b<x>"));
        assert!(drift_plot(&[]).contains("No runs yet"));
    }
}
