//! How long a job claim takes in the SQLite store (bench/serve-api.sh): 1,000 due jobs, then
//! 10,000 claim-and-finish cycles; prints the p50, p99 and max in microseconds.
//! `cargo run --release -p driftlog-store --example claim_latency`

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let db = driftlog_store::service::ServiceDb::open(&dir.path().join("events.db"))
        .expect("open the store");
    println!(
        "{}",
        driftlog_store::service::conformance::claim_latency(&db)
    );
}
