#!/usr/bin/env bash
# PostgreSQL ingest: `driftlog ingest` of a generated CloudTrail corpus (S3 delivery layout,
# gzip: read, parse, normalize, pack evidence and events, COPY binary) into a fresh database,
# against PostgreSQL's own `COPY … FROM` of the same rows (strings, event blocks, posting
# lists, evidence) as CSV into the same tables with the same indexes (the server's floor: no
# parsing, no packing, no deduplication), in the same run. Goal:
# driftlog at >= 50 % of COPY's events/s. Also the SQLite store on the same files, and a
# lookup by resource on both stores. Prints Markdown for docs/BENCHMARKS.md.
# Usage: bench/pg-ingest.sh [EVENTS]   (default 1000000; BENCH_DIR to reuse a corpus;
#        DRIFTLOG_TEST_POSTGRES or scripts/start-test-postgres for the server)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
dir=${BENCH_DIR:-/tmp/driftlog-bench/cloudtrail-$n}
gen=${DRIFTLOG_GEN_CORPUS:-$root/../shared/tools/gen-corpus}
admin=${DRIFTLOG_TEST_POSTGRES:-$("$root/scripts/start-test-postgres")}
work=$(mktemp -d /tmp/driftlog-bench-pg.XXXXXX)
a=driftlog_bench_ingest_$$
b=driftlog_bench_copy_$$
url() { echo "${admin%/*}/$1"; }
cleanup() {
  psql "$admin" -qc "DROP DATABASE IF EXISTS $a WITH (FORCE)" -c "DROP DATABASE IF EXISTS $b WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -f "$dir/MANIFEST.json" ]; then
  echo "generating $n CloudTrail events in $dir" >&2
  python3 "$gen" cloudtrail --events "$n" --out "$dir" >&2
fi
(cd "$root" && cargo build --release --quiet -p driftlog)
bin=$root/target/release/driftlog
cd "$dir"
find AWSLogs -name '*.json.gz' | sort > "$work/files"
xargs cat < "$work/files" > /dev/null
. "$root/bench/lib.sh"
psql "$admin" -qc "CREATE DATABASE $a" -c "CREATE DATABASE $b" >/dev/null
# The second database gets the same schema (driftlog migrates on open) and stays empty.
DRIFTLOG_STORE=$(url "$b") "$bin" --ledger off events --limit 1 >/dev/null

results=$(
  measure "driftlog ingest into PostgreSQL (fresh database, ledger in it)" env DRIFTLOG_STORE="$(url "$a")" "$bin" ingest AWSLogs
  measure "driftlog ingest into SQLite (fresh file, ledger beside it)" "$bin" --store "$work/events.db" --ledger "$work/ledger.db" ingest AWSLogs
)
events=$(psql "$(url "$a")" -Atc "SELECT sum(events) FROM audit_event_blocks")
# The same rows as CSV; then PostgreSQL's own COPY of them into the same tables.
tables="audit_strings audit_event_blocks audit_lists audit_blocks"
for t in $tables; do
  psql "$(url "$a")" -qc "\\copy (SELECT * FROM $t) TO '$work/$t.csv' CSV"
done
for t in $tables; do echo "\\copy $t FROM '$work/$t.csv' CSV"; done > "$work/load.sql"
copy=$(measure "PostgreSQL COPY FROM (the same rows as CSV: strings, event blocks, lists, evidence; same tables and indexes)" \
  psql "$(url "$b")" -q -f "$work/load.sql")
csv_mb=$(( $(cat "$work"/*.csv | wc -c) / 1048576 ))
# A resource named by many events, not the busiest: the 51st by the bytes of its lists.
resource=$(psql "$(url "$a")" -Atc "SELECT s.text FROM audit_lists l JOIN audit_strings s ON s.id = l.key WHERE l.kind = 0 GROUP BY s.text ORDER BY sum(l.bytes) DESC OFFSET 50 LIMIT 1")
hits=$(DRIFTLOG_STORE="$(url "$a")" "$bin" events --resource "$resource" --format jsonl | wc -l)
# The store's footprint as ingested (no VACUUM): every audit_* relation with its indexes and
# TOAST, per event; event blocks, lists, evidence and strings apart.
footprint=$(psql "$(url "$a")" -AtF' ' -c "
  SELECT sum(pg_total_relation_size(c.oid)),
         sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname LIKE 'audit_event_blocks_%'),
         sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname LIKE 'audit_lists_%'),
         sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname = 'audit_blocks'),
         sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname = 'audit_strings')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE 'audit\\_%'")
lookups=$(
  measure "driftlog events --resource (PostgreSQL, $hits events)" env DRIFTLOG_STORE="$(url "$a")" "$bin" events --resource "$resource" --format json
  measure "driftlog events --resource (SQLite, $hits events)" "$bin" --store "$work/events.db" events --resource "$resource" --format json
)

python3 - "$events" "$csv_mb" $footprint <<PY
import sys
events, csv_mb = int(sys.argv[1]), sys.argv[2]
total, blocks, lists, evidence, strings = (int(x) for x in sys.argv[3:8])
rows = [l.split("\t") for l in """$results
$copy""".strip().splitlines()]
lookups = [l.split("\t") for l in """$lookups""".strip().splitlines()]
copy_rate = events / float(rows[-1][1])
print(f"{events:,} events ({csv_mb} MB of normalized CSV); {__import__('os').cpu_count()} cores\n")
print("| run | seconds | events/s | of COPY's rate | peak RSS MB | CPU |")
print("|---|---:|---:|---:|---:|---:|")
for label, secs, rss, cpu in rows:
    rate = events / float(secs)
    print(f"| {label} | {float(secs):.1f} | {rate:,.0f} | {rate / copy_rate:.0%} | {rss} | {cpu} |")
print()
print("| lookup | seconds | peak RSS MB |")
print("|---|---:|---:|")
for label, secs, rss, cpu in lookups:
    print(f"| {label} | {float(secs):.2f} | {rss} |")
print()
print("| PostgreSQL store, as ingested | MB | bytes/event |")
print("|---|---:|---:|")
for label, size in (("event blocks (with their identity hashes and indexes)", blocks), ("posting lists", lists),
                    ("evidence blocks", evidence), ("strings", strings), ("all audit tables", total)):
    print(f"| {label} | {size / 1e6:.1f} | {size / events:.1f} |")
PY
