#!/usr/bin/env bash
# Unit tests of smith's Go plugins (the command provider). They build against the module set
# scripts/install-pulumi.sh resolved (its wrapper go.mod/go.sum), with the sources as they are
# now, so an edit is tested before the plugin is rebuilt.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
wrapper=$repo/.smith/build/command-wrapper
if [ ! -f "$wrapper/go.sum" ]; then
  echo "test-go: skipped: the command provider's module set is not resolved yet (run scripts/install-pulumi.sh)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$wrapper/go.mod" "$wrapper/go.sum" "$tmp/"
cp "$repo"/scripts/pulumi-resource-command/*.go "$tmp/"
cd "$tmp"
test -z "$(gofmt -l .)" || { echo "test-go: gofmt needed:"; gofmt -l .; exit 1; }
go vet .
go test -count=1 .
