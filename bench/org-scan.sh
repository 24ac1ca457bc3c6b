#!/usr/bin/env bash
# Org-wide scans (issue #15): one `driftlog scan --declared GLOB --live GLOB` over 1,000 stacks
# (a gen-corpus scenario split by bench/gen-stacks) against what a team runs today, one
# `driftlog scan` per stack in a shell loop, and against one scan of the unsplit scenario (the
# floor: the same resources in one pair of states). Peak RSS shows memory following the
# largest stack, not the sum. Prints Markdown for docs/BENCHMARKS.md.
# Usage: bench/org-scan.sh [RESOURCES] [STACKS]   (default 20000 resources, 1000 stacks)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
resources=${1:-20000}
stacks=${2:-1000}
gen=${DRIFTLOG_GEN_CORPUS:-$root/../shared/tools/gen-corpus}
work=$(mktemp -d /tmp/driftlog-bench-org.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$root/bench/lib.sh"

python3 "$gen" scenario --resources "$resources" --noise "$resources" --out "$work/scenario" > /dev/null
split=$(python3 "$root/bench/gen-stacks" "$work/scenario" "$work/stacks" "$stacks")
(cd "$root" && cargo build --release --quiet)
bin=$root/target/release/driftlog
cd "$work"
"$bin" --store "$work/events.db" --ledger off ingest scenario/cloudtrail > /dev/null

loop() {
  for d in stacks/*/; do
    "$bin" --store "$work/events.db" --ledger off scan --declared "$d/declared.tfstate" --live "$d/live.tfstate" -f json > /dev/null || [ $? -eq 2 ]
  done
}
export -f loop; export bin work

results=$(
  measure "driftlog scan --declared 'stacks/*/declared.tfstate' --live 'stacks/*/live.tfstate' (attributed)" \
    "$bin" --store "$work/events.db" --ledger off scan --declared 'stacks/*/declared.tfstate' --live 'stacks/*/live.tfstate' -f json
  measure "the same, --no-attribution" \
    "$bin" --store "$work/events.db" --ledger off scan --declared 'stacks/*/declared.tfstate' --live 'stacks/*/live.tfstate' --no-attribution -f json
  measure "driftlog scan once per stack, in a shell loop (attributed)" bash -c loop
  measure "one scan of the unsplit scenario (attributed; the floor)" \
    "$bin" --store "$work/events.db" --ledger off scan --declared scenario/declared.tfstate --live scenario/live.tfstate -f json
)
"$bin" --store "$work/events.db" --ledger off scan --declared 'stacks/*/declared.tfstate' --live 'stacks/*/live.tfstate' -f json > "$work/fleet.json" || true
"$bin" --store "$work/events.db" --ledger off scan --declared scenario/declared.tfstate --live scenario/live.tfstate -f json > "$work/whole.json" || true
check=$(python3 - "$work/fleet.json" "$work/whole.json" <<'PY'
import json, sys
fleet, whole = (json.load(open(p)) for p in sys.argv[1:])
found = {(f["address"], ((f.get("attribution") or {}).get("caused_by") or [{}])[0].get("event_id"))
         for s in fleet["stacks"] for f in s["report"]["findings"]}
want = {(f["address"], ((f.get("attribution") or {}).get("caused_by") or [{}])[0].get("event_id"))
        for f in whole["findings"]}
print(f"{len(fleet['stacks'])} stacks, {fleet['summary']['stacks_drifted']} drifted; "
      f"{fleet['summary']['total']['drifted']} findings across stacks vs {whole['summary']['drifted']} "
      f"in the unsplit scan; findings and causes equal: {found == want}")
PY
)
largest=$(du -k stacks/*/*.tfstate | sort -n | tail -n 1 | cut -f1)
total=$(du -sk stacks | cut -f1)
fleet_s=$(echo "$results" | awk -F'\t' 'NR==1{print $2}')
echo "Scenario: gen-corpus scenario --resources $resources split into $stacks stacks ($split), $(nproc) cores, $(date -u +%Y-%m-%d); states: $((total / 1024)) MB in all, the largest file ${largest} KB"
echo
echo "| command | wall s | peak RSS MB | CPU | time ÷ org-wide scan |"
echo "|---|---:|---:|---:|---:|"
echo "$results" | awk -F'\t' -v d="$fleet_s" '{printf "| %s | %.2f | %d | %s | %.2f× |\n", $1, $2, $3, $4, $2/d}'
echo
echo "$check"
