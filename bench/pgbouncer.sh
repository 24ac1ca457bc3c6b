#!/usr/bin/env bash
# Start PgBouncer (Debian's `pgbouncer`, installed when missing) on 127.0.0.1:6432 in front of
# the local test server (scripts/start-test-postgres), and print the URL of a database
# through it: what a team puts between short-lived `driftlog` commands and PostgreSQL.
#   STORE=$(bench/pgbouncer.sh pg8) BIN=… bench/query-matrix.sh
#
# Why: each `driftlog events` command opens one connection, and a PostgreSQL backend is a new
# process whose catalog caches start cold; its start, the SCRAM exchange and its first
# statements' planning were about 4.5 ms of a `--limit 20` command's 10 (docs/BENCHMARKS.md).
# A pooler keeps the backends: the command then pays a TCP connection and SCRAM with
# PgBouncer only.
#
# Clients still authenticate with SCRAM-SHA-256: PgBouncer is given the role's stored SCRAM
# secret (read from pg_authid), never the password, and logs in to the server with the keys
# the client proves it has. Session pooling: driftlog prepares named statements outside
# transactions, which PgBouncer 1.18's transaction pooling could send to another backend.
# Usage: bench/pgbouncer.sh [DATABASE]   (default postgres; PGBOUNCER_DIR=/tmp/driftlog-pgbouncer;
#        `kill $(cat $PGBOUNCER_DIR/pgbouncer.pid)` stops it)
set -euo pipefail
database=${1:-postgres}
dir=${PGBOUNCER_DIR:-/tmp/driftlog-pgbouncer}
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  apt-get update -qq >&2 && apt-get install -y -qq pgbouncer >&2
fi
server=$("$root/scripts/start-test-postgres")
port=$(echo "$server" | sed -E 's#.*:([0-9]+)/.*#\1#')
mkdir -p "$dir"
secret=$(runuser -u postgres -- psql -p "$port" -Atc \
  "SELECT rolpassword FROM pg_authid WHERE rolname = 'driftlog_test'")
printf '"driftlog_test" "%s"\n' "$secret" > "$dir/userlist.txt"
cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = session
default_pool_size = 8
max_client_conn = 200
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
chown -R postgres "$dir"
chmod 600 "$dir/userlist.txt"
if [ -f "$dir/pgbouncer.pid" ] && kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null; then
  kill "$(cat "$dir/pgbouncer.pid")"
  sleep 0.5
fi
runuser -u postgres -- "$(command -v pgbouncer || echo /usr/sbin/pgbouncer)" -d "$dir/pgbouncer.ini"
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p 6432 && break
  sleep 0.1
done
echo "postgres://driftlog_test:driftlog_test@127.0.0.1:6432/$database"
