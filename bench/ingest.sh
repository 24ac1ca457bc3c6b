#!/usr/bin/env bash
# Times `driftlog ingest` of a generated CloudTrail corpus (S3 delivery layout, gzip) against
# DuckDB loading the same files the way a practitioner tunes it, `zcat | jq`, and bare `zcat`
# (the decompression floor), in the same run; then times `driftlog events --resource` on the
# full store; then `driftlog archive` of the store against DuckDB's own `COPY … TO parquet` of
# its table, the bytes per event of every form of the same events, and the `events` filter
# matrix (bench/query-matrix.sh) on the same store. Prints Markdown for docs/BENCHMARKS.md.
# Usage: bench/ingest.sh [EVENTS]   (default 1000000; BENCH_DIR to reuse a corpus)
#        SOAK=1 bench/ingest.sh   also runs the 10M-event soak (bench/soak.sh) afterwards
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
dir=${BENCH_DIR:-/tmp/driftlog-bench/cloudtrail-$n}
gen=${DRIFTLOG_GEN_CORPUS:-$root/../shared/tools/gen-corpus}
work=$(mktemp -d /tmp/driftlog-bench-ingest.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ ! -f "$dir/MANIFEST.json" ]; then
  echo "generating $n CloudTrail events in $dir" >&2
  python3 "$gen" cloudtrail --events "$n" --out "$dir" >&2
fi
python3 -c 'import duckdb' 2>/dev/null || pip install --quiet duckdb >&2
(cd "$root" && cargo build --release --quiet)
bin=$root/target/release/driftlog
cd "$dir"
find AWSLogs -name '*.json.gz' | sort > "$work/files"
# Warm the page cache so every contender reads from memory.
xargs cat < "$work/files" > /dev/null
. "$root/bench/lib.sh"

cat > "$work/duckdb_load.py" <<'PY'
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("SET preserve_insertion_order = false")
con.execute("""
CREATE TABLE events AS
SELECT r->>'eventID' AS event_id, r->>'eventTime' AS event_time, r->>'eventSource' AS event_source,
       r->>'eventName' AS event_name, r->>'awsRegion' AS region, r->>'sourceIPAddress' AS source_ip,
       r->>'userAgent' AS user_agent, r->>'$.userIdentity.arn' AS principal, r->>'errorCode' AS error_code,
       r->>'recipientAccountId' AS account, r AS raw
FROM (SELECT unnest(Records) AS r
      FROM read_json('AWSLogs/**/*.json.gz', columns = {'Records': 'JSON[]'},
                     maximum_object_size = 33554432))
""")
print(con.execute("SELECT count(*) FROM events").fetchone()[0])
PY

results=$(
  measure "driftlog ingest (fresh store)" "$bin" --store "$work/driftlog.db" --ledger "$work/ledger.db" ingest AWSLogs
  measure "driftlog ingest again (every file unchanged)" "$bin" --store "$work/driftlog.db" --ledger "$work/ledger.db" ingest AWSLogs
  measure "DuckDB read_json + unnest + ->> fields + raw" python3 "$work/duckdb_load.py" "$work/duck.db"
  measure "zcat | jq -c '.Records[]'" sh -c "xargs zcat < '$work/files' | jq -c '.Records[]'"
  measure "zcat (decompression only)" sh -c "xargs zcat < '$work/files'"
)
events=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM events").fetchone()[0])' "$work/driftlog.db")

# Lookups by resource: the resource most events name, one named by a few hundred events, one
# named by a handful; 20 runs each, median wall time of the whole command (process start, store
# open, query, output), for all matches and for the latest 20 writes.
lookup=$(python3 - "$bin" "$work/driftlog.db" <<'PY'
import sqlite3, subprocess, sys, time, statistics
bin, store = sys.argv[1:]
db = sqlite3.connect(store)
# Events per resource, from the posting lists (a tag byte, then LEB128 varints, two per event
# when times are whole seconds, as CloudTrail's are: a byte below 0x80 ends a varint).
counts = {}
for name, blob in db.execute("SELECT n.text, p.events FROM ref_postings p JOIN ref_names n ON n.id = p.name"):
    counts[name] = counts.get(name, 0) + sum(1 for b in blob if b < 0x80) // 2
def pick(lo, hi):
    return max(((n, c) for n, c in counts.items() if lo <= c <= hi), key=lambda nc: nc[1])
def run(*args):
    times, out = [], b""
    for _ in range(20):
        t = time.perf_counter()
        out = subprocess.run([bin, "--store", store, "events", *args, "--format", "jsonl"],
                             capture_output=True, check=True).stdout
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, len(out.splitlines())
for lo, hi in ((1, 10), (100, 1000), (1, 10**9)):
    ref, n = pick(lo, hi)
    all_ms, all_n = run("--resource", ref)
    last_ms, last_n = run("--resource", ref, "--writes-only", "--limit", "20")
    print(f"| `--resource {ref}` | {n} | {all_ms:.1f} ms ({all_n} events) | {last_ms:.1f} ms ({last_n} events) |")
# The busiest principal and action (their posting lists), the same two ways.
for column in ("principal", "action"):
    text, n = db.execute(f"SELECT s.text, count(*) FROM events e JOIN strings s ON s.id = e.{column} "
                         "GROUP BY 1 ORDER BY 2 DESC LIMIT 1").fetchone()
    all_ms, all_n = run(f"--{column}", text)
    last_ms, last_n = run(f"--{column}", text, "--writes-only", "--limit", "20")
    print(f"| `--{column} {text}` | {n} | {all_ms:.1f} ms ({all_n} events) | {last_ms:.1f} ms ({last_n} events) |")
PY
)
store_mb=$(du -m "$work/driftlog.db" | cut -f1)

# The archive (issue #15): the whole store as partitioned Parquet, against DuckDB writing its
# own table of the same events as one zstd Parquet file.
cat > "$work/duckdb_copy.py" <<'PY'
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute(f"COPY events TO '{sys.argv[2]}' (FORMAT parquet, COMPRESSION zstd)")
PY
archive=$(
  measure "driftlog archive (Parquet, zstd, partitioned)" "$bin" --store "$work/driftlog.db" --ledger "$work/ledger.db" archive --to "$work/archive"
  measure "DuckDB COPY events TO parquet (zstd)" python3 "$work/duckdb_copy.py" "$work/duck.db" "$work/duck.parquet"
)
verify_archive=$(measure "driftlog verify --archive (ledger, store, archive)" "$bin" --store "$work/driftlog.db" --ledger "$work/ledger.db" verify --archive "$work/archive")
bytes() { du -sb "$1" | cut -f1; }
gz_bytes=$(xargs stat -c %s < "$work/files" | awk '{s += $1} END {print s}')
sizes=$(
  printf 'gzip delivery files (the input)\t%s\n' "$gz_bytes"
  printf 'driftlog store (SQLite: events, evidence, indexes, posting lists)\t%s\n' "$(bytes "$work/driftlog.db")"
  printf 'DuckDB database (its table of the same events)\t%s\n' "$(bytes "$work/duck.db")"
  printf 'DuckDB table as one Parquet file (zstd)\t%s\n' "$(bytes "$work/duck.parquet")"
  printf 'driftlog archive (Parquet, zstd, %s files)\t%s\n' "$(find "$work/archive" -name '*.parquet' | wc -l)" "$(bytes "$work/archive")"
)
matrix=$(STORE="$work/driftlog.db" "$root/bench/query-matrix.sh" "$n")

ingest_s=$(echo "$results" | awk -F'\t' 'NR==1{print $2}')
gz_mb=$(xargs stat -c %s < "$work/files" | awk '{s += $1} END {printf "%d", s / 1e6}')
echo "Corpus: gen-corpus cloudtrail --events $n ($(wc -l < "$work/files") files, $gz_mb MB gzip), $(nproc) cores, $(date -u +%Y-%m-%d); driftlog stored $events events in a $store_mb MB store"
echo
echo "| command | wall s | peak RSS MB | CPU | time ÷ driftlog |"
echo "|---|---:|---:|---:|---:|"
echo "$results" | awk -F'\t' -v d="$ingest_s" '{printf "| `%s` | %.2f | %d | %s | %.2f× |\n", $1, $2, $3, $4, $2/d}'
echo
echo "| \`driftlog events\` | events matching | all matches | \`--writes-only --limit 20\` |"
echo "|---|---:|---:|---:|"
echo "$lookup"
echo
archive_s=$(echo "$archive" | awk -F'\t' 'NR==1{print $2}')
echo "| archive | wall s | peak RSS MB | CPU | time ÷ driftlog archive |"
echo "|---|---:|---:|---:|---:|"
printf '%s\n%s\n' "$archive" "$verify_archive" | awk -F'\t' -v d="$archive_s" '{printf "| `%s` | %.2f | %d | %s | %.2f× |\n", $1, $2, $3, $4, $2/d}'
echo
echo "| the same $events events as | MB | bytes per event |"
echo "|---|---:|---:|"
echo "$sizes" | awk -F'\t' -v n="$events" '{printf "| %s | %.1f | %.0f |\n", $1, $2/1e6, $2/n}'
echo
echo "$matrix"
if [ -n "${SOAK:-}" ]; then
  echo
  "$root/bench/soak.sh" 10000000
fi
