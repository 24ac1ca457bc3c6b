//! The ledger over HTTP: as a C2SP `tlog-tiles` log under `/ledger/` (the latest signed
//! checkpoint, hash tiles, entry bundles), so transparency-log tooling can fetch and verify it
//! with no driftlog code, and as JSON under `/api/v1/ledger` (its size, inclusion and
//! consistency proofs with the roots they lead to).
//!
//! Tiles are immutable once served (a partial tile names its width), so they are cacheable
//! forever; the checkpoint is not. Both need the read role like the rest of the API.

use crate::api::{ApiError, Reader, Q};
use crate::State;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use driftlog_app::AppError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/ledger/checkpoint", get(checkpoint))
        .route("/ledger/tile/{*path}", get(tile))
        .route("/api/v1/ledger", get(status))
        .route("/api/v1/ledger/inclusion", get(inclusion))
        .route("/api/v1/ledger/consistency", get(consistency))
}

/// What the ledger's use cases failed with, in the API's error shape.
fn ledger_error(e: AppError) -> ApiError {
    match e {
        AppError::Usage(_) => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this service keeps no ledger ([ledger] path = \"off\")",
        ),
        AppError::Ledger(driftlog_ledger::LedgerError::Proof(p)) => {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_request", p.to_string())
        }
        AppError::Input(message) => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message),
        AppError::Ledger(e @ driftlog_ledger::LedgerError::TooLongForBundle { .. }) => {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "entry_too_long",
                e.to_string(),
            )
        }
        other => {
            tracing::warn!(error = %other, "ledger error in a request");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ledger_unavailable",
                "the ledger could not answer; try again",
            )
        }
    }
}

/// Run a ledger use case off the async threads.
async fn on_ledger<T: Send + 'static>(
    state: &Arc<State>,
    f: impl FnOnce(&driftlog_app::record::Recorder) -> Result<T, AppError> + Send + 'static,
) -> Result<T, ApiError> {
    let rec = state.service.ledger.clone();
    match tokio::task::spawn_blocking(move || f(&rec)).await {
        Ok(r) => r.map_err(ledger_error),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// The latest signed checkpoint (a C2SP signed note), as stored by the last append.
async fn checkpoint(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> Result<Response, ApiError> {
    let status = on_ledger(&state, driftlog_app::ledger::status).await?;
    let Some(note) = status.checkpoint else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no signed checkpoint yet: the ledger has no signing key (driftlog ledger keygen)",
        ));
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        note,
    )
        .into_response())
}

/// A hash tile or an entry bundle; 404 for a path that names none, or one the log is too
/// small for yet.
async fn tile(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let wanted = path.clone();
    let Some(bytes) =
        on_ledger(&state, move |rec| driftlog_app::ledger::tile(rec, &wanted)).await?
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no tile `{path}`: not a tile path, or not that many entries yet"),
        ));
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response())
}

async fn status(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> Result<Json<Value>, ApiError> {
    let s = on_ledger(&state, driftlog_app::ledger::status).await?;
    Ok(Json(json!({
        "entries": s.entries,
        "checkpoint": s.checkpoint_size.map(|size| json!({"size": size, "note": s.checkpoint})),
    })))
}

#[derive(Deserialize)]
struct InclusionParams {
    index: u64,
    size: Option<u64>,
}

async fn inclusion(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Q(p): Q<InclusionParams>,
) -> Result<Json<driftlog_app::ledger::InclusionProof>, ApiError> {
    on_ledger(&state, move |rec| {
        driftlog_app::ledger::inclusion(rec, p.index, p.size)
    })
    .await
    .map(Json)
}

#[derive(Deserialize)]
struct ConsistencyParams {
    first: u64,
    second: Option<u64>,
}

async fn consistency(
    _: Reader,
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Q(p): Q<ConsistencyParams>,
) -> Result<Json<driftlog_app::ledger::ConsistencyProof>, ApiError> {
    on_ledger(&state, move |rec| {
        driftlog_app::ledger::consistency_between(rec, p.first, p.second)
    })
    .await
    .map(Json)
}
