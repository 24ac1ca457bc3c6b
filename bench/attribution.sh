#!/usr/bin/env bash
# Attribution at scale: a gen-corpus scenario (default 100k resources, noise 10x, so over a
# million CloudTrail events), ingested once, then `driftlog scan` timed with and without
# attribution on the same store; prints precision and recall against the answer key.
# Usage: bench/attribution.sh [RESOURCES]   (BENCH_DIR to reuse a scenario)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000}
dir=${BENCH_DIR:-/tmp/driftlog-bench/attribution-$n}
gen=${DRIFTLOG_GEN_CORPUS:-$root/../shared/tools/gen-corpus}
work=$(mktemp -d /tmp/driftlog-bench-attr.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ ! -f "$dir/answer-key.json" ]; then
  echo "generating a $n-resource scenario with CloudTrail in $dir" >&2
  python3 "$gen" scenario --resources "$n" --out "$dir" >&2
fi
(cd "$root" && cargo build --release --quiet)
bin=$root/target/release/driftlog
cd "$dir"
store=$work/events.db
"$bin" --store "$store" ingest cloudtrail --format json > "$work/ingest.json"
. "$root/bench/lib.sh"

export MEASURE_STDOUT=$work/last.json
without=$(measure "scan, no attribution" "$bin" --store "$store" scan --declared declared.tfstate --live live.tfstate -f json --no-attribution)
with=$(measure "scan with attribution" "$bin" --store "$store" scan --declared declared.tfstate --live live.tfstate -f json)
cp "$work/last.json" "$work/report.json"

accuracy=$(python3 - "$work/report.json" answer-key.json <<'PY'
import json, sys
report, key = (json.load(open(p)) for p in sys.argv[1:])
by = {f["address"]: f for f in report["findings"]}
decoys = {d["eventID"] for d in key["decoys"]}
correct = attributed = decoy_hits = 0
for d in key["drifted"]:
    causes = by[d["address"]].get("attribution", {}).get("caused_by", [])
    attributed += bool(causes)
    decoy_hits += sum(c["event_id"] in decoys for c in causes)
    correct += any(c["event_id"] == d["caused_by"]["eventID"] and c["principal"] == d["caused_by"]["principal_arn"] for c in causes)
n = len(key["drifted"])
print(f"{n} drifted; {correct} attributed to the key's event and principal; precision {correct / max(attributed, 1):.4f}, recall {correct / n:.4f}; decoys chosen: {decoy_hits}")
PY
)
events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["store_events"])' "$work/ingest.json")
w=$(echo "$with" | cut -f2); wo=$(echo "$without" | cut -f2)
echo "Scenario: gen-corpus scenario --resources $n (noise 10x), $events CloudTrail events in the store, $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| command | wall s | peak RSS MB | CPU |"
echo "|---|---:|---:|---:|"
printf '%s\n%s\n' "$without" "$with" | awk -F'\t' '{printf "| `%s` | %.2f | %d | %s |\n", $1, $2, $3, $4}'
echo
echo "Attribution alone: $(echo "$w $wo" | awk '{printf "%.2f", $1 - $2}') s. Accuracy: $accuracy"
