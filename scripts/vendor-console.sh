#!/usr/bin/env bash
# The console's vendored chart library (uPlot, MIT) at its pinned version: downloads the npm
# tarball with `npm pack`, checks the tarball's integrity (sha512, as the registry publishes it)
# and the sha256 of each file taken from it, and checks the copies committed in
# crates/http/console/vendor/ are those files. With --write it (re)writes the copies first.
# To move to another version: change VERSION and the hashes below (the script prints what it
# found when they differ), run with --write, update crates/http/console/vendor/VENDOR.md.
# Usage: scripts/vendor-console.sh [--write]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DEST="$ROOT/crates/http/console/vendor"

PACKAGE="uplot"
VERSION="1.6.32"
INTEGRITY="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
# file in the package -> name in vendor/ -> sha256
FILES=(
  "dist/uPlot.iife.min.js uPlot.iife.min.js 19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f"
  "dist/uPlot.min.css uPlot.min.css df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04"
  "LICENSE uPlot-LICENSE.txt 8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd"
)

write=0
case "${1:-}" in
  --write) write=1 ;;
  "") ;;
  *) echo "usage: $0 [--write]" >&2; exit 2 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent --loglevel=error "$PACKAGE@$VERSION" >/dev/null)
tgz="$work/$PACKAGE-$VERSION.tgz"
[ -f "$tgz" ] || { echo "vendor-console: npm pack gave no $PACKAGE-$VERSION.tgz" >&2; exit 1; }
got="sha512-$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tgz")"
if [ "$got" != "$INTEGRITY" ]; then
  echo "vendor-console: $PACKAGE@$VERSION tarball integrity $got, pinned $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work"

status=0
for entry in "${FILES[@]}"; do
  read -r src name sum <<<"$entry"
  have="$(sha256sum "$work/package/$src" | cut -d' ' -f1)"
  if [ "$have" != "$sum" ]; then
    echo "vendor-console: $src in the tarball has sha256 $have, pinned $sum" >&2
    status=1
    continue
  fi
  if [ "$write" = 1 ]; then
    mkdir -p "$DEST"
    cp "$work/package/$src" "$DEST/$name"
  fi
  if [ ! -f "$DEST/$name" ] || [ "$(sha256sum "$DEST/$name" | cut -d' ' -f1)" != "$sum" ]; then
    echo "vendor-console: $DEST/$name is not $PACKAGE@$VERSION's $src (run with --write)" >&2
    status=1
    continue
  fi
  echo "vendor-console: ok  $name  $sum"
done
exit "$status"
