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

data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
pass="docs-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
OZ_DATA_DIR="$data" OZ_LISTEN="127.0.0.1:$port" OZ_ADMIN_EMAIL=docs@example.com OZ_ADMIN_PASSWORD="$pass" \
  RUST_LOG=warn "$BIN" serve >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 300); do
  curl -fs "$base/api/version" >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { cat "$data/server.log" >&2; exit 1; }
  sleep 0.2
done
token="$(curl -fs "$base/api/authorize/auth" -H 'Content-Type: application/json' \
  -d "{\"credentials\": {\"email\": \"docs@example.com\", \"password\": \"$pass\"}}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
NODE_PATH="$TOOLS/node_modules" node scripts/docs-browser.js "$base" "$token" "${SCREENSHOT:-}"
