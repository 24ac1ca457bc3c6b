//! Ledger benchmark: durable appends per second (batched), `verify` time, and inclusion proofs
//! and checkpoints at N entries, from the whole tree in memory and from the stored tiles (what
//! `driftlog ledger prove` and the server read).
//! `cargo run --release -p driftlog-ledger --example ledger_bench -- [N] [BATCH] [KEEP_PATH]`
use driftlog_ledger::merkle::verify_inclusion;
use driftlog_ledger::note::SignerKey;
use driftlog_ledger::Ledger;
use serde_json::json;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let batch: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let keep = args.next().map(std::path::PathBuf::from);
    let dir = std::env::temp_dir().join(format!("driftlog-ledger-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = keep.clone().unwrap_or_else(|| dir.join("ledger.db"));
    let mut ledger = Ledger::open(&path).unwrap();
    let key = SignerKey::generate("bench.example/ledger").unwrap();

    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let size = batch.min(n - done);
        let entries: Vec<(&str, serde_json::Value)> = (done..done + size)
            .map(|i| ("finding", json!({"address": format!("aws_instance.web[{i}]"), "paths": ["instance_type"], "confidence": "certain"})))
            .collect();
        ledger.append(&entries).unwrap();
        done += size;
    }
    let append = started.elapsed();
    let t = Instant::now();
    ledger.checkpoint(&key).unwrap();
    let checkpoint = t.elapsed();

    let t = Instant::now();
    let (len, checked, damage) = ledger.verify_all(Some(&key.verifier())).unwrap();
    let verify = t.elapsed();
    assert!(damage.is_none() && len == n && checked == 1);

    let tree = ledger.tree().unwrap();
    let root = tree.root(n).unwrap();
    let t = Instant::now();
    let proofs = 1000;
    for i in 0..proofs {
        let index = (i * 7919) % n;
        let proof = tree.inclusion_proof(index, n).unwrap();
        verify_inclusion(index, n, &tree.leaf(index).unwrap(), &proof, &root).unwrap();
    }
    let proof = t.elapsed() / proofs as u32;

    // From the stored tiles: a warm ledger, then one opened for a single proof (as the CLI).
    let t = Instant::now();
    for i in 0..proofs {
        let index = (i * 7919) % n;
        let proof = ledger.inclusion_proof(index, n).unwrap();
        verify_inclusion(index, n, &tree.leaf(index).unwrap(), &proof, &root).unwrap();
    }
    let tiled = t.elapsed() / proofs as u32;
    let t = Instant::now();
    let cold = Ledger::open(&path).unwrap();
    let index = n / 3 + 7;
    let path_hashes = cold.inclusion_proof(index, n).unwrap();
    let leaf = cold.entry(index).unwrap().unwrap().leaf;
    verify_inclusion(index, n, &leaf, &path_hashes, &cold.root(n).unwrap()).unwrap();
    let cold_proof = t.elapsed();
    let t = Instant::now();
    ledger.checkpoint(&key).unwrap();
    let checkpoint_again = t.elapsed();
    println!(
        "from tiles: inclusion proof + verification {:.1} µs each (warm); open + proof + root + \
         verification {:.2} ms (cold); checkpoint {:.2} ms",
        tiled.as_secs_f64() * 1e6,
        cold_proof.as_secs_f64() * 1e3,
        checkpoint_again.as_secs_f64() * 1e3
    );
    println!(
        "{n} entries in batches of {batch}: {:.0} durable appends/s ({:.2} s); checkpoint {:.1} ms; \
         verify (every leaf recomputed from its bytes, roots, signature) {:.2} s; \
         inclusion proof + verification at {n}: {:.1} µs each",
        n as f64 / append.as_secs_f64(),
        append.as_secs_f64(),
        checkpoint.as_secs_f64() * 1000.0,
        verify.as_secs_f64(),
        proof.as_secs_f64() * 1e6
    );
    if keep.is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
}
