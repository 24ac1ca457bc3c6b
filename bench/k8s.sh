#!/usr/bin/env bash
# Kubernetes scan at scale: bench/gen-k8s makes N objects (default 20,000) across 10 kinds as one
# multi-document manifest file and a `kubectl get -o json` List with server defaults,
# managedFields, last-applied annotations, 1% hand edits, 0.5% deletions and 0.5% unmanaged
# extras. Times `driftlog scan` (read both, normalize, compare, report as JSON) against the parse
# floor in Python on the same files in the same run: PyYAML's `safe_load_all` of the manifests
# (with libyaml's CLoader when built with it, and the pure-Python loader) plus `json.load` of the
# live List. The goal (issue 14): driftlog >= 3x faster than that parse alone.
# Usage: bench/k8s.sh [OBJECTS]   (BENCH_DIR to reuse generated files; needs PyYAML)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-20000}
dir=${BENCH_DIR:-/tmp/driftlog-bench/k8s-$n}
work=$(mktemp -d /tmp/driftlog-bench-k8s.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 -c 'import yaml' 2>/dev/null || { echo "PyYAML is needed: pip install pyyaml" >&2; exit 1; }
if [ ! -f "$dir/live.json" ]; then
  echo "generating $n objects in $dir" >&2
  python3 "$root/bench/gen-k8s" --objects "$n" --out "$dir" > "$dir.gen.json"
fi
(cd "$root" && cargo build --release --quiet)
bin=$root/target/release/driftlog
. "$root/bench/lib.sh"

cat > "$work/parse.py" <<'PY'
import json, sys, yaml
loader = yaml.CSafeLoader if sys.argv[1] == "c" and hasattr(yaml, "CSafeLoader") else yaml.SafeLoader
with open(sys.argv[2]) as f:
    docs = [d for d in yaml.load_all(f, Loader=loader) if d]
with open(sys.argv[3]) as f:
    live = json.load(f)["items"]
print(len(docs), len(live))
PY

export MEASURE_STDOUT=$work/report.json
scan=$(measure "driftlog scan (files, JSON report)" "$bin" --store "$work/events.db" scan --no-attribution --k8s-declared "$dir/manifests.yaml" --k8s-live "$dir/live.json" -f json)
cp "$work/report.json" "$work/scan.json"
export MEASURE_STDOUT=/dev/null
cparse=$(measure "python3 yaml.safe_load_all (CSafeLoader) + json.load" python3 "$work/parse.py" c "$dir/manifests.yaml" "$dir/live.json")
pyparse=$(measure "python3 yaml.safe_load_all (pure Python) + json.load" python3 "$work/parse.py" py "$dir/manifests.yaml" "$dir/live.json")

found=$(python3 - "$work/scan.json" "$dir.gen.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); g = json.load(open(sys.argv[2]))
s = r["summary"]
print(f"found {s['changed']} changed, {s['deleted']} deleted, {s['unmanaged']} unmanaged "
      f"(generated: {g['edited']} edited, {g['deleted']} deleted, {g['unmanaged']} unmanaged); {s['suppressed']} suppressed")
PY
)
mb() { du -m "$1" | cut -f1; }
echo "Scenario: bench/gen-k8s --objects $n: manifests.yaml $(mb "$dir/manifests.yaml") MB, live.json $(mb "$dir/live.json") MB; $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| command | wall s | peak RSS MB | CPU |"
echo "|---|---:|---:|---:|"
printf '%s\n%s\n%s\n' "$scan" "$cparse" "$pyparse" | awk -F'\t' '{printf "| `%s` | %.2f | %d | %s |\n", $1, $2, $3, $4}'
echo
d=$(echo "$scan" | cut -f2); c=$(echo "$cparse" | cut -f2); p=$(echo "$pyparse" | cut -f2)
echo "driftlog vs the parse floor: $(echo "$c $d" | awk '{printf "%.1fx", $1 / $2}') faster than CSafeLoader, $(echo "$p $d" | awk '{printf "%.1fx", $1 / $2}') faster than the pure-Python loader. $found."
