#!/usr/bin/env bash
# Benchmarks the hub against its baselines in one run: a bare mTLS echo
# (the limit) and etcd with client-certificate TLS (the peer), then the hub
# on SQLite and, when a PostgreSQL server answers, on PostgreSQL. Servers run
# on one core and the load generator on the other when there are two.
#
#   bench/run.sh                 # full run: 3 × 10 s per scenario, release build
#   SMOKE=1 PROFILE=debug bench/run.sh   # CI: every scenario briefly, no figures judged
#
# Every timed run is preceded by a warm-up; a baseline that moves more than
# 15 % between repeats is reported as noisy. A full run refuses to write to
# tmpfs, where fsync is free and durability figures mean nothing, and pins
# PostgreSQL to the servers' core like every other server.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PROFILE="${PROFILE:-release}"
REPEAT="${REPEAT:-3}"
SECONDS_EACH="${SECONDS_EACH:-10}"
POSTGRES_URL="${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
EXTRA=()
FLOOD_EXTRA=()
MEMORY_EXTRA=()
REGION_EXTRA=()
if [[ "${SMOKE:-0}" == 1 ]]; then
  FLOOD_EXTRA=(--flood-rate 1000)
  REPEAT=1
  SECONDS_EACH=1
  EXTRA=(--seed-locations 50 --overload-concurrency 256 --watchers 10 --publish-rate 200 --boards 1 5)
  MEMORY_EXTRA=(--memory-streams 48)
  REGION_EXTRA=(--seed-locations 50 --region-watchers 1 20 --publish-rate 200)
fi

# etcd comes from Debian's etcd-server package.
if ! command -v etcd >/dev/null 2>&1; then
  echo "== installing etcd-server"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server >/dev/null
fi

echo "== building ($PROFILE)"
if [[ "$PROFILE" == release ]]; then
  cargo build --release --locked -p spil-hub -p spil-bench --bins
else
  cargo build --locked -p spil-hub -p spil-bench --bins
fi
BIN="$ROOT/target/$PROFILE"

# Pinning, the work folder, cleanup, and starting a demo hub.
source bench/common.sh

# The hub and the echo listen on port 0 and announce the port they got. etcd
# cannot, so it gets a free port below the kernel's ephemeral range: a port
# probed free inside that range can be taken by any outgoing connection (the
# load tool opens thousands) before the server binds it.
etcd_port() {
  python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    candidate = random.randrange(10000, low)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
    print(candidate)
    break
else:
    raise SystemExit("no free port below the ephemeral range")
PY
}

echo "== starting the hub (SQLite), the echo baseline and etcd"
start_hub sqlite
PKI="$WORK/demo/pki"

"${SERVER_CPU[@]}" "$BIN/spil-echo" --listen 127.0.0.1:0 --pki "$PKI" >"$WORK/echo.log" 2>&1 &
PIDS+=($!)
ECHO_PORT=$(announced_port "$WORK/echo.log" "spil-echo listening on")

ETCD_PORT=$(etcd_port)
ETCD_PEER=$(etcd_port)
[[ "$ETCD_PORT" != "$ETCD_PEER" ]] || ETCD_PEER=$(etcd_port)
"${SERVER_CPU[@]}" etcd --name bench --data-dir "$WORK/etcd" \
  --listen-client-urls "https://127.0.0.1:$ETCD_PORT" --advertise-client-urls "https://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "bench=http://127.0.0.1:$ETCD_PEER" \
  --cert-file "$PKI/server.pem" --key-file "$PKI/server-key.pem" \
  --client-cert-auth --trusted-ca-file "$PKI/client-ca.pem" >"$WORK/etcd.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/etcd.log" "ready to serve client requests"

echo "== watch memory: a fresh hub per run that has done nothing else"
kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
for run in $(seq 1 "$REPEAT"); do
  rm -f "$WORK/demo/spil.sqlite"*
  start_hub "memory-$run"
  "${LOAD_CPU[@]}" "$BIN/spil-bench" --hub "$HUB" --pki "$PKI" --scenario watch-memory --seed-locations 0 \
    --hub-pid "$HUB_PID" --seconds "$SECONDS_EACH" "${MEMORY_EXTRA[@]}"
  kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
done
rm -f "$WORK/demo/spil.sqlite"*
start_hub sqlite

echo "== hub on SQLite, with baselines"
"${LOAD_CPU[@]}" "$BIN/spil-bench" --hub "$HUB" --pki "$PKI" \
  --echo "https://localhost:$ECHO_PORT" --etcd "https://localhost:$ETCD_PORT" --board "$BOARD" \
  --hub-pid "$HUB_PID" --repeat "$REPEAT" --seconds "$SECONDS_EACH" "${EXTRA[@]}"

echo "== watch: boards following one region each, at a national pace and at 1,000/s (SQLite)"
"${LOAD_CPU[@]}" "$BIN/spil-bench" --hub "$HUB" --pki "$PKI" --scenario watch-regions \
  --repeat "$REPEAT" --seconds "$SECONDS_EACH" "${REGION_EXTRA[@]}"

echo "== flood: one organisation at 50x its share, the hub's default shares (SQLite)"
kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
SHARES=default start_hub flood
"${LOAD_CPU[@]}" "$BIN/spil-bench" --hub "$HUB" --pki "$PKI" --scenario flood --seed-locations 0 \
  --repeat "$REPEAT" --seconds "$SECONDS_EACH" "${FLOOD_EXTRA[@]}"

if [[ "${SMOKE:-0}" != 1 ]] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pin_postgres
  PG_DB="spil_bench_$$"
  psql -q "$POSTGRES_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
  echo "== hub on PostgreSQL"
  kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
  start_hub postgres --database-url "${POSTGRES_URL%/*}/$PG_DB"
  "${LOAD_CPU[@]}" "$BIN/spil-bench" --hub "$HUB" --pki "$PKI" \
    --echo "https://localhost:$ECHO_PORT" --etcd "https://localhost:$ETCD_PORT" --board "$BOARD" \
    --hub-pid "$HUB_PID" --repeat "$REPEAT" --seconds "$SECONDS_EACH" "${EXTRA[@]}"
fi
