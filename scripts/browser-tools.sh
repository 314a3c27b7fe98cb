# Sourced by scripts/docs-browser.sh and scripts/console-e2e.sh: Debian's chromium, and
# playwright-core and axe-core from npm at pinned versions in .tools/playwright (one copy for both).
# Sets TOOLS (the node_modules prefix) and checks the server binary BIN is built.
PW_VERSION="1.49.1"
AXE_VERSION="4.10.2"
TOOLS="$ROOT/.tools/playwright"
if [ ! -x /usr/bin/chromium ]; then
  echo "browser-tools: installing chromium (Debian package)" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq </dev/null >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends chromium </dev/null >/dev/null
fi
if [ ! -d "$TOOLS/node_modules/playwright-core" ] || [ ! -f "$TOOLS/node_modules/axe-core/axe.min.js" ]; then
  echo "browser-tools: installing playwright-core $PW_VERSION and axe-core $AXE_VERSION into .tools/playwright" >&2
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "playwright-core@$PW_VERSION" "axe-core@$AXE_VERSION" >&2
fi
[ -x "$BIN" ] || cargo build -p oz-server

# Starts a throw-away server (embedded SQLite, the real models) for a browser test and stops it
# when the script exits: `start_test_server ADMIN_EMAIL [VAR=VALUE ...]` (extra settings for the
# server). Sets data (its folder, with server.log), pass (the admin's password), pid and base.
start_test_server() {
  local email="$1"
  shift
  data="$(mktemp -d)"
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  pass="test-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
  env RUST_LOG=warn "$@" OZ_DATA_DIR="$data" OZ_LISTEN="127.0.0.1:$port" OZ_ADMIN_EMAIL="$email" \
    OZ_ADMIN_PASSWORD="$pass" "$BIN" serve >"$data/server.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
  base="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do
    curl -fs "$base/api/version" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$data/server.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "the test server did not answer within 60 s" >&2
  cat "$data/server.log" >&2
  exit 1
}
