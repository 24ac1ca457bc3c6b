//! When jobs run and alerts go out. Every decision that must be made once across workers
//! (who runs a job, who sends an alert) is a lease in the store; this module only polls,
//! keeps leases alive while work runs, and computes the next due time from the schedule.

use crate::{ServerError, State};
use driftlog_app::service::now_us;
use driftlog_notify::{backoff, Attempt};
use driftlog_store::service::{Claim, Settle};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Make sure every configured job exists in the store. A job new to the store is due at once:
/// a service that just started shows a first result without waiting for its schedule.
pub async fn schedule(state: &Arc<State>) -> Result<(), ServerError> {
    let now = now_us();
    let jobs: Vec<(String, i64)> = state
        .service
        .jobs()
        .into_iter()
        .map(|j| (j.name, now))
        .collect();
    state.blocking(move |s| s.ensure_jobs(&jobs)).await?;
    Ok(())
}

/// The next time `job` is due after `after_us`, from its schedule (an hour later if the
/// schedule never fires again, so it is looked at again rather than lost).
fn next_due(state: &State, job: &str, after_us: i64) -> i64 {
    state
        .service
        .schedule_of(job)
        .and_then(|schedule| driftlog_config::next_due(schedule, after_us))
        .unwrap_or(after_us + 3_600_000_000)
}

/// Progress of a job, as log lines.
struct LogProgress<'a>(&'a str);
impl driftlog_app::Progress for LogProgress<'_> {
    fn step(&self, what: &str) {
        tracing::debug!(job = self.0, "{what}");
    }
}

/// Claim and run due jobs, at most `concurrency` at once, until `stop`. Then running jobs get
/// the grace period; those still running are released for another worker.
pub async fn run(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let permits = Arc::new(tokio::sync::Semaphore::new(
        state.options.concurrency.max(1),
    ));
    let active: Arc<Mutex<HashMap<String, Claim>>> = Arc::default();
    let mut running = tokio::task::JoinSet::new();
    let lease_us = state.options.lease.as_micros() as i64;
    loop {
        if *stop.borrow() {
            break;
        }
        while let Ok(permit) = permits.clone().try_acquire_owned() {
            let worker = state.options.worker.clone();
            match state
                .blocking(move |s| s.claim_job(&worker, now_us(), lease_us))
                .await
            {
                Ok(Some(claim)) => {
                    tracing::info!(job = %claim.job, claims = claim.claims, "job claimed");
                    active
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(claim.job.clone(), claim.clone());
                    let state = state.clone();
                    let active = active.clone();
                    running.spawn(async move {
                        run_one(&state, &claim).await;
                        active
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&claim.job);
                        drop(permit);
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim jobs; retrying");
                    break;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(state.options.poll) => {}
            _ = stop.changed() => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    let drained = tokio::time::timeout(state.options.grace, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        let left: Vec<Claim> = active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for claim in left {
            tracing::warn!(job = %claim.job, "still running after the grace period: released");
            let c = claim.clone();
            if let Err(e) = state.blocking(move |s| s.release_job(&c)).await {
                tracing::warn!(job = %claim.job, error = %e, "could not release the job; its lease will expire");
            }
        }
    }
}

async fn run_one(state: &Arc<State>, claim: &Claim) {
    let lease = state.options.lease;
    // Keep the lease while the job runs; a worker that stops renewing (killed) loses it.
    let heartbeat = {
        let state = state.clone();
        let claim = claim.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let c = claim.clone();
                let until = now_us() + lease.as_micros() as i64;
                match state.blocking(move |s| s.renew_job(&c, until)).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %claim.job, "lease lost to another worker");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(job = %claim.job, error = %e, "cannot renew the lease")
                    }
                }
            }
        })
    };
    let started = std::time::Instant::now();
    let job_state = state.clone();
    let c = claim.clone();
    let result = tokio::task::spawn_blocking(move || {
        job_state
            .service
            .run_job(&c, job_state.store.as_ref(), &LogProgress(&c.job))
    })
    .await;
    heartbeat.abort();
    let elapsed = started.elapsed();
    match result {
        Ok(Ok((_, run))) => state.metrics.run_finished(&run, elapsed),
        Ok(Err(e)) => tracing::warn!(job = %claim.job, error = %e, "the run was not recorded"),
        Err(e) => tracing::error!(job = %claim.job, error = %e, "the job panicked"),
    }
    let next = next_due(state, &claim.job, now_us());
    let c = claim.clone();
    match state.blocking(move |s| s.finish_job(&c, next)).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = %claim.job, "the job was taken over before it finished"),
        Err(e) => {
            tracing::warn!(job = %claim.job, error = %e, "cannot free the job; its lease will expire")
        }
    }
}

/// Deliver pending alerts until `stop`: one attempt each time one is due; retried with
/// backoff; dead-lettered when the target refuses it or after `max_attempts`.
pub async fn deliver(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let sender = match driftlog_notify::Sender::new(Duration::from_secs(10)) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot set up TLS for alerts; none will be sent");
            return;
        }
    };
    loop {
        if *stop.borrow() {
            return;
        }
        let worker = state.options.worker.clone();
        let claimed = state
            .blocking(move |s| s.claim_delivery(&worker, now_us(), 60_000_000))
            .await;
        let d = match claimed {
            Ok(Some(d)) => d,
            Ok(None) => {
                tokio::select! {
                    () = tokio::time::sleep(state.options.poll) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim alerts; retrying");
                tokio::time::sleep(state.options.poll).await;
                continue;
            }
        };
        let target = state.service.targets.iter().find(|t| t.name == d.target);
        let attempt = match target {
            Some(t) => {
                sender
                    .send(
                        &t.url,
                        t.secret.as_deref(),
                        d.id,
                        &d.body,
                        now_us() / 1_000_000,
                    )
                    .await
            }
            None => Attempt::Refused(format!("no target `{}` in the configuration", d.target)),
        };
        let now = now_us();
        let settle = match &attempt {
            Attempt::Delivered => Settle::Delivered { at_us: now },
            Attempt::Retry(e) if d.attempts < state.options.max_attempts => Settle::Retry {
                next_us: now + backoff(d.attempts).as_micros() as i64,
                error: e.clone(),
            },
            Attempt::Retry(e) | Attempt::Refused(e) => Settle::Dead {
                at_us: now,
                error: e.clone(),
            },
        };
        let result = match &settle {
            Settle::Delivered { .. } => "delivered",
            Settle::Retry { .. } => "retry",
            Settle::Dead { .. } => "dead",
        };
        tracing::info!(delivery = d.id, target = %d.target, attempt = d.attempts, result, "alert");
        if let Attempt::Retry(e) | Attempt::Refused(e) = &attempt {
            tracing::warn!(delivery = d.id, target = %d.target, error = %e, "alert not delivered");
        }
        state.metrics.alert(&d.target, result);
        let worker = state.options.worker.clone();
        if let Err(e) = state
            .blocking(move |s| s.settle_delivery(d.id, &worker, &settle))
            .await
        {
            tracing::warn!(error = %e, "cannot record the alert's delivery");
        }
    }
}
