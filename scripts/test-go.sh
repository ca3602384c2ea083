#!/usr/bin/env bash
# Checks smith's Go plugins in plugins/ (the command provider and the nodejs language host): gofmt,
# go vet, go test, against the committed plugins/go.mod and go.sum (-mod=readonly: nothing is
# resolved or tidied here), with the sources as they are now, so an edit is checked before
# scripts/install-pulumi.sh installs it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v go >/dev/null; then
  echo "test-go: skipped: no Go toolchain on PATH (scripts/install-pulumi.sh needs one too)"
  exit 0
fi
cd "$repo/plugins"
export GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local
unformatted=$(gofmt -l .)
[ -z "$unformatted" ] || { echo "test-go: gofmt needed: $unformatted"; exit 1; }
go vet ./...
go test -count=1 ./...
