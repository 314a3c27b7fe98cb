#!/usr/bin/env bash
# Checks the deployment files with tools that run without a container engine or a cluster:
#   - docker/compose.yml: Debian's docker-compose (1.29) `config`, which validates the file against
#     the Compose schema and resolves anchors and ${VAR} (dummy values for the required secrets);
#   - docker/k8s/*.yaml: kubernetes-validate (PyPI), against the Kubernetes API schemas it carries.
# Neither file is started here; see README "Run it on several machines".
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="$PWD/.tools"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi

if ! command -v docker-compose >/dev/null 2>&1; then
  echo "check-deploy: installing docker-compose (Debian package)" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq </dev/null >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends docker-compose </dev/null >/dev/null
fi

VENV="$TOOLS/deploy-venv"
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  echo "check-deploy: installing kubernetes-validate (PyPI) into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==1.31.0"
fi

echo "check-deploy: docker/compose.yml"
OZ_DB_PASSWORD=x OZ_ADMIN_PASSWORD=x OZ_WEBHOOK_SECRET=x OZ_S3_SECRET_KEY=x \
  docker-compose -f docker/compose.yml config -q
# Without the secrets, compose must refuse to start.
if env -u OZ_DB_PASSWORD -u OZ_ADMIN_PASSWORD -u OZ_WEBHOOK_SECRET -u OZ_S3_SECRET_KEY \
  docker-compose -f docker/compose.yml config -q 2>/dev/null; then
  echo "check-deploy: compose.yml starts without its secrets set" >&2
  exit 1
fi

echo "check-deploy: docker/k8s/*.yaml"
"$VENV/bin/kubernetes-validate" --strict --kubernetes-version 1.31 docker/k8s/*.yaml
echo "check-deploy: ok"
