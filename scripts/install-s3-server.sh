#!/usr/bin/env bash
# Installs the S3-compatible server the builds tests sync to: moto's server (PyPI `moto[server]`,
# pinned), in its own venv under .smith/tools/moto, unless a moto_server is already on PATH.
# Why moto: one pip install, no daemon set-up, starts in about a second on loopback; Debian
# bookworm has no python3-moto, and MinIO is not served by the registries we reach.
set -euo pipefail
cd "$(dirname "$0")/.."
MOTO_VERSION=5.2.1
venv=.smith/tools/moto
started=$(date +%s)
if command -v moto_server >/dev/null 2>&1; then
  echo "install-s3-server: moto_server already on PATH ($(command -v moto_server))"
  exit 0
fi
if [[ -x $venv/bin/moto_server ]]; then
  echo "install-s3-server: $venv/bin/moto_server present"
  exit 0
fi
python=$(command -v python3)
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
echo "install-s3-server: moto[server] $MOTO_VERSION in $venv; took $(($(date +%s) - started))s"
