#!/usr/bin/env bash
# Installs actionlint (the GitHub Actions workflow linter `npm run lint:actions` runs) into
# .smith/tools/bin, built from its pinned Go module (github.com/rhysd/actionlint, served by the Go
# module proxy). Idempotent: an installed binary of the pinned version makes it a no-op.
# Usage: scripts/install-actionlint.sh
set -euo pipefail

ACTIONLINT_VERSION=1.7.12
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$repo/.smith/tools/bin

if [[ -x $bin/actionlint ]] && [[ $("$bin/actionlint" -version 2>/dev/null | head -n1) == "v$ACTIONLINT_VERSION" ]]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-actionlint: go not found (the Go toolchain scripts/install-pulumi.sh builds with)" >&2
  exit 1
fi
mkdir -p "$bin"
started=$(date +%s)
GOBIN=$bin GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
echo "install-actionlint: actionlint $ACTIONLINT_VERSION in $bin ($(($(date +%s) - started)) s)"
