# What bench/run.sh and bench/curves.sh share: servers pinned to core 0
# and load to core 1, a work folder under target/ (never tmpfs for a real
# run), cleanup of every process and database on exit, and starting a demo
# hub on port 0. Sourced; expects ROOT, BIN and POSTGRES_URL.

# Servers on core 0, load on core 1, when there are two.
SERVER_CPU=(); LOAD_CPU=()
if command -v taskset >/dev/null 2>&1 && [[ $(nproc) -ge 2 ]]; then
  SERVER_CPU=(taskset -c 0); LOAD_CPU=(taskset -c 1)
fi

# Durable figures need a disk that syncs: the work folder is under target/.
mkdir -p "$ROOT/target"
WORK=$(mktemp -d -p "$ROOT/target" bench.XXXXXX)
refuse_tmpfs() { # what, path
  if [[ "$(stat -f -c %T "$2")" == tmpfs ]]; then
    if [[ "${SMOKE:-0}" == 1 ]]; then
      echo "note: $1 ($2) is on tmpfs; a smoke run judges no figures" >&2
    else
      echo "refusing to measure: $1 ($2) is on tmpfs, where fsync costs nothing" >&2
      exit 1
    fi
  fi
}
refuse_tmpfs "the hubs' and etcd's data" "$WORK"
PIDS=()
PG_DB=""
PG_PINNED=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n "$PG_DB" ]]; then
    psql -q "$POSTGRES_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  for pid in "${PG_PINNED[@]}"; do taskset -a -p -c "0-$(($(nproc) - 1))" "$pid" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Waits until a log file contains a line.
wait_for() {
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1
}

# The port a server announced in its log as "<announcement> 127.0.0.1:<port>".
announced_port() { # log, announcement
  wait_for "$1" "$2"
  local found; found=$(sed -n "s/^$2 127\.0\.0\.1:\([0-9]*\).*/\1/p" "$1" | head -n1)
  [[ -n "$found" ]] || { echo "no port announced in $1" >&2; cat "$1" >&2; exit 1; }
  echo "$found"
}

# Starts a demo hub; the hubs share one folder, so one PKI serves every server.
# The load tool speaks for one organisation at a time: its per-organisation
# shares are opened wide, so the scenarios measure the registry, not
# admission (which the hub's defaults keep at 200 calls/s, 64 watches).
# SHARES=default keeps the defaults, for the flood scenario.
start_hub() { # log name, extra demo args…
  local name=$1; shift
  local shares=(SPIL_ORG_CALLS_PER_SECOND=1000000 SPIL_ORG_CALL_BURST=1000000 SPIL_ORG_MAX_WATCHES=1000000)
  [[ "${SHARES:-wide}" == default ]] && shares=()
  env "${shares[@]}" \
    "${SERVER_CPU[@]}" "$BIN/spil-hub" demo --dir "$WORK/demo" --listen 127.0.0.1:0 --national-scale "$@" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!); HUB_PID=$!
  local hub_port; hub_port=$(announced_port "$WORK/$name.log" "spil-hub listening on")
  HUB="https://localhost:$hub_port"
  wait_for "$WORK/$name.log" "spil-hub board on"
  local board_port
  board_port=$(sed -n 's|^spil-hub board on https://127\.0\.0\.1:\([0-9]*\)/board$|\1|p' "$WORK/$name.log" | head -n1)
  [[ -n "$board_port" ]] || { echo "no board announced in $WORK/$name.log" >&2; exit 1; }
  BOARD="https://localhost:$board_port"
}


# PostgreSQL on the servers' core like every other server (the server and
# every backend it forks); cleanup gives them all cores back. Refuses
# tmpfs for a real run.
pin_postgres() {
  [[ "${SMOKE:-0}" == 1 ]] || refuse_tmpfs "PostgreSQL's data" "$(psql -Atq "$POSTGRES_URL" -c 'SHOW data_directory')"
  if [[ ${#SERVER_CPU[@]} -gt 0 ]]; then
    for pid in $(pgrep -x postgres || pgrep postgres); do
      taskset -a -p -c 0 "$pid" >/dev/null && PG_PINNED+=("$pid")
    done
  fi
}
