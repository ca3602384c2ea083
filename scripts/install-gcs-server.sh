#!/usr/bin/env bash
# Installs the GCS emulator the gs:// audit test writes to: fake-gcs-server (Go module
# github.com/fsouza/fake-gcs-server, pinned, from the Go module proxy) into .smith/tools/bin.
# Why this one: the Pulumi CLI's gocloud gcsblob talks to any host named by STORAGE_EMULATOR_HOST
# over plain http, and fake-gcs-server serves that JSON API in memory with one go install.
# Idempotent: an installed binary built from the pinned version makes it a no-op.
# Usage: scripts/install-gcs-server.sh
set -euo pipefail

FAKE_GCS_VERSION=1.56.1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$repo/.smith/tools/bin

if [[ -x $bin/fake-gcs-server ]] && go version -m "$bin/fake-gcs-server" 2>/dev/null | grep -q "mod[[:space:]]*github.com/fsouza/fake-gcs-server[[:space:]]*v$FAKE_GCS_VERSION"; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-gcs-server: go not found (the Go toolchain scripts/install-pulumi.sh builds with)" >&2
  exit 1
fi
mkdir -p "$bin"
started=$(date +%s)
GOBIN=$bin GOFLAGS=-mod=mod go install "github.com/fsouza/fake-gcs-server@v$FAKE_GCS_VERSION"
echo "install-gcs-server: fake-gcs-server $FAKE_GCS_VERSION in $bin ($(($(date +%s) - started)) s)"
