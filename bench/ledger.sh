#!/usr/bin/env bash
# The ledger at scale: durable appends/s in batches, `verify` of the whole log, and inclusion
# proofs, at N entries (default 1,000,000). Usage: bench/ledger.sh [N] [BATCH]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo run --quiet --release -p driftlog-ledger --example ledger_bench -- "${1:-1000000}" "${2:-1000}"
