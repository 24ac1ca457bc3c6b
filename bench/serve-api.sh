#!/usr/bin/env bash
# The service's API under load: `driftlog serve` with one stack of N drifted resources (so N
# open findings, default 100000), then wrk with 200 connections on four requests — the first
# page of open findings, a page deep in the list, one finding, the stacks — against the
# goal (p99 <= 50 ms). The peer, in the same run: Datasette serving the same SQLite table
# (`service_findings`) as JSON pages. Also times a job claim (the store's lease row).
# Prints Markdown for docs/BENCHMARKS.md.
# Usage: bench/serve-api.sh [FINDINGS]   (needs wrk and, for the peer, datasette: pip install datasette)
#        BENCH_STORE=postgres bench/serve-api.sh: the same against a fresh PostgreSQL database
#        (DRIFTLOG_TEST_POSTGRES or scripts/start-test-postgres; no Datasette peer then)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000}
dir=${BENCH_DIR:-/tmp/driftlog-bench/serve-$n}
duration=${BENCH_SECONDS:-15}
mkdir -p "$dir"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

if [ ! -f "$dir/live.tfstate" ]; then
  echo "writing two $n-resource states in $dir" >&2
  python3 - "$dir" "$n" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
def state(env):
    return {"version": 4, "terraform_version": "1.9.8", "serial": 1, "lineage": "bench", "outputs": {},
            "resources": [{"mode": "managed", "type": "aws_sqs_queue", "name": "q%d" % i,
                           "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                           "instances": [{"schema_version": 0, "attributes": {
                               "id": "https://sqs.eu-west-1.amazonaws.com/123456789012/q%d" % i,
                               "arn": "arn:aws:sqs:eu-west-1:123456789012:q%d" % i, "name": "q%d" % i,
                               "visibility_timeout_seconds": 30, "tags": {"team": "core", "env": env}}}]}
                          for i in range(n)]}
json.dump(state("prod"), open(d + "/declared.tfstate", "w"))
json.dump(state("changed-by-hand"), open(d + "/live.tfstate", "w"))
PY
fi
(cd "$root" && cargo build --release --quiet)
bin=$root/target/release/driftlog
store_line='path = "state/events.db"'
if [ "${BENCH_STORE:-sqlite}" = postgres ]; then
  admin=${DRIFTLOG_TEST_POSTGRES:-$("$root/scripts/start-test-postgres")}
  db=driftlog_bench_api_$$
  psql "$admin" -qc "CREATE DATABASE $db"
  export BENCH_PG_URL="${admin%/*}/$db"
  store_line='url_env = "BENCH_PG_URL"'
fi
token=dl_bench_token
hash=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
cat > "$dir/driftlog.toml" <<TOML
[store]
$store_line
[ledger]
path = "off"
[[stack]]
name = "bench"
environment = "prod"
state = "declared.tfstate"
live = "live.tfstate"
schedule = "0 0 1 1 *"
[[token]]
name = "bench"
role = "read"
sha256 = "$hash"
TOML
rm -rf "$dir/state"
port=18181
"$bin" serve --config "$dir/driftlog.toml" --listen 127.0.0.1:$port --log-level warn &
pid=$!
trap 'kill $pid 2>/dev/null || true; [ -n "${ds:-}" ] && kill $ds 2>/dev/null || true; [ -n "${db:-}" ] && { sleep 1; psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; }' EXIT
auth="Authorization: Bearer $token"
started=$(date +%s.%N)
while :; do
  open=$(curl -s -H "$auth" "127.0.0.1:$port/api/v1/stacks" | python3 -c 'import json,sys; s=json.load(sys.stdin)["items"][0]["status"]; print(s["open"] if s else 0)' 2>/dev/null || echo 0)
  [ "$open" = "$n" ] && break
  sleep 0.5
done
first_run=$(python3 -c "import time; print('%.1f' % (time.time() - $started))")
echo "first run recorded $n findings in ${first_run}s" >&2

# wrk's latency distribution: p50 and p99 in ms, and requests per second.
load() {
  local url=$1; shift
  wrk -t2 -c200 -d"${duration}s" --timeout 10s --latency "$@" "$url" > "$dir/wrk.txt"
  python3 - "$dir/wrk.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(label):
    m = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s)\s*$" % label, t, re.M)
    if not m:
        return float("nan")  # no request completed
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
timeouts = re.search(r"timeout (\d+)", t)
bad = (int(errors.group(1)) if errors else 0) + (int(timeouts.group(1)) if timeouts else 0)
print("%.1f\t%.1f\t%.0f\t%d" % (ms("50%"), ms("99%"), rps, bad))
PY
}

declare -A rows
base="http://127.0.0.1:$port"
rows[page1]=$(load "$base/api/v1/findings?state=open&limit=100" -H "$auth")
rows[deep]=$(load "$base/api/v1/findings?stack=bench&state=open&after=$((n * 9 / 10))&limit=100" -H "$auth")
# Every request a different page (a cursor picked per request), so none is served from the
# page cache: what a page costs to read and render.
cat > "$dir/cold.lua" <<LUA
local i = 0
request = function()
  i = i + 1
  local after = (i * 7919) % $((n - 100))
  return wrk.format("GET", "/api/v1/findings?state=open&limit=100&after=" .. after)
end
LUA
rows[cold]=$(load "$base" -H "$auth" -s "$dir/cold.lua")
rows[one]=$(load "$base/api/v1/findings/$((n / 2))" -H "$auth")
rows[stacks]=$(load "$base/api/v1/stacks" -H "$auth")

peer=""
if [ -z "${db:-}" ] && command -v datasette >/dev/null; then
  datasette serve "$dir/state/events.db" --port 18182 --setting max_returned_rows 1000 --setting num_sql_threads 3 > /dev/null 2>&1 &
  ds=$!
  until curl -s "127.0.0.1:18182/-/versions.json" > /dev/null; do sleep 0.3; done
  dsbase="http://127.0.0.1:18182/events/service_findings.json"
  peer_page1=$(load "$dsbase?state=open&_size=100")
  peer_deep=$(load "$dsbase?stack=bench&state=open&_size=100&id__gt=$((n * 9 / 10))")
  peer_one=$(load "http://127.0.0.1:18182/events/service_findings/$((n / 2)).json")
  peer=1
fi

echo "### The service's API (bench/serve-api.sh, ${BENCH_STORE:-sqlite} store, $n open findings, wrk: 2 threads, 200 connections, ${duration} s each)"
echo
echo "First run (scan of $n resources and $n findings recorded): ${first_run} s."
echo
echo "| request | driftlog p50 ms | driftlog p99 ms | driftlog req/s | errors or timeouts |$( [ -n "$peer" ] && echo ' Datasette p50 ms | Datasette p99 ms | Datasette req/s | p99 ratio |')"
echo "|---|---|---|---|---|$( [ -n "$peer" ] && echo '---|---|---|---|')"
row() {
  local label=$1 ours=$2 theirs=${3:-}
  IFS=$'\t' read -r p50 p99 rps err <<< "$ours"
  if [ -n "$theirs" ]; then
    IFS=$'\t' read -r q50 q99 qrps _ <<< "$theirs"
    if python3 -c "import sys; sys.exit(0 if $qrps >= 1 and $q99 > 0 else 1)" 2>/dev/null; then
      ratio=$(python3 -c "print('%.1f×' % ($q99 / $p99))")
      echo "| $label | $p50 | $p99 | $rps | $err | $q50 | $q99 | $qrps | $ratio |"
    else
      echo "| $label | $p50 | $p99 | $rps | $err | timed out | timed out | $qrps | — |"
    fi
  else
    echo "| $label | $p50 | $p99 | $rps | $err |$( [ -n "$peer" ] && echo ' | | | |')"
  fi
}
row "first page of open findings (100)" "${rows[page1]}" "${peer_page1:-}"
row "a page 90% deep (100)" "${rows[deep]}" "${peer_deep:-}"
row "a different page each request (100, not cached)" "${rows[cold]}"
row "one finding" "${rows[one]}" "${peer_one:-}"
row "stacks with status" "${rows[stacks]}"
echo
echo "Goal: p99 <= 50 ms at 200 clients."

# A job claim, in each store: 1,000 due jobs, 10,000 claim-and-finish cycles (goal <= 5 ms).
echo
echo "Job claims (1,000 due jobs, 10,000 claim-and-finish cycles; goal <= 5 ms):"
echo
(cd "$root" && cargo build --release --quiet -p driftlog-store --example claim_latency)
echo "- SQLite: $("$root/target/release/examples/claim_latency")"
if [ -n "${DRIFTLOG_TEST_POSTGRES:-}" ]; then
  (cd "$root" && cargo build --release --quiet -p driftlog-postgres --example pg_claim_latency)
  psql -q "$DRIFTLOG_TEST_POSTGRES" -c "DROP DATABASE IF EXISTS driftlog_bench_claims" -c "CREATE DATABASE driftlog_bench_claims"
  bench_url="${DRIFTLOG_TEST_POSTGRES%/*}/driftlog_bench_claims"
  echo "- PostgreSQL $(psql -tA "$DRIFTLOG_TEST_POSTGRES" -c 'SHOW server_version' | cut -d' ' -f1) on 127.0.0.1: $(DRIFTLOG_BENCH_POSTGRES=$bench_url "$root/target/release/examples/pg_claim_latency")"
  psql -q "$DRIFTLOG_TEST_POSTGRES" -c "DROP DATABASE driftlog_bench_claims WITH (FORCE)"
fi
