#!/usr/bin/env bash
# Property-based API tests of a live openoz server against its own OpenAPI document:
#
#   scripts/schemathesis.sh            # bounded run (about 3-4 minutes on 2 cores)
#   scripts/schemathesis.sh --full     # longer run, stateful phase included (or OZ_SCHEMATHESIS_FULL=1)
#
# - Installs schemathesis (pinned below) into the git-ignored venv .tools/venv if missing.
# - Starts target/debug/oz-server serve (built by `cargo test --workspace`; built here with
#   `cargo build -p oz-server` when missing) on a temporary OZ_DATA_DIR (SQLite) and a free
#   127.0.0.1 port, with a first ADMIN from OZ_ADMIN_EMAIL / OZ_ADMIN_PASSWORD.
# - Logs in (POST /api/authorize/auth/) and runs every operation of /docs/openapi.json with the
#   token, positive and negative data, checking: no 5xx (not_a_server_error), documented status
#   codes (status_code_conformance), documented content types (content_type_conformance) and
#   answers that match their schemas (response_schema_conformance).
# - Every operation is run. The two that end logins (POST /api/authorize/logout/ and
#   DELETE /api/users/{id}/sessions/) run last, in a second, short run with the token of a user
#   made for it, so they cannot lock the main run out of its login; once that token is ended, the
#   checked answers are the documented 401s. Before the run, scripts/schemathesis_seed.py creates a
#   company, a user, a folder with two photos and finished QUALITY and BIOMETRY analyses, and a
#   collection with a person; most `{id}` parameters then name these (schemathesis dictionaries),
#   so real answers are checked against their schemas, not only 404s. Deletes of whole objects
#   keep random ids. Deleting the admin itself is refused by the server
#   (403), so DELETE /api/users/{id}/ stays in. The login is throttled per client address, so
#   the run keeps its one token.
# - Exits non-zero on any failure; the server log is printed then.
#
# Environment: OZ_SCHEMATHESIS_MAX_EXAMPLES (default 8 bounded, 40 full),
# OZ_SCHEMATHESIS_MAX_TIME (seconds; default 180 bounded, 900 full), OZ_SCHEMATHESIS_SEED.
set -uo pipefail

SCHEMATHESIS_VERSION=4.32.5
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

FULL="${OZ_SCHEMATHESIS_FULL:-0}"
for a in "$@"; do
  case "$a" in
    --full) FULL=1 ;;
    -h|--help) sed -n 2,26p "$0"; exit 0 ;;
    *) echo "schemathesis.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
if [ "$FULL" = 1 ]; then
  MAX_EXAMPLES="${OZ_SCHEMATHESIS_MAX_EXAMPLES:-40}"
  MAX_TIME="${OZ_SCHEMATHESIS_MAX_TIME:-900}"
  PHASES=examples,coverage,fuzzing,stateful
else
  MAX_EXAMPLES="${OZ_SCHEMATHESIS_MAX_EXAMPLES:-8}"
  MAX_TIME="${OZ_SCHEMATHESIS_MAX_TIME:-180}"
  PHASES=examples,coverage,fuzzing
fi
SEED="${OZ_SCHEMATHESIS_SEED:-20261202}"

log() { echo "schemathesis.sh: $*" >&2; }

VENV="$ROOT/.tools/venv"
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into .tools/venv"
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" || {
    log "cannot install schemathesis"; exit 1; }
fi

# CPython before 3.11.9 / 3.12 shares the AST constructor's recursion counter between threads
# (gh-106905): two schemathesis workers that parse source at once (hypothesis describes its
# lambdas with ast.parse) can fail with "AST constructor recursion depth mismatch", an error of
# the tool, not of the API. Serialise ast.parse in the venv's interpreter (a .pth file runs at
# start-up).
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
cat > "$SITE/openoz_ast_lock.py" <<'PY'
import ast
import threading

_lock = threading.Lock()
_parse = ast.parse


def _locked_parse(*args, **kwargs):
    with _lock:
        return _parse(*args, **kwargs)


ast.parse = _locked_parse
PY
echo "import openoz_ast_lock" > "$SITE/openoz_ast_lock.pth"

BIN="$ROOT/target/debug/oz-server"
if [ ! -x "$BIN" ]; then
  log "building oz-server"
  CARGO_INCREMENTAL=0 cargo build -p oz-server || exit 1
fi

WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
EMAIL=schemathesis-admin@example.com
PASSWORD="st-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

OZ_DATA_DIR="$WORK/data" OZ_LISTEN="127.0.0.1:$PORT" OZ_PUBLIC_URL="$BASE" \
  OZ_ADMIN_EMAIL="$EMAIL" OZ_ADMIN_PASSWORD="$PASSWORD" RUST_LOG="${RUST_LOG:-warn}" \
  "$BIN" serve > "$WORK/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 120); do
  if curl -fsS "$BASE/api/version/" > /dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "the server did not start:"; cat "$WORK/server.log" >&2; exit 1
  fi
  sleep 0.5
done

TOKEN="$(curl -fsS -X POST "$BASE/api/authorize/auth/" -H 'Content-Type: application/json' \
  -d "{\"credentials\": {\"email\": \"$EMAIL\", \"password\": \"$PASSWORD\"}}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
if [ -z "$TOKEN" ]; then
  log "cannot log in"; cat "$WORK/server.log" >&2; exit 1
fi

python3 "$ROOT/scripts/schemathesis_seed.py" "$BASE" "$TOKEN" "$ROOT" "$WORK/schemathesis.toml" || {
  log "cannot seed the server"; cat "$WORK/server.log" >&2; exit 1; }

# One schemathesis run: the token, then its own options.
st_run() {
  local token="$1"; shift
  "$VENV/bin/st" --config-file "$WORK/schemathesis.toml" run "$BASE/docs/openapi.json" \
    --url "$BASE" \
    --header "X-Forensic-Access-Token: $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --request-timeout 60 \
    --suppress-health-check all \
    --no-color \
    "$@"
}

log "server $BASE; phases $PHASES; at most $MAX_EXAMPLES examples per operation and ${MAX_TIME}s"
START=$(date +%s)
st_run "$TOKEN" --phases "$PHASES" --max-time "$MAX_TIME" --workers 2 \
  --exclude-operation-id logout --exclude-operation-id revoke_sessions
STATUS=$?

# The operations that end logins, with a token of their own: a user made now (the main run may
# have changed the seeded users' passwords).
curl -fsS -X POST "$BASE/api/users/" -H 'Content-Type: application/json' -H "X-Forensic-Access-Token: $TOKEN" \
  -d '{"email": "st-sessions@example.com", "password": "st-sessions-password", "user_type": "ADMIN"}' > /dev/null
SESSIONS_TOKEN="$(curl -fsS -X POST "$BASE/api/authorize/auth/" -H 'Content-Type: application/json' \
  -d '{"credentials": {"email": "st-sessions@example.com", "password": "st-sessions-password"}}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' 2>/dev/null)"
if [ -z "$SESSIONS_TOKEN" ]; then
  log "cannot log in as the user made for the session operations"; STATUS=1
else
  st_run "$SESSIONS_TOKEN" --phases examples,coverage,fuzzing --max-time 60 --workers 1 \
    --include-operation-id logout --include-operation-id revoke_sessions || STATUS=$?
fi
log "schemathesis finished in $(( $(date +%s) - START ))s with status $STATUS"
if [ "$STATUS" -ne 0 ]; then
  log "server log (last 80 lines):"; tail -n 80 "$WORK/server.log" >&2
fi
exit "$STATUS"
