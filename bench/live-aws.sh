#!/usr/bin/env bash
# `scan --live aws` of N resources over five types and two regions in moto, against a
# sequential boto3 loop reading the same resources with the same calls (bench/live-aws-peer.py),
# in the same run. Issue 12's goals: ≥ 5× faster than the loop, and requests ≤ 1.05× the
# minimum needed (each object read once; EC2 up to 200 ids a request). Prints Markdown for
# docs/BENCHMARKS.md.
# moto answers from one Python process, so on loopback every request costs its CPU time and
# no network wait; real AWS answers in tens of milliseconds. The run is made twice: straight
# to moto, and through tests/support/aws_proxy.py adding LATENCY_MS (default 20) to every
# request, as a region's API endpoint does — the same for driftlog and the peer.
# Usage: bench/live-aws.sh [RESOURCES]   (default 5000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-5000}
regions=us-east-1,eu-west-1
work=$(mktemp -d /tmp/driftlog-bench-live.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; rm -rf "$work"' EXIT
(cd "$root" && cargo build --release --quiet)
bin=$root/target/release/driftlog
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
endpoint=http://127.0.0.1:$port
until python3 -c "import urllib.request; urllib.request.urlopen('$endpoint')" 2>/dev/null; do sleep 0.2; done
echo "creating $n resources in moto" >&2
python3 "$root/crates/driftlog/tests/support/moto_account.py" bulk --endpoint "$endpoint" --out "$work" \
  --count "$n" --regions "$regions" >&2
. "$root/bench/lib.sh"
latency=${LATENCY_MS:-20}
proxy_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$root/crates/driftlog/tests/support/aws_proxy.py" --upstream "$endpoint" --port "$proxy_port" \
  --delay-ms "$latency" >/dev/null &
proxy=$!
trap 'kill $moto $proxy 2>/dev/null; rm -rf "$work"' EXIT
slow=http://127.0.0.1:$proxy_port
until python3 -c "import urllib.request; urllib.request.urlopen('$slow/__proxy/stats')" 2>/dev/null; do sleep 0.2; done
run_all() {  # ENDPOINT LABEL: prints the table rows for one endpoint
  local endpoint=$1 label=$2
  local results results_all peer
  results=$(
  measure "driftlog scan --live aws --managed-only" "$bin" --ledger off --endpoint-url "$endpoint" \
    scan --no-attribution --managed-only --regions "$regions" --declared "$work/declared.tfstate" --live aws \
    -f json -o "$work/report.json"
)
  peer=$(python3 "$root/bench/live-aws-peer.py" "$work/declared.tfstate" "$endpoint")
  # A second driftlog run lists both regions too (unmanaged search) for its cost.
  results_all=$(
  measure "driftlog scan --live aws (listing everything too)" "$bin" --ledger off --endpoint-url "$endpoint" \
    scan --no-attribution --regions "$regions" --declared "$work/declared.tfstate" --live aws \
    -f json -o "$work/report-all.json"
)
  python3 - "$work" "$peer" "$results" "$results_all" "$label" <<'PY'
import json, math, sys
work, peer, res, res_all, label = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
state = json.load(open(f"{work}/declared.tfstate"))
count = {}
for r in state["resources"]:
    key = r["type"]
    if key in ("aws_security_group", "aws_vpc"):
        key = (key, r["instances"][0]["attributes"]["arn"].split(":")[3])
    count[key] = count.get(key, 0) + len(r["instances"])
per = {"aws_sqs_queue": 2, "aws_sns_topic": 2, "aws_dynamodb_table": 2, "aws_iam_role": 1}
minimum = sum(per[k] * v for k, v in count.items() if isinstance(k, str))
minimum += sum(math.ceil(v / 200) for k, v in count.items() if not isinstance(k, str))
rep = json.load(open(f"{work}/report.json"))
rep_all = json.load(open(f"{work}/report-all.json"))
name, secs, rss, cpu = res.split("\t")[:4]
_, secs_all, rss_all, cpu_all = res_all.split("\t")[:4]
print(f"| {label}: sequential boto3 loop (peer) | {peer['seconds']:.2f} | {peer['requests']} | {peer['requests']/minimum:.2f}× | | 1.00× |")
print(f"| {label}: `{name}` | {float(secs):.2f} | {rep['live']['requests']} | {rep['live']['requests']/minimum:.2f}× | {rss} | {peer['seconds']/float(secs):.1f}× |")
print(f"| {label}: `driftlog scan --live aws` (also lists everything) | {float(secs_all):.2f} | {rep_all['live']['requests']} | | {rss_all} | {peer['seconds']/float(secs_all):.1f}× |")
print(f"MINIMUM {minimum} DRIFTED {rep['summary']['drifted']} THROTTLED {rep['live']['throttled']}", file=sys.stderr)
PY
}
rows_direct=$(run_all "$endpoint" "moto direct")
rows_latency=$(run_all "$slow" "+${latency} ms a request")
total=$(python3 -c "import json; d=json.load(open('$work/declared.tfstate')); print(sum(len(r['instances']) for r in d['resources']))")
echo "$total resources (SQS queues, SNS topics, DynamoDB tables and security groups in two regions, IAM roles), moto_server on 127.0.0.1, $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| run | wall s | requests | requests ÷ minimum | peak RSS MB | faster than boto3 |"
echo "|---|---:|---:|---:|---:|---:|"
echo "$rows_direct"
echo "$rows_latency"
