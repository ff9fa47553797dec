#!/usr/bin/env bash
# Checks the annual report as a person would see it: starts the demo hub,
# writes Zuid-Kennemerland's report for the demo's six weeks, renders it in
# headless Chromium (Debian's package) to a PNG, and fails when a chart is
# missing or broken, when the page refers to anything outside itself, when
# Chromium reports a resource that failed to load, or when the page is not
# Dutch, has a serious accessibility fault (axe-core), is wider than a
# 360 px phone, or does not print (tests/report_check.py).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

cargo build --locked -q -p spil-hub -p spil-cli
BIN="$PWD/target/debug"
OUT="$PWD/target/report-check"
rm -rf "$OUT" && mkdir -p "$OUT"
WORK=$(mktemp -d)
HUB_PID=
cleanup() {
  [[ -n "$HUB_PID" ]] && kill "$HUB_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Port 0, and the port the hub announces: a port probed free beforehand can
# be taken by any outgoing connection before the hub binds it.
cd "$WORK"
"$BIN/spil-hub" demo --dir spil-demo --listen 127.0.0.1:0 >"$OUT/hub.log" 2>&1 &
HUB_PID=$!
PORT=
for _ in $(seq 1 120); do
  PORT=$(sed -n 's/^spil-hub listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$OUT/hub.log")
  [[ -n "$PORT" ]] && break
  kill -0 "$HUB_PID" || { cat "$OUT/hub.log"; exit 1; }
  sleep 1
done
[[ -n "$PORT" ]] || { echo "report check: the hub never listened" >&2; cat "$OUT/hub.log"; exit 1; }

FROM=$(date -u -d '-6 weeks' +%F)
"$BIN/spil" --hub "https://localhost:$PORT" --as regio-zuid-kennemerland \
  insights report --region zuid-kennemerland --from "$FROM" --out "$OUT/report.html"

fail() { echo "report check: $*" >&2; exit 1; }
if grep -Eq '(src|href)="(https?:)?//' "$OUT/report.html"; then
  fail "the report refers to something outside itself"
fi
CHROMIUM=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr)
"${CHROMIUM[@]}" --dump-dom "file://$OUT/report.html" >"$OUT/dom.html" 2>"$OUT/chromium.log"
"${CHROMIUM[@]}" --window-size=900,4400 --screenshot="$OUT/report.png" "file://$OUT/report.html" \
  >>"$OUT/chromium.log" 2>&1
grep -q 'data-charts="ok 8"' "$OUT/dom.html" \
  || fail "expected 8 drawn charts, the page says: $(grep -o 'data-charts="[^"]*"' "$OUT/dom.html" || echo nothing)"
if grep -Ei 'failed to load|net::ERR_' "$OUT/chromium.log"; then
  fail "something failed to load"
fi
[[ $(stat -c %s "$OUT/report.png") -gt 50000 ]] || fail "the rendered page is nearly empty"
echo "report check: 8 charts drawn, nothing external, rendered to target/report-check/report.png"

# As its readers meet it: axe-core, a 360 px phone, print, Dutch. Needs the
# Python environment and axe-core that .ci/run installs for the board.
PYTHON="$ROOT/target/python-client/bin/python"
AXE="$ROOT/target/tools/node_modules/axe-core/axe.min.js"
[[ -x "$PYTHON" && -f "$AXE" ]] || fail "run .ci/run first: it installs the Python environment and axe-core"
"$PYTHON" "$ROOT/tests/report_check.py" "$OUT/report.html" "$AXE" "$OUT"
