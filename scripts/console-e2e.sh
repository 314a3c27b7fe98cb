#!/usr/bin/env bash
# The web console in a real browser: starts a throw-away server (embedded SQLite, the real models)
# and runs tests/console/run.cjs in headless Chromium (Debian's package; playwright-core from npm,
# pinned, into .tools/playwright; axe-core, pinned, for the accessibility checks). Screenshots go to target/console-shots/, or to docs/console/
# with UPDATE_SCREENSHOTS=1 (the pictures the README shows).
# Usage: scripts/console-e2e.sh [spec-name-filter]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN="${OZ_SERVER_BIN:-target/debug/oz-server}"
# shellcheck source=scripts/browser-tools.sh
source scripts/browser-tools.sh

shots="$ROOT/target/console-shots"
if [ "${UPDATE_SCREENSHOTS:-}" = 1 ]; then shots="$ROOT/docs/console"; fi
# OZ_BIOMETRY_DECLINE below the approve threshold: a pair of different people lands in the
# operator's band (OPERATOR_REQUIRED), as a deployment with a review band does.
start_test_server admin@console.test OZ_BIOMETRY_DECLINE=0.01 OZ_LOGIN_RATE_PER_MINUTE=0
status=0
NODE_PATH="$TOOLS/node_modules" node tests/console/run.cjs "$base" admin@console.test "$pass" "$shots" "${1:-}" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 40 lines)" >&2
  tail -n 40 "$data/server.log" >&2
fi
exit "$status"
