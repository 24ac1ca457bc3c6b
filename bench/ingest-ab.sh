#!/usr/bin/env bash
# Alternated rounds of `driftlog ingest` by several builds on the same corpus, each round
# ending with bare `zcat` of the same files: on a machine whose pace drifts by 10% from run to
# run, only builds timed side by side compare. Every run writes a fresh store.
# Usage: bench/ingest-ab.sh ROUNDS NAME=BINARY [NAME=BINARY ...]
#   e.g. bench/ingest-ab.sh 4 before=/tmp/driftlog-69dc4fa after=target/release/driftlog
#   (EVENTS, default 1000000, picks the corpus; BENCH_DIR to reuse another)
# Prints one line per run (wall, user, sys, peak RSS), then each build's median against zcat,
# and each store's size.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,9p "$0" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=$1; shift
n=${EVENTS:-1000000}
dir=${BENCH_DIR:-/tmp/driftlog-bench/cloudtrail-$n}
gen=${DRIFTLOG_GEN_CORPUS:-$root/../shared/tools/gen-corpus}
work=$(mktemp -d /tmp/driftlog-bench-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
if [ ! -f "$dir/MANIFEST.json" ]; then
  echo "generating $n CloudTrail events in $dir" >&2
  python3 "$gen" cloudtrail --events "$n" --out "$dir" >&2
fi
declare -A bins
for nb in "$@"; do bins[${nb%%=*}]=$(realpath "${nb#*=}"); done
cd "$dir"
find AWSLogs -name '*.json.gz' | sort > "$work/files"
xargs cat < "$work/files" > /dev/null
for r in $(seq 1 "$rounds"); do
  for nb in "$@"; do
    name=${nb%%=*}
    rm -rf "${work:?}/$name"; mkdir -p "$work/$name"
    /usr/bin/time -f "%e %U %S %M" -o "$work/t" "${bins[$name]}" --store "$work/$name/d.db" \
      --ledger "$work/$name/l.db" ingest AWSLogs > /dev/null 2>&1
    read -r wall user sys kb < "$work/t"
    echo "$wall" >> "$work/$name.walls"
    printf 'round %s\t%s\t%s s wall\t%s s user\t%s s sys\t%s MB\n' "$r" "$name" "$wall" "$user" "$sys" "$((kb / 1024))"
  done
  /usr/bin/time -f "%e" -o "$work/t" sh -c "xargs zcat < '$work/files' > /dev/null"
  z=$(cat "$work/t"); echo "$z" >> "$work/zcat.walls"
  printf 'round %s\tzcat\t%s s wall\n' "$r" "$z"
done
for nb in "$@"; do
  name=${nb%%=*}
  ratio=$(python3 - "$work/$name.walls" "$work/zcat.walls" <<'PY'
import statistics, sys
walls = [float(x) for x in open(sys.argv[1])]
zcat = [float(x) for x in open(sys.argv[2])]
print(f"{statistics.median(w / z for w, z in zip(walls, zcat)):.2f}")
PY
)
  printf '%s\tmedian %s× zcat\tstore %s bytes\n' "$name" "$ratio" "$(stat -c %s "$work/$name/d.db")"
done
