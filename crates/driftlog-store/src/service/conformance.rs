//! The behaviour every [`ServiceStore`] must have, as functions over a fresh, empty store: the
//! SQLite store runs them in its unit tests, and every other implementation (PostgreSQL) runs
//! the same ones against its own, so the suite is written once.

use super::*;

use serde_json::json;

fn seen(address: &str, value: &str) -> Observed {
    Observed {
        address: address.into(),
        kind: "changed".into(),
        fingerprint: value.into(),
        finding: json!({"address": address, "value": value}),
    }
}

fn run(job: &str, at: i64) -> RunRecord {
    RunRecord {
        job: job.into(),
        stack: Some("net".into()),
        environment: Some("prod".into()),
        started_us: at,
        finished_us: at,
        outcome: "drift".into(),
        summary: json!({}),
    }
}

fn claim(db: &dyn ServiceStore, worker: &str, now: i64) -> Claim {
    db.claim_job(worker, now, 1_000)
        .unwrap()
        .expect("a job is due")
}

/// The job `stack:net` claimed by `w` at 1 and its run recorded, with finding `a` new.
fn first_run(db: &dyn ServiceStore) -> Claim {
    db.ensure_jobs(&[("stack:net".into(), 0)]).unwrap();
    let c = claim(db, "w", 1);
    db.record_run(
        &c,
        &run("stack:net", 1),
        Some(&[seen("a", "1")]),
        true,
        &one_per_target,
    )
    .unwrap();
    c
}

fn one_per_target(run: i64, t: &[Transition]) -> Vec<NewDelivery> {
    vec![NewDelivery {
        target: "hook".into(),
        body: format!("run {run}: {}", t.len()),
    }]
}

pub fn a_finding_is_new_then_changed_then_resolved_then_new_again(db: &dyn ServiceStore) {
    db.ensure_jobs(&[("stack:net".into(), 0)]).unwrap();
    let step = |at: i64, observed: &[Observed]| {
        let c = claim(db, "w1", at);
        let r = db
            .record_run(
                &c,
                &run("stack:net", at),
                Some(observed),
                true,
                &one_per_target,
            )
            .unwrap();
        assert!(db.finish_job(&c, at + 1).unwrap());
        r.transitions
            .iter()
            .map(|t| (t.change, t.address.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(step(10, &[seen("a", "1")]), [(Change::New, "a".into())]);
    assert_eq!(
        step(20, &[seen("a", "1")]),
        [],
        "the same drift is not news"
    );
    assert_eq!(
        step(30, &[seen("a", "2"), seen("b", "1")]),
        [(Change::Changed, "a".into()), (Change::New, "b".into())]
    );
    assert_eq!(
        step(40, &[seen("b", "1")]),
        [(Change::Resolved, "a".into())]
    );
    assert_eq!(
        step(50, &[seen("a", "2"), seen("b", "1")]),
        [(Change::New, "a".into())]
    );
    let a = db
        .findings(&FindingQuery {
            state: Some("open".into()),
            limit: 10,
            ..FindingQuery::default()
        })
        .unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!((a[0].address.as_str(), a[0].first_seen_us), ("a", 50));
    assert_eq!((a[1].first_seen_us, a[1].last_seen_us), (30, 50));
    let runs = db
        .runs(&RunQuery {
            limit: 10,
            ..RunQuery::default()
        })
        .unwrap();
    assert_eq!(runs.len(), 5);
    assert_eq!((runs[0].open, runs[0].new), (2, 1));
    // Runs 1, 3, 4 and 5 moved something: one alert each; run 2 none.
    let d = db.deliveries(None, 10).unwrap();
    assert_eq!(d.iter().map(|d| d.run).collect::<Vec<_>>(), [5, 4, 3, 1]);
    let status = db.stacks().unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!((status[0].open, status[0].changed), (2, 2));
    assert_eq!(status[0].last_run.as_ref().unwrap().id, 5);
}

pub fn a_partial_run_resolves_nothing_and_an_acknowledgement_lasts_until_the_value_changes(
    db: &dyn ServiceStore,
) {
    let c = first_run(db);
    db.finish_job(&c, 2).unwrap();
    assert!(db.acknowledge(1, "ana", Some("planned"), 3).unwrap());
    let c = claim(db, "w", 5);
    let r = db
        .record_run(&c, &run("stack:net", 5), Some(&[]), false, &one_per_target)
        .unwrap();
    assert!(r.transitions.is_empty(), "a partial read resolves nothing");
    db.finish_job(&c, 6).unwrap();
    assert_eq!(
        db.finding(1).unwrap().unwrap().acknowledged.unwrap().by,
        "ana"
    );
    let c = claim(db, "w", 7);
    db.record_run(
        &c,
        &run("stack:net", 7),
        Some(&[seen("a", "2")]),
        true,
        &one_per_target,
    )
    .unwrap();
    assert!(db.finding(1).unwrap().unwrap().acknowledged.is_none());
    assert!(!db.acknowledge(99, "ana", None, 8).unwrap());
}

pub fn a_job_is_held_by_one_worker_and_taken_over_when_its_lease_ends(db: &dyn ServiceStore) {
    db.ensure_jobs(&[("stack:net".into(), 100), ("audit:x".into(), 50)])
        .unwrap();
    assert!(
        db.claim_job("w1", 10, 1_000).unwrap().is_none(),
        "nothing due yet"
    );
    let first = claim(db, "w1", 100);
    assert_eq!(first.job, "audit:x", "the job due longest ago first");
    let second = claim(db, "w2", 100);
    assert_eq!(second.job, "stack:net");
    assert!(
        db.claim_job("w3", 500, 1_000).unwrap().is_none(),
        "both are held"
    );
    // w1 dies; after its lease, w3 takes the job over and records the run.
    let taken = claim(db, "w3", 1_200);
    assert_eq!((taken.job.as_str(), taken.claims), ("audit:x", 2));
    let late = db.record_run(&first, &run("audit:x", 1_300), None, true, &one_per_target);
    assert!(
        matches!(late, Err(StoreError::LeaseLost { .. })),
        "{late:?}"
    );
    assert!(!db.finish_job(&first, 5_000).unwrap());
    db.record_run(&taken, &run("audit:x", 1_300), None, true, &one_per_target)
        .unwrap();
    assert!(db.finish_job(&taken, 9_000).unwrap());
    assert_eq!(
        db.runs(&RunQuery {
            limit: 9,
            ..Default::default()
        })
        .unwrap()
        .len(),
        1
    );
    // A released job is due again at once.
    db.release_job(&second).unwrap();
    assert_eq!(claim(db, "w2", 1_300).job, "stack:net");
    // A run on demand makes a job due now.
    assert!(db.claim_job("w2", 1_400, 1_000).unwrap().is_none());
    assert!(db.run_now("audit:x", 1_400).unwrap());
    assert!(!db.run_now("audit:nope", 1_400).unwrap());
    assert_eq!(claim(db, "w2", 1_400).job, "audit:x");
}

pub fn an_alert_is_retried_then_dead_lettered(db: &dyn ServiceStore) {
    first_run(db);
    let d = db.claim_delivery("w", 1, 100).unwrap().unwrap();
    assert!(db.claim_delivery("x", 2, 100).unwrap().is_none(), "held");
    db.settle_delivery(
        d.id,
        "w",
        &Settle::Retry {
            next_us: 50,
            error: "503".into(),
        },
    )
    .unwrap();
    assert!(
        db.claim_delivery("w", 10, 100).unwrap().is_none(),
        "not due yet"
    );
    let d = db.claim_delivery("w", 60, 100).unwrap().unwrap();
    assert_eq!(d.attempts, 2);
    db.settle_delivery(
        d.id,
        "w",
        &Settle::Dead {
            at_us: 61,
            error: "gave up".into(),
        },
    )
    .unwrap();
    let dead = db.deliveries(Some("dead"), 5).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("gave up"));
    assert!(db.claim_delivery("w", 1_000, 100).unwrap().is_none());
}

/// Workers claiming at once never get the same job, and every due job is claimed.
pub fn concurrent_claims_never_share_a_job(db: &dyn ServiceStore) {
    let jobs: Vec<(String, i64)> = (0..40).map(|i| (format!("stack:s{i:02}"), 0)).collect();
    db.ensure_jobs(&jobs).unwrap();
    let claimed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for w in 0..4 {
            let claimed = &claimed;
            s.spawn(move || {
                let worker = format!("w{w}");
                while let Some(c) = db.claim_job(&worker, 10, 1_000_000).unwrap() {
                    claimed.lock().unwrap().push(c.job);
                }
            });
        }
    });
    let mut claimed = claimed.into_inner().unwrap();
    claimed.sort();
    let before = claimed.len();
    claimed.dedup();
    assert_eq!(before, claimed.len(), "a job was claimed twice");
    assert_eq!(claimed.len(), 40, "every due job was claimed");
}

/// One case: it runs on a fresh, empty store.
pub type Case = fn(&dyn ServiceStore);

/// Every case, by name.
pub fn cases() -> Vec<(&'static str, Case)> {
    vec![
        (
            "a_finding_is_new_then_changed_then_resolved_then_new_again",
            a_finding_is_new_then_changed_then_resolved_then_new_again,
        ),
        (
            "a_partial_run_resolves_nothing_and_an_acknowledgement_lasts_until_the_value_changes",
            a_partial_run_resolves_nothing_and_an_acknowledgement_lasts_until_the_value_changes,
        ),
        (
            "a_job_is_held_by_one_worker_and_taken_over_when_its_lease_ends",
            a_job_is_held_by_one_worker_and_taken_over_when_its_lease_ends,
        ),
        (
            "an_alert_is_retried_then_dead_lettered",
            an_alert_is_retried_then_dead_lettered,
        ),
        (
            "concurrent_claims_never_share_a_job",
            concurrent_claims_never_share_a_job,
        ),
        (
            "the_generation_moves_with_every_recorded_run_and_acknowledgement_only",
            the_generation_moves_with_every_recorded_run_and_acknowledgement_only,
        ),
    ]
}

/// What the API's page cache rests on: a listing read after generation G is current while
/// the store says G; anything that changes a listing moves it, and claims, job bookkeeping,
/// lost leases and alert settling (which no finding listing shows) do not.
pub fn the_generation_moves_with_every_recorded_run_and_acknowledgement_only(
    db: &dyn ServiceStore,
) {
    let g0 = db.generation().unwrap();
    let c = first_run(db);
    let g1 = db.generation().unwrap();
    assert!(g1 > g0, "a recorded run moves it");
    assert!(db.finish_job(&c, 5).unwrap());
    db.ensure_jobs(&[("stack:net".into(), 0)]).unwrap();
    assert_eq!(db.generation().unwrap(), g1, "job bookkeeping does not");
    assert!(db.acknowledge(1, "ana", None, 3).unwrap());
    let g2 = db.generation().unwrap();
    assert!(g2 > g1, "an acknowledgement moves it");
    // A run whose lease another worker took over writes nothing, and moves nothing.
    let stale = claim(db, "w1", 6);
    let taken = db
        .claim_job("w2", 6 + 2_000, 1_000)
        .unwrap()
        .expect("lease over");
    assert_eq!(taken.job, stale.job);
    assert!(db
        .record_run(
            &stale,
            &run(&stale.job, 7),
            Some(&[]),
            true,
            &one_per_target
        )
        .is_err());
    assert_eq!(db.generation().unwrap(), g2, "a lost lease writes nothing");
    let d = db
        .claim_delivery("w", 10, 1_000)
        .unwrap()
        .expect("an alert");
    db.settle_delivery(d.id, "w", &Settle::Delivered { at_us: 11 })
        .unwrap();
    assert_eq!(db.generation().unwrap(), g2, "alerts are not findings");
    db.record_run(
        &taken,
        &run(&taken.job, 8),
        Some(&[]),
        true,
        &one_per_target,
    )
    .unwrap();
    assert!(db.generation().unwrap() > g2);
}

/// Not a case: how long claims take on `db` (the benchmark's examples, for every store), with
/// 1,000 due jobs and 10,000 claim-and-finish cycles:
/// `claim p50 … µs, p99 … µs, max … µs (N claims)`.
pub fn claim_latency(db: &dyn ServiceStore) -> String {
    let jobs: Vec<(String, i64)> = (0..1000).map(|i| (format!("stack:s{i:04}"), 0)).collect();
    db.ensure_jobs(&jobs).expect("jobs");
    let mut times = Vec::with_capacity(10_000);
    for i in 0..10_000i64 {
        let start = std::time::Instant::now();
        let claim = db
            .claim_job("bench", 1_000 + i, 60_000_000)
            .expect("claim")
            .expect("a due job");
        times.push(start.elapsed().as_micros());
        db.finish_job(&claim, 0).expect("finish");
    }
    times.sort_unstable();
    format!(
        "claim p50 {} µs, p99 {} µs, max {} µs ({} claims)",
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        times[times.len() - 1],
        times.len()
    )
}
