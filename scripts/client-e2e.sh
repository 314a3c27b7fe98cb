#!/usr/bin/env bash
# A client generated from the committed OpenAPI document runs the main flow against a live server:
#
#   scripts/client-e2e.sh
#
# - Installs openapi-python-client (pinned below) into the git-ignored venv .tools/clientgen.
# - Generates a typed Python client from docs/openapi.json (nothing hand-written in it), starts
#   target/debug/oz-server on a temporary OZ_DATA_DIR (SQLite) and a free port, and runs
#   scripts/client_e2e.py with the generated package: login, upload a video and a photo, start
#   QUALITY and BIOMETRY, poll the folder, and read the scores as typed fields (QualityResult,
#   BiometryResult, enums for type/state/resolution). Any field the document gets wrong fails the
#   generated parser or an assertion.
# - Exit status non-zero on any failure (the server log is printed then).
set -uo pipefail
GENERATOR_VERSION=0.29.1
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
log() { echo "client-e2e.sh: $*" >&2; }

VENV="$ROOT/.tools/clientgen"
if ! "$VENV/bin/openapi-python-client" --version 2>/dev/null | grep -q "$GENERATOR_VERSION"; then
  log "installing openapi-python-client $GENERATOR_VERSION into .tools/clientgen"
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "openapi-python-client==$GENERATOR_VERSION" || {
    log "cannot install openapi-python-client"; exit 1; }
fi
BIN="$ROOT/target/debug/oz-server"
if [ ! -x "$BIN" ]; then
  log "building oz-server"
  CARGO_INCREMENTAL=0 cargo build -p oz-server || exit 1
fi
exec "$VENV/bin/python" "$ROOT/scripts/client_e2e.py" "$ROOT" "$BIN" "$VENV/bin/openapi-python-client"
