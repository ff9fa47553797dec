#!/usr/bin/env bash
# How cost grows with the work: search at 1,000, 10,000 and 100,000
# offerings (a fresh hub each: the national-scale demo plus seeded locations
# of five offerings each), and the watch with 1, 100, 1,000 and 10,000
# watchers each following one region, at a national 50 publications/s
# spread over the regions and again at 1,000/s. Servers on core 0, load on
# core 1, as in bench/run.sh.
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
