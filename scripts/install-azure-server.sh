#!/usr/bin/env bash
# Installs the Azure Blob emulator the azblob:// audit test writes to: azurite (npm, pinned) in its
# own prefix under .smith/tools/azurite, unless an azurite-blob is already on PATH. Not a
# devDependency: its tree (SQL drivers, telemetry) is ~360 MB and 235 packages that only this one
# test needs, so `npm ci` stays lean and CI pays for it here.
set -euo pipefail
cd "$(dirname "$0")/.."
AZURITE_VERSION=3.37.0
prefix=.smith/tools/azurite
started=$(date +%s)
if command -v azurite-blob >/dev/null 2>&1; then
  echo "install-azure-server: azurite-blob already on PATH ($(command -v azurite-blob))"
  exit 0
fi
if [[ -x $prefix/node_modules/.bin/azurite-blob ]] && grep -q "\"version\": \"$AZURITE_VERSION\"" "$prefix/node_modules/azurite/package.json"; then
  echo "install-azure-server: $prefix/node_modules/.bin/azurite-blob present"
  exit 0
fi
mkdir -p "$prefix"
printf '{"name":"smith-azurite","private":true}\n' > "$prefix/package.json"
npm install --prefix "$prefix" --no-audit --no-fund --no-save "azurite@$AZURITE_VERSION"
echo "install-azure-server: azurite $AZURITE_VERSION in $prefix; took $(($(date +%s) - started))s"
