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
