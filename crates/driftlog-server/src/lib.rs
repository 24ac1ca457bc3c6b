//! `driftlog serve`: the long-running service over `driftlog-app`'s use cases.
//!
//! - [`jobs`]: the schedules. Each job is a row in the store, claimed under a lease by one
//!   worker at a time, run through [`driftlog_app::service::Service::run_job`], then made due
//!   again at its next scheduled time. The outbox of alerts is delivered the same way.
//! - [`api`]: the JSON API under `/api/v1/`, with bearer tokens ([`auth`]).
//! - [`dashboard`]: server-rendered pages and their embedded assets.
//! - [`metrics`]: Prometheus `/metrics`.
//!
//! It holds no logic of its own beyond *when* and *who may*: what a job does is in
//! `driftlog-app`, and what is remembered is in `driftlog-store`.

pub mod api;
pub mod auth;
pub mod cache;
pub mod dashboard;
pub mod jobs;
pub mod metrics;
pub mod tlog;
pub mod watch;

use driftlog_app::service::Service;
use driftlog_store::service::ServiceStore;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the service runs (the configuration says *what*; this says *how*).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Jobs run at once by this process.
    pub concurrency: usize,
    /// How long a claimed job is held without renewal before another worker may take it.
    pub lease: Duration,
    /// How often the store is asked for due jobs and alerts.
    pub poll: Duration,
    /// On SIGTERM, how long running jobs may take to finish before they are released.
    pub grace: Duration,
    /// A delivery is given up (dead-lettered) after this many attempts.
    pub max_attempts: i64,
    /// This worker's name in leases (host and process id by default).
    pub worker: String,
}

impl ServeOptions {
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            concurrency: 2,
            lease: Duration::from_secs(120),
            poll: Duration::from_millis(500),
            grace: Duration::from_secs(30),
            max_attempts: 8,
            worker: default_worker(),
        }
    }
}

fn default_worker() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Why the service could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] driftlog_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What every handler and loop shares.
pub struct State {
    pub service: Service,
    pub store: Arc<dyn ServiceStore>,
    pub tokens: auth::Tokens,
    pub metrics: metrics::Metrics,
    pub options: ServeOptions,
    /// Set once the loops run; cleared when shutting down.
    pub ready: AtomicBool,
    pub started_us: i64,
    /// Findings pages rendered at the store's current generation.
    pub pages: cache::PageCache,
    /// The store's generation, read once for many concurrent requests.
    pub generation: cache::GenerationGate,
}

impl State {
    /// Run a store call off the async threads (SQLite blocks).
    pub async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&dyn ServiceStore) -> Result<T, driftlog_store::StoreError> + Send + 'static,
    ) -> Result<T, driftlog_store::StoreError> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

impl State {
    /// The store's generation as of now (see [`cache::GenerationGate`]).
    pub async fn generation(self: &Arc<Self>) -> Result<i64, driftlog_store::StoreError> {
        self.generation
            .current(self.blocking(|s| s.generation()))
            .await
    }
}

/// Run the service until SIGTERM or Ctrl-C: jobs on their schedules, alerts, and the HTTP
/// server. Running jobs get `grace` to finish; unfinished ones are released for another
/// worker.
pub async fn serve(service: Service, options: ServeOptions) -> Result<(), ServerError> {
    let tokens = auth::Tokens::from_config(&service.config);
    if tokens.is_empty() && !options.listen.ip().is_loopback() {
        return Err(ServerError::Config(format!(
            "refusing to serve {} without API tokens: add a [[token]] (`driftlog token new`) or listen on 127.0.0.1",
            options.listen
        )));
    }
    if tokens.is_empty() {
        tracing::warn!("no [[token]] in the configuration: the API and dashboard are open to anyone who can reach {}", options.listen);
    }
    let path = service.store.clone();
    let store: Arc<dyn ServiceStore> = Arc::from(
        tokio::task::spawn_blocking(move || driftlog_app::stores::open_history(&path))
            .await
            .map_err(|e| ServerError::Config(e.to_string()))??,
    );
    let state = Arc::new(State {
        tokens,
        metrics: metrics::Metrics::new(),
        store,
        options: options.clone(),
        ready: AtomicBool::new(false),
        started_us: driftlog_app::service::now_us(),
        pages: Default::default(),
        generation: Default::default(),
        service,
    });
    jobs::schedule(&state).await?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: options.listen,
            source,
        })?;
    let local = listener.local_addr()?;
    tracing::info!(listen = %local, worker = %options.worker, "serving");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(jobs::run(state.clone(), stop_rx.clone()));
    let sender = tokio::spawn(jobs::deliver(state.clone(), stop_rx.clone()));
    let _watcher = watch::start(&state, stop_rx.clone());
    state.ready.store(true, Ordering::SeqCst);
    let app = api::router(state.clone()).merge(dashboard::router(state.clone()));
    let shutdown_state = state.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: no new jobs; running ones finish or are released");
            shutdown_state.ready.store(false, Ordering::SeqCst);
            let _ = stop_tx.send(true);
        })
        .await?;
    let _ = runner.await;
    let _ = sender.await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
