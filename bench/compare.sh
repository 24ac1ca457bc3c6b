#!/usr/bin/env bash
# Times `driftlog compare` of three environments (bench/gen-envs: dev, staging, prod, N
# resources each, with planted differences) against Python's json.load of the same three
# states (the parse floor) and jq, in the same run; reports peak memory against the inputs'
# size. Prints Markdown for docs/BENCHMARKS.md.
# Usage: bench/compare.sh [RESOURCES]   (default 100000; BENCH_DIR to reuse data)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000}
dir=${BENCH_DIR:-/tmp/driftlog-bench/envs-$n}

if [ ! -f "$dir/ANSWERS.json" ]; then
  echo "generating three $n-resource environments in $dir" >&2
  python3 "$root/bench/gen-envs" --resources "$n" --out "$dir" >&2
fi
(cd "$root" && cargo build --release --quiet)
bin=$root/target/release/driftlog
cd "$dir"
cat dev.tfstate staging.tfstate prod.tfstate > /dev/null

. "$root/bench/lib.sh"

results=$(
  measure "driftlog compare (3 environments) -f json" "$bin" --ledger off compare --env dev=dev.tfstate --env staging=staging.tfstate --env prod=prod.tfstate --env-token prod=production -f json
  measure "python3 json.load of the three states" python3 -c 'import json; [json.load(open(f)) for f in ("dev.tfstate", "staging.tfstate", "prod.tfstate")]'
  measure "jq -c . of the three states" jq -c . dev.tfstate staging.tfstate prod.tfstate
)

# Accuracy on the same run: the unexpected differences found equal the planted ones.
MEASURE_STDOUT=$dir/report.json measure "check" "$bin" --ledger off compare --env dev=dev.tfstate --env staging=staging.tfstate --env prod=prod.tfstate --env-token prod=production -f json > /dev/null
accuracy=$(python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
r = json.load(open(d + "/report.json")); a = json.load(open(d + "/ANSWERS.json"))
got = {(x["address"], y["path"]) for x in r["resources"] for y in x["differences"] if "expected" not in y}
want = {(u["address"], u["path"]) for u in a["unexpected"]}
print("%d unexpected differences planted, %d found, %d false, %d missed" % (len(want), len(got & want), len(got - want), len(want - got)))
PY
)

first_s=$(echo "$results" | awk -F'\t' 'NR==1{print $2}')
mb=$(du -cm dev.tfstate staging.tfstate prod.tfstate | awk 'END{print $1}')
echo "Environments: 3 × $n resources (bench/gen-envs; $mb MB of state in all), $(nproc) cores, $(date -u +%Y-%m-%d). $accuracy."
echo
echo "| command | wall s | peak RSS MB | RSS ÷ inputs | CPU | time ÷ driftlog |"
echo "|---|---:|---:|---:|---:|---:|"
echo "$results" | awk -F'\t' -v s="$first_s" -v mb="$mb" '{printf "| `%s` | %.2f | %d | %.1f× | %s | %.2f× |\n", $1, $2, $3, $3/mb, $4, $2/s}'
