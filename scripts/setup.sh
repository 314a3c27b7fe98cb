#!/usr/bin/env bash
# Idempotent set-up for building, running and testing openoz on Debian 12.
# Installs: FFmpeg -dev packages + libclang (for ffmpeg-sys-next's bindgen), the ffmpeg CLI (the
# capture page's browser test), and the ONNX Runtime
# shared library taken out of the PyPI wheel (no internet besides the package registries is needed).
# Re-running it is cheap (~0.1 s when everything is in place).
set -euo pipefail

ORT_VERSION="${ORT_VERSION:-1.31.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORT_DIR="${ORT_DIR:-$ROOT/.ort}"
ORT_LIB="$ORT_DIR/libonnxruntime.so.$ORT_VERSION"

APT_PKGS=(pkg-config libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libavfilter-dev libavdevice-dev libclang1-14 libclang-common-14-dev unzip)
# The ffmpeg CLI: scripts/capture-e2e.sh joins the capture segments into the fake camera's clip.
APT_PKGS+=(ffmpeg)
# The API tool runs of `make test` (newman, schemathesis, kubernetes-validate): Node.js with npm and
# Python venvs, from Debian only where the machine has none of its own.
command -v npm >/dev/null 2>&1 || APT_PKGS+=(nodejs npm)
python3 -m venv --help >/dev/null 2>&1 || APT_PKGS+=(python3-venv)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f "$ORT_LIB" ]; then
  echo "setup: fetching ONNX Runtime $ORT_VERSION from the PyPI wheel"
  tmp="$(mktemp -d)"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 "onnxruntime==$ORT_VERSION" -d "$tmp"
  whl="$(ls "$tmp"/onnxruntime-*.whl | head -n1)"
  mkdir -p "$ORT_DIR"
  unzip -q -j -o "$whl" "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" -d "$ORT_DIR"
  rm -rf "$tmp"
fi
ln -sf "libonnxruntime.so.$ORT_VERSION" "$ORT_DIR/libonnxruntime.so"
echo "setup: ok (ONNX Runtime at $ORT_LIB)"
