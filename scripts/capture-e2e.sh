#!/usr/bin/env bash
# The web capture page (/capture/, /sdk/openoz-capture.js) in headless Chromium with a fake
# camera: starts a throw-away server (embedded SQLite, the real models) and runs
# tests/capture/run.cjs, which feeds the browser camera clips made from tests/fixtures/capture/
# (the issued actions, a still photo, the wrong order, another challenge's actions, a replay) and
# checks the verdict each gets. Screenshots and clips go to target/capture-e2e/
# (UPDATE_SCREENSHOTS=1 also copies the pictures the README shows to docs/capture/).
# Usage: scripts/capture-e2e.sh [case-name-filter]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN="${OZ_SERVER_BIN:-target/debug/oz-server}"
# shellcheck source=scripts/browser-tools.sh
source scripts/browser-tools.sh
command -v ffmpeg >/dev/null || { echo "capture-e2e: ffmpeg is needed (scripts/setup.sh installs it)" >&2; exit 1; }

work="$ROOT/target/capture-e2e"
rm -rf "$work" && mkdir -p "$work"
# Two or three actions per challenge keeps each capture under 15 s; every action can be drawn.
start_test_server admin@capture.test OZ_CHALLENGE_MIN_ACTIONS=2 OZ_CHALLENGE_MAX_ACTIONS=3 OZ_LOGIN_RATE_PER_MINUTE=0
status=0
NODE_PATH="$TOOLS/node_modules" node tests/capture/run.cjs "$base" admin@capture.test "$pass" "$work" "${1:-}" || status=$?
if [ "$status" -eq 0 ] && [ "${UPDATE_SCREENSHOTS:-}" = 1 ]; then
  mkdir -p docs/capture
  cp "$work/performs-the-challenge-recording.png" docs/capture/capture-recording.png
  cp "$work/performs-the-challenge.png" docs/capture/capture-result.png
fi
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 40 lines)" >&2
  tail -n 40 "$data/server.log" >&2
fi
exit "$status"
