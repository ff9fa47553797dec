#!/usr/bin/env bash
# How cost grows with the work: search at 1,000, 10,000 and 100,000
# offerings (a fresh hub each: the national-scale demo plus seeded locations
# of five offerings each), and the watch with 1, 100, 1,000 and 10,000
# watchers each following one region, at a national 50 publications/s
# spread over the regions and again at 1,000/s; and, when a PostgreSQL
# server answers, durable publications through 1 and then 3 replicas on one
# PostgreSQL database (a load tool per replica, each publishing to offerings
# of its own). Servers on core 0, load on core 1, as in bench/run.sh.
#
#   bench/curves.sh                          # release build, 3 × 10 s a point
#   SMOKE=1 PROFILE=debug bench/curves.sh    # every point briefly, small
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PROFILE="${PROFILE:-release}"
REPEAT="${REPEAT:-3}"
SECONDS_EACH="${SECONDS_EACH:-10}"
POSTGRES_URL="${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
SEEDED=(200 2000 20000)
WATCHERS=(1 100 1000 10000)
if [[ "${SMOKE:-0}" == 1 ]]; then
  REPEAT=1
  SECONDS_EACH=1
  SEEDED=(20 40)
  WATCHERS=(1 20)
fi

echo "== building ($PROFILE)"
if [[ "$PROFILE" == release ]]; then
  cargo build --release --locked -p spil-hub -p spil-bench --bins
else
  cargo build --locked -p spil-hub -p spil-bench --bins
fi
BIN="$ROOT/target/$PROFILE"
source bench/common.sh
refuse_tmpfs "the hubs' data" "$WORK"

for locations in "${SEEDED[@]}"; do
  echo "== search, $((locations * 5)) seeded offerings (SQLite, a fresh hub)"
  rm -rf "$WORK/demo/spil.sqlite"*
  start_hub "search-$locations"
  PKI="$WORK/demo/pki"
  "${LOAD_CPU[@]}" "$BIN/spil-bench" --hub "$HUB" --pki "$PKI" --scenario search \
    --seed-locations "$locations" --repeat "$REPEAT" --seconds "$SECONDS_EACH"
  kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
done

echo "== watch, each watcher following one region: ${WATCHERS[*]} watchers (SQLite)"
rm -rf "$WORK/demo/spil.sqlite"*
start_hub regions
"${LOAD_CPU[@]}" "$BIN/spil-bench" --hub "$HUB" --pki "$PKI" --scenario watch-regions \
  --seed-locations "${SEEDED[0]}" --region-watchers "${WATCHERS[@]}" \
  --repeat "$REPEAT" --seconds "$SECONDS_EACH"

if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pin_postgres
  PG_DB="spil_curves_$$"
  psql -q "$POSTGRES_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
  DATABASE_URL="${POSTGRES_URL%/*}/$PG_DB"
  kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
  echo "== publish through 1 replica (PostgreSQL)"
  start_hub replica-1 --database-url "$DATABASE_URL"
  HUBS=("$HUB")
  "${LOAD_CPU[@]}" "$BIN/spil-bench" --hub "$HUB" --pki "$PKI" --scenario publish \
    --seed-locations 150 --repeat "$REPEAT" --seconds "$SECONDS_EACH"
  # Two more replicas of the same hub on the same database.
  cat >"$WORK/replica.toml" <<TOML
listen_addr = "127.0.0.1:0"
database_url = "$DATABASE_URL"
page_token_secret = "$(printf 'r%.0s' $(seq 1 48))"
[tls]
server_cert = "$PKI/server.pem"
server_key = "$PKI/server-key.pem"
client_ca = "$PKI/client-ca.pem"
client_crls = ["$PKI/client-ca.crl.pem"]
TOML
  for replica in 2 3; do
    env SPIL_ORG_CALLS_PER_SECOND=1000000 SPIL_ORG_CALL_BURST=1000000 \
      "${SERVER_CPU[@]}" "$BIN/spil-hub" serve --config "$WORK/replica.toml" >"$WORK/replica-$replica.log" 2>&1 &
    PIDS+=($!)
    HUBS+=("https://localhost:$(announced_port "$WORK/replica-$replica.log" "spil-hub listening on")")
  done
  echo "== publish through 3 replicas on one PostgreSQL database: a load tool per replica"
  LOADS=()
  for index in 0 1 2; do
    "${LOAD_CPU[@]}" "$BIN/spil-bench" --hub "${HUBS[$index]}" --pki "$PKI" --scenario publish \
      --seed-locations 0 --publish-first-location $((index * 50)) \
      --repeat "$REPEAT" --seconds "$SECONDS_EACH" >"$WORK/publish-$index.out" 2>&1 &
    LOADS+=($!)
  done
  for load in "${LOADS[@]}"; do wait "$load"; done
  for index in 0 1 2; do
    echo "-- replica $((index + 1))"
    grep -E '^publish ' "$WORK/publish-$index.out" || { cat "$WORK/publish-$index.out"; exit 1; }
  done
  awk '$1 == "publish" && $2 ~ /^[0-9]+$/ { total += $2 } END { printf "publish through 3 replicas, medians summed: %d/s\n", total }' \
    "$WORK"/publish-*.out
fi
