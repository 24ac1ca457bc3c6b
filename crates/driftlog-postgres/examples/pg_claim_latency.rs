//! How long a job claim takes in PostgreSQL (bench/serve-api.sh): 1,000 due jobs in the empty
//! database at `$DRIFTLOG_BENCH_POSTGRES`, then 10,000 claim-and-finish cycles; prints the p50,
//! p99 and max in microseconds.

fn main() {
    let url = std::env::var("DRIFTLOG_BENCH_POSTGRES")
        .expect("DRIFTLOG_BENCH_POSTGRES: the URL of an empty database");
    let db = driftlog_postgres::PgServiceStore::connect(&url).expect("connect");
    println!(
        "{}",
        driftlog_store::service::conformance::claim_latency(&db)
    );
}
