#!/usr/bin/env bash
# Times `driftlog scan` in both modes on a generated 100k-resource scenario, against jq and
# Python's json.load on the same files, in the same run. Prints a Markdown table for
# docs/BENCHMARKS.md. Usage: bench/scan.sh [RESOURCES]   (default 100000; BENCH_DIR to reuse data)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000}
dir=${BENCH_DIR:-/tmp/driftlog-bench/scenario-$n}
gen=${DRIFTLOG_GEN_CORPUS:-$root/../shared/tools/gen-corpus}

if [ ! -f "$dir/plan.json" ]; then
  echo "generating a $n-resource scenario in $dir" >&2
  python3 "$gen" scenario --resources "$n" --noise 0 --out "$dir" >&2
fi
(cd "$root" && cargo build --release --quiet)
bin=$root/target/release/driftlog
cd "$dir"
# Warm the page cache so every contender reads from memory.
cat declared.tfstate live.tfstate plan.json > /dev/null

. "$root/bench/lib.sh"

results=$(
  measure "driftlog scan --declared declared.tfstate --live live.tfstate -f json" "$bin" scan --declared declared.tfstate --live live.tfstate -f json
  measure "driftlog scan --plan plan.json -f json" "$bin" scan --plan plan.json -f json
  measure "jq -c . declared.tfstate live.tfstate" jq -c . declared.tfstate live.tfstate
  measure "python3 json.load(declared), json.load(live)" python3 -c 'import json; [json.load(open(f)) for f in ("declared.tfstate", "live.tfstate")]'
  measure "jq -c . plan.json" jq -c . plan.json
  measure "python3 json.load(plan)" python3 -c 'import json; json.load(open("plan.json"))'
)

state_s=$(echo "$results" | awk -F'\t' 'NR==1{print $2}')
plan_s=$(echo "$results" | awk -F'\t' 'NR==2{print $2}')
sizes=$(du -m declared.tfstate live.tfstate plan.json | awk '{printf "%s %s MB; ", $2, $1}')
echo "Scenario: $n resources ($sizes$(nproc) cores), $(date -u +%Y-%m-%d)"
echo
echo "| command | wall s | peak RSS MB | CPU | time ÷ driftlog (state mode) | time ÷ driftlog (plan mode) |"
echo "|---|---:|---:|---:|---:|---:|"
echo "$results" | awk -F'\t' -v s="$state_s" -v p="$plan_s" '{printf "| `%s` | %.2f | %d | %s | %.1f× | %.1f× |\n", $1, $2, $3, $4, $2/s, $2/p}'
