#!/usr/bin/env bash
# A real S3-compatible server for the object-storage tests and for trying OZ_STORAGE_URL=s3://
# on one machine: s3s-fs (crates.io, the S3 API over a directory), pinned, installed into
# .tools/bin from the package registry only.
#
#   scripts/s3-server.sh install            # idempotent; prints the binary's path
#   scripts/s3-server.sh run DIR [PORT]     # serves DIR on 127.0.0.1:PORT (default 9000) in the
#                                           # foreground; buckets are DIR's sub-folders
#
# `run` takes the keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the same variables openoz
# reads), so a local try is:
#   export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local-secret AWS_REGION=us-east-1
#   mkdir -p /tmp/s3/openoz && scripts/s3-server.sh run /tmp/s3 9000 &
#   AWS_ENDPOINT_URL=http://127.0.0.1:9000 OZ_STORAGE_URL=s3://openoz/media make run
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="0.14.1" # the newest s3s-fs that builds with this toolchain (0.15+ need a newer rustc)
TOOLS="$PWD/.tools"
BIN="$TOOLS/bin/s3s-fs"

install() {
  if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then
    echo "$BIN"
    return
  fi
  echo "s3-server: installing s3s-fs $VERSION from crates.io into $TOOLS (a few minutes)" >&2
  CARGO_TARGET_DIR="$TOOLS/s3s-target" CARGO_INCREMENTAL=0 \
    cargo install --locked --quiet s3s-fs --version "$VERSION" --features binary --root "$TOOLS" >&2 ||
    CARGO_TARGET_DIR="$TOOLS/s3s-target" CARGO_INCREMENTAL=0 \
      cargo install --quiet s3s-fs --version "$VERSION" --features binary --root "$TOOLS" >&2
  rm -rf "$TOOLS/s3s-target"
  echo "$BIN"
}

case "${1:-}" in
  install)
    install
    ;;
  run)
    dir="${2:?usage: $0 run DIR [PORT]}"
    port="${3:-9000}"
    install >/dev/null
    mkdir -p "$dir"
    exec "$BIN" --host 127.0.0.1 --port "$port" \
      --access-key "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}" \
      --secret-key "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}" "$dir"
    ;;
  *)
    echo "usage: $0 install | run DIR [PORT]" >&2
    exit 2
    ;;
esac
