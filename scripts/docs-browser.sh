#!/usr/bin/env bash
# The /docs page in a real browser: starts a throw-away server (embedded SQLite), logs in, and runs
# scripts/docs-browser.js in headless Chromium (Debian's package; playwright-core from npm, pinned,
# into .tools/playwright). Fails unless "Authorize" with X-Forensic-Access-Token and "Execute" of an
# authenticated call work from the page. SCREENSHOT=path keeps a picture of the answer.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN="${OZ_SERVER_BIN:-target/debug/oz-server}"
# shellcheck source=scripts/browser-tools.sh
source scripts/browser-tools.sh

start_test_server docs@example.com
token="$(curl -fs "$base/api/authorize/auth" -H 'Content-Type: application/json' \
  -d "{\"credentials\": {\"email\": \"docs@example.com\", \"password\": \"$pass\"}}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
NODE_PATH="$TOOLS/node_modules" node scripts/docs-browser.js "$base" "$token" "${SCREENSHOT:-}"
