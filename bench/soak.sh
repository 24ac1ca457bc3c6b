#!/usr/bin/env bash
# The 10M-event soak (issue #15), opt-in from bench/ingest.sh (SOAK=1) or alone: ingest of
# `gen-corpus cloudtrail --events 10000000` into a fresh store with its peak memory and time,
# the store's size; then a second fresh store whose ingest is killed with SIGKILL half way and
# run again, which must end with exactly every event once and a clean `verify`.
# Usage: bench/soak.sh [EVENTS]   (default 10000000; BENCH_DIR to reuse a corpus)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10000000}
dir=${BENCH_DIR:-/tmp/driftlog-bench/cloudtrail-$n}
gen=${DRIFTLOG_GEN_CORPUS:-$root/../shared/tools/gen-corpus}
work=$(mktemp -d /tmp/driftlog-bench-soak.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$root/bench/lib.sh"
if [ ! -f "$dir/MANIFEST.json" ]; then
  echo "generating $n CloudTrail events in $dir" >&2
  python3 "$gen" cloudtrail --events "$n" --out "$dir" >&2
fi
(cd "$root" && cargo build --release --quiet)
bin=$root/target/release/driftlog
cd "$dir"
count() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM events").fetchone()[0])' "$1"; }

full=$(measure "driftlog ingest of $n events (fresh store)" "$bin" --store "$work/full.db" --ledger "$work/full-ledger.db" ingest AWSLogs)
full_s=$(echo "$full" | cut -f2)
full_events=$(count "$work/full.db")
store_bytes=$(stat -c %s "$work/full.db")
rm -f "$work"/full*

# Killed half way, then resumed.
"$bin" --store "$work/kill.db" --ledger "$work/kill-ledger.db" ingest AWSLogs > /dev/null 2>&1 &
pid=$!
sleep "$(python3 -c "print(max(1.0, $full_s / 2))")"
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
at_kill=$(count "$work/kill.db")
resume=$(measure "driftlog ingest again after kill -9 at $at_kill events (resume)" "$bin" --store "$work/kill.db" --ledger "$work/kill-ledger.db" ingest AWSLogs)
resumed=$(count "$work/kill.db")
verify=$(measure "driftlog verify (the resumed store against its ledger)" "$bin" --store "$work/kill.db" --ledger "$work/kill-ledger.db" verify)

echo "Corpus: gen-corpus cloudtrail --events $n ($(du -sm AWSLogs | cut -f1) MB gzip), $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| command | wall s | peak RSS MB | CPU |"
echo "|---|---:|---:|---:|"
printf '%s\n%s\n%s\n' "$full" "$resume" "$verify" | awk -F'\t' '{printf "| `%s` | %.1f | %d | %s |\n", $1, $2, $3, $4}'
echo
echo "Fresh store: $full_events events, $(( store_bytes / 1000000 )) MB ($(( store_bytes / (full_events > 0 ? full_events : 1) )) bytes per event). Killed with $at_kill events stored; after the resume: $resumed events (expected $n: $([ "$resumed" -eq "$n" ] && echo exact || echo MISMATCH))."
