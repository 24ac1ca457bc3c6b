#!/usr/bin/env bash
# The ledger at scale: durable appends/s in batches, `verify` of the whole log, inclusion
# proofs and checkpoints from memory and from the stored tiles, at N entries (default
# 1,000,000); then `driftlog ledger prove` on that log, the whole command (process start, open,
# proof from tiles, check), median of 20. Usage: bench/ledger.sh [N] [BATCH]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d /tmp/driftlog-bench-ledger.XXXXXX)
trap 'rm -rf "$work"' EXIT
n=${1:-1000000}
cargo run --quiet --release -p driftlog-ledger --example ledger_bench -- "$n" "${2:-1000}" "$work/ledger.db"
cargo build --quiet --release -p driftlog
python3 - "$root/target/release/driftlog" "$work/ledger.db" "$n" <<'PY'
import subprocess, sys, time, statistics
bin, ledger, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
for i in range(20):
    index = (i * 7919 + n // 3) % n
    t = time.perf_counter()
    subprocess.run([bin, "--ledger", ledger, "ledger", "prove", "--entry", str(index)], check=True, stdout=subprocess.DEVNULL)
    times.append(time.perf_counter() - t)
start = []
for i in range(20):
    t = time.perf_counter()
    subprocess.run([bin, "--version"], check=True, stdout=subprocess.DEVNULL)
    start.append(time.perf_counter() - t)
print(f"driftlog ledger prove at {n} entries (whole command): median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms; driftlog --version (process start alone): median {statistics.median(start) * 1000:.1f} ms")
PY
