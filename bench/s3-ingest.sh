#!/usr/bin/env bash
# Times `driftlog ingest s3://…` of a generated CloudTrail corpus served by a local moto_server
# against `driftlog ingest DIR` of the same files, in the same run (issue 12's goal: S3 within
# 1.5× of local). Prints Markdown for docs/BENCHMARKS.md.
# Usage: bench/s3-ingest.sh [EVENTS]   (default 1000000; BENCH_DIR to reuse a corpus)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
dir=${BENCH_DIR:-/tmp/driftlog-bench/cloudtrail-$n}
gen=${DRIFTLOG_GEN_CORPUS:-$root/../shared/tools/gen-corpus}
work=$(mktemp -d /tmp/driftlog-bench-s3.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; rm -rf "$work"' EXIT
if [ ! -f "$dir/MANIFEST.json" ]; then
  echo "generating $n CloudTrail events in $dir" >&2
  python3 "$gen" cloudtrail --events "$n" --out "$dir" >&2
fi
(cd "$root" && cargo build --release --quiet)
bin=$root/target/release/driftlog
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
endpoint=http://127.0.0.1:$port
until python3 -c "import urllib.request; urllib.request.urlopen('$endpoint')" 2>/dev/null; do sleep 0.2; done
python3 - "$dir" "$endpoint" <<'PY'
import os, sys, boto3
root, endpoint = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
s3.create_bucket(Bucket="trail")
for d, _, files in os.walk(os.path.join(root, "AWSLogs")):
    for f in files:
        p = os.path.join(d, f)
        s3.upload_file(p, "trail", os.path.relpath(p, root))
PY
find "$dir/AWSLogs" -name '*.json.gz' -print0 | xargs -0 cat > /dev/null
. "$root/bench/lib.sh"
results=$(
  measure "driftlog ingest DIR (local files)" "$bin" --ledger off --store "$work/local.db" ingest "$dir/AWSLogs"
  measure "driftlog ingest s3://trail/ (moto on loopback)" "$bin" --ledger off --store "$work/s3.db" --endpoint-url "$endpoint" ingest s3://trail/
  measure "driftlog ingest s3://trail/ again (all known)" "$bin" --ledger off --store "$work/s3.db" --endpoint-url "$endpoint" ingest s3://trail/
)
local_s=$(echo "$results" | awk -F'\t' 'NR==1{print $2}')
echo "Corpus: gen-corpus cloudtrail --events $n ($(find "$dir/AWSLogs" -name '*.json.gz' | wc -l) files), moto_server on 127.0.0.1, $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| command | wall s | peak RSS MB | CPU | time ÷ local |"
echo "|---|---:|---:|---:|---:|"
echo "$results" | awk -F'\t' -v s="$local_s" '{printf "| `%s` | %.2f | %d | %s | %.2f× |\n", $1, $2, $3, $4, $2/s}'
