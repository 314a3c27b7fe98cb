#!/usr/bin/env bash
# Runs the Postman collection (postman/openoz.postman_collection.json) with newman:
#
#   scripts/newman.sh                      # starts a throw-away local server and runs against it
#   OZ_BASE_URL=https://oz.example.com OZ_ADMIN_EMAIL=... OZ_ADMIN_PASSWORD=... scripts/newman.sh
#                                          # runs against your own deployment (an ADMIN account)
#
# Installs newman (npm, pinned NEWMAN_VERSION) into the git-ignored .tools/newman if it is missing.
#
# Local mode (no OZ_BASE_URL): the server binary is ${OZ_SERVER_BIN:-target/debug/oz-server} (built
# with `cargo build -p oz-server` when that default is missing); it runs from the repository root
# (models/ and .ort/), with the embedded SQLite in a temporary data folder, on a free 127.0.0.1
# port, with a generated ADMIN password. The script waits until GET /api/version answers, and
# stops the server and removes the folder at exit. Its log is printed when a test fails.
#
# Exit status: newman's (non-zero when any assertion or request failed). Extra arguments go to
# `newman run` (e.g. `--reporters cli,junit --reporter-junit-export newman.xml`, `--bail`).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

NEWMAN_VERSION="${NEWMAN_VERSION:-6.2.2}"
TOOLS="$ROOT/.tools/newman"
NEWMAN="$TOOLS/node_modules/.bin/newman"
COLLECTION="postman/openoz.postman_collection.json"
ENVIRONMENT="postman/openoz.postman_environment.json"

log() { echo "newman.sh: $*" >&2; }
die() { log "$*"; exit 2; }

command -v node >/dev/null || die "node is needed (Node.js 16 or later; Debian: apt-get install nodejs npm)"

# --- newman, pinned ------------------------------------------------------------------------------
installed=""
[ -x "$NEWMAN" ] && installed="$("$NEWMAN" --version 2>/dev/null || true)"
if [ "$installed" != "$NEWMAN_VERSION" ]; then
  command -v npm >/dev/null || die "npm is needed to install newman (Debian: apt-get install npm)"
  log "installing newman $NEWMAN_VERSION into .tools/newman"
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "newman@$NEWMAN_VERSION" >&2 ||
    die "npm install newman@$NEWMAN_VERSION failed"
fi

start=$(date +%s.%N)
SERVER_PID=""
DATA=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  [ -n "$DATA" ] && rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- target --------------------------------------------------------------------------------------
if [ -n "${OZ_BASE_URL:-}" ]; then
  BASE_URL="${OZ_BASE_URL%/}"
  ADMIN_EMAIL="${OZ_ADMIN_EMAIL:?set OZ_ADMIN_EMAIL (an ADMIN of $BASE_URL)}"
  ADMIN_PASSWORD="${OZ_ADMIN_PASSWORD:?set OZ_ADMIN_PASSWORD}"
  log "running against $BASE_URL as $ADMIN_EMAIL"
else
  BIN="${OZ_SERVER_BIN:-target/debug/oz-server}"
  if [ ! -x "$BIN" ]; then
    [ -n "${OZ_SERVER_BIN:-}" ] && die "OZ_SERVER_BIN=$BIN is not an executable"
    log "building $BIN (cargo build -p oz-server)"
    ${CARGO:-cargo} build -p oz-server >&2 || die "cargo build -p oz-server failed"
  fi
  DATA="$(mktemp -d /tmp/oz-newman.XXXXXX)"
  PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  BASE_URL="http://127.0.0.1:$PORT"
  ADMIN_EMAIL="admin@example.com"
  ADMIN_PASSWORD="newman-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  OZ_DATA_DIR="$DATA" OZ_LISTEN="127.0.0.1:$PORT" OZ_ADMIN_EMAIL="$ADMIN_EMAIL" \
    OZ_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    "$BIN" serve >"$DATA/server.log" 2>&1 &
  SERVER_PID=$!
  ready=""
  for _ in $(seq 600); do   # up to 60 s (a debug build verifies and loads the models first)
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$DATA/server.log" >&2
      SERVER_PID=""
      die "the server exited before it was ready"
    fi
    if node -e 'require("http").get(process.argv[1],r=>process.exit(r.statusCode===200?0:1)).on("error",()=>process.exit(1))' \
      "$BASE_URL/api/version" 2>/dev/null; then
      ready=1
      break
    fi
    sleep 0.1
  done
  [ -n "$ready" ] || { cat "$DATA/server.log" >&2; die "the server did not answer within 60 s"; }
  log "server $BIN (pid $SERVER_PID) ready on $BASE_URL, data in $DATA"
fi

# --- run -----------------------------------------------------------------------------------------
"$NEWMAN" run "$COLLECTION" -e "$ENVIRONMENT" \
  --env-var "base_url=$BASE_URL" \
  --env-var "admin_email=$ADMIN_EMAIL" \
  --env-var "admin_password=$ADMIN_PASSWORD" \
  --working-dir "$ROOT" \
  --reporters cli --reporter-cli-no-success-assertions \
  --color "${NEWMAN_COLOR:-auto}" \
  "$@"
status=$?

if [ "$status" -ne 0 ] && [ -n "$DATA" ] && [ -f "$DATA/server.log" ]; then
  log "newman failed (exit $status); last lines of the server log:"
  tail -n 40 "$DATA/server.log" >&2
fi
log "$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "finished in %.1f s (exit %d)", e - s, '"$status"'}')"
exit "$status"
