# Shared by the bench/*.sh scripts (sourced, not run).

# measure LABEL CMD...: prints LABEL, wall seconds, peak RSS (MB) and CPU of CMD, tab-separated.
# CMD's stdout goes to $MEASURE_STDOUT (default /dev/null); exit codes 0 and 2 (drift found)
# count as success.
measure() {
  local label=$1; shift
  local out; out=$(mktemp)
  set +e
  /usr/bin/time -f "%e %M %P" -o "$out" "$@" > "${MEASURE_STDOUT:-/dev/null}" 2>/dev/null
  local code=$?
  set -e
  if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then echo "$label failed with $code" >&2; exit 1; fi
  read -r secs kb cpu < <(tail -n 1 "$out"); rm -f "$out"
  printf '%s\t%s\t%s\t%s\n' "$label" "$secs" "$((kb / 1024))" "$cpu"
}
