#!/usr/bin/env bash
# The `driftlog events` filter matrix on a store of the generated CloudTrail corpus: every
# combination of resource, principal, action, actor kind, source, time range and
# writes-only (each absent or one of a busy and a rare value), with `--limit 20`, timed as a
# user runs it (the whole command, median of 3 runs); then full listings of the busiest
# values.
# Goal (issue #15): every combination ≤ 10 ms with --limit 20; full listings of ~87k
# matching events ≤ 300 ms.
# Usage: bench/query-matrix.sh [EVENTS]   (default 1000000; STORE=path to reuse a store, or
#        STORE=postgres://… for a PostgreSQL store already holding the same corpus; the values
#        are then picked from the SQLite store of the corpus, made if missing; SERVE=1 also
#        times every combination through `driftlog serve`'s /api/v1/events, where the store's
#        connection is kept: what a team's dashboard or script pays, without a process start
#        and a PostgreSQL login per query; BIN=path times that build instead of this tree's;
#        AGAINST=store also checks that every combination lists the same events, in the same
#        order, from that other store of the same corpus, e.g. SQLite against PostgreSQL)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
dir=${BENCH_DIR:-/tmp/driftlog-bench/cloudtrail-$n}
gen=${DRIFTLOG_GEN_CORPUS:-$root/../shared/tools/gen-corpus}
if [ ! -f "$dir/MANIFEST.json" ]; then
  echo "generating $n CloudTrail events in $dir" >&2
  python3 "$gen" cloudtrail --events "$n" --out "$dir" >&2
fi
if [ -z "${BIN:-}" ]; then
  (cd "$root" && cargo build --release --quiet)
fi
bin=${BIN:-$root/target/release/driftlog}
store=${STORE:-$dir.store/events.db}
values=$store
case "$store" in postgres://*|postgresql://*) values=$dir.store/events.db ;; esac
if [ ! -f "$values" ]; then
  mkdir -p "$(dirname "$values")"
  echo "ingesting $dir into $values" >&2
  (cd "$dir" && "$bin" --store "$values" ingest AWSLogs > /dev/null)
fi
python3 - "$bin" "$store" "$values" "${SERVE:-}" "${AGAINST:-}" <<'PY'
import itertools, json, os, socket, sqlite3, statistics, subprocess, sys, tempfile, time
import urllib.parse, urllib.request
bin, store, values, serve, against = sys.argv[1:6]
db = sqlite3.connect(values)
def top(sql):
    return db.execute(sql).fetchall()
def string_counts(column, where=""):
    return top(f"SELECT s.text, count(*) FROM events e JOIN strings s ON s.id = e.{column} {where} "
               "GROUP BY 1 ORDER BY 2 DESC")
principals = string_counts("principal")
actions = string_counts("action")
# A busy value and a rare one (a few hundred events) of each.
def busy_rare(counts):
    rare = min((c for c in counts if c[1] >= 100), key=lambda c: c[1], default=counts[-1])
    return [counts[0][0], rare[0]]
counts = {}
# (Posting lists: a tag byte, then two LEB128 varints per event when times are whole seconds.)
for name, blob in db.execute("SELECT n.text, p.events FROM ref_postings p JOIN ref_names n ON n.id = p.name"):
    counts[name] = counts.get(name, 0) + sum(1 for b in blob if b < 0x80) // 2
refs = sorted(counts.items(), key=lambda kv: -kv[1])
resource = [refs[0][0], min((kv for kv in refs if kv[1] >= 100), key=lambda kv: kv[1])[0]]
principal = busy_rare(principals)
action = busy_rare(actions)
first, last = db.execute("SELECT min(time_us), max(time_us) FROM events").fetchone()
day = 86_400_000_000
mid = first + (last - first) // 2
since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mid // 1_000_000))
until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((mid + day) // 1_000_000))
axes = [
    [[]] + [["--resource", r] for r in resource],
    [[]] + [["--principal", p] for p in principal],
    [[]] + [["--action", a] for a in action],
    [[], ["--actor-kind", "console"], ["--actor-kind", "service"]],
    [[], ["--source", "aws"], ["--source", "kubernetes"]],
    [[], ["--since", since, "--until", until]],
    [[], ["--writes-only"]],
]
def listing(at, args):
    return subprocess.run([bin, "--store", at, "events", *args, "--format", "jsonl"],
                          capture_output=True, check=True).stdout
def run(args, reps=3):
    times, out = [], b""
    for _ in range(reps):
        t = time.perf_counter()
        out = listing(store, args)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, out
# The command's own floor: a query that reads nothing.
floor, _ = run(["--resource", "no-such-resource-anywhere"])
results, outputs = [], []
for combo in itertools.product(*axes):
    args = [a for part in combo for a in part] + ["--limit", "20"]
    ms, out = run(args)
    results.append((ms, len(out.splitlines()), args))
    outputs.append(out)
times = sorted(r[0] for r in results)
over = [r for r in results if r[0] > 10]
print(f"Values: resource `{resource[0]}` ({refs[0][1]} events) and `{resource[1]}`; principal "
      f"`{principal[0]}` and `{principal[1]}`; action `{action[0]}` and `{action[1]}`; one day "
      f"from {since}.")
print()
print(f"{len(results)} combinations with `--limit 20`, each the median of 3 runs of the whole "
      f"command (a query that reads nothing takes {floor:.1f} ms):")
print()
print("| p50 ms | p95 ms | max ms | over 10 ms |")
print("|---:|---:|---:|---:|")
p95 = times[int(len(times) * 0.95) - 1]
print(f"| {statistics.median(times):.1f} | {p95:.1f} | {times[-1]:.1f} | {len(over)} |")
print()
print("The slowest five:")
print()
print("| filters | rows | ms |")
print("|---|---:|---:|")
for ms, rows, args in sorted(results, reverse=True)[:5]:
    print(f"| `{' '.join(args)}` | {rows} | {ms:.1f} |")
print()
def to_null(args, reps=3):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run([bin, "--store", store, "events", *args, "--format", "jsonl"],
                       stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000
# Read by this script (which costs: `cat` of the same 74 MB into Python takes about 130 ms),
# and written to /dev/null (the command alone).
print("Full listings (no limit), JSON lines:")
print()
print("| filters | rows | ms, read by Python | ms, to /dev/null |")
print("|---|---:|---:|---:|")
for args in (["--principal", principal[0]], ["--action", action[0]], ["--resource", resource[0]],
             ["--principal", principal[0], "--writes-only"], ["--actor-kind", "console"]):
    ms, out = run(args, reps=3)
    print(f"| `{' '.join(args)}` | {len(out.splitlines())} | {ms:.1f} | {to_null(args):.1f} |")
if against:
    def listed(out):
        return [(e["time"], e["event_id"]) for e in map(json.loads, out.splitlines())]
    differ = [args for (_, _, args), out in zip(results, outputs)
              if listed(out) != listed(listing(against, args))]
    print()
    print(f"Against `{against}`: {len(results)} combinations, {len(differ)} list other events "
          "or order")
    for args in differ[:5]:
        print(f"- `{' '.join(args)}`")
    if differ:
        sys.exit(1)
if not serve:
    sys.exit(0)
# The same combinations through the service: one `serve` process keeps the store open.
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
work = tempfile.mkdtemp(prefix="driftlog-matrix-")
config = os.path.join(work, "driftlog.toml")
with open(config, "w") as f:
    if store.startswith(("postgres://", "postgresql://")):
        f.write('[store]\nurl_env = "DRIFTLOG_MATRIX_STORE"\n')
    else:
        f.write(f'[store]\npath = "{os.path.abspath(store)}"\n')
server = subprocess.Popen([bin, "serve", "--config", config, "--listen", f"127.0.0.1:{port}"],
                          env={**os.environ, "DRIFTLOG_MATRIX_STORE": store},
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"
try:
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit("serve did not become ready")
    names = {"--resource": "resource", "--principal": "principal", "--action": "action",
             "--actor-kind": "actor_kind", "--source": "source", "--since": "since",
             "--until": "until", "--limit": "limit"}
    def params(args):
        out, i = {}, 0
        while i < len(args):
            if args[i] == "--writes-only":
                out["writes_only"] = "true"
                i += 1
            else:
                out[names[args[i]]] = args[i + 1]
                i += 2
        return out
    def get(args, reps=3):
        url = base + "/api/v1/events?" + urllib.parse.urlencode(params(args))
        times, items = [], 0
        for _ in range(reps):
            t = time.perf_counter()
            body = urllib.request.urlopen(url, timeout=60).read()
            times.append(time.perf_counter() - t)
            items = len(json.loads(body)["items"])
        return statistics.median(times) * 1000, items
    get(["--resource", "no-such-resource-anywhere"])
    floor, _ = get(["--resource", "no-such-resource-anywhere"])
    served = []
    for _, rows, args in results:
        ms, items = get(args)
        if items != rows:
            sys.exit(f"the service answered {items} events, the command {rows}: {args}")
        served.append((ms, rows, args))
    times = sorted(r[0] for r in served)
    print()
    print(f"The same {len(served)} combinations through `driftlog serve` (GET /api/v1/events, "
          f"median of 3; a query that reads nothing takes {floor:.1f} ms):")
    print()
    print("| p50 ms | p95 ms | max ms | over 10 ms |")
    print("|---:|---:|---:|---:|")
    p95 = times[int(len(times) * 0.95) - 1]
    over = sum(1 for t in times if t > 10)
    print(f"| {statistics.median(times):.1f} | {p95:.1f} | {times[-1]:.1f} | {over} |")
    print()
    print("The slowest five:")
    print()
    print("| filters | rows | ms |")
    print("|---|---:|---:|")
    for ms, rows, args in sorted(served, reverse=True)[:5]:
        print(f"| `{' '.join(args)}` | {rows} | {ms:.1f} |")
finally:
    server.terminate()
    server.wait()
PY
