#!/usr/bin/env bash
# Checks smith's Go plugins (the command provider and the nodejs language host): gofmt, go vet,
# go test. They build against the module sets scripts/install-pulumi.sh resolved (its wrapper
# go.mod/go.sum), with the sources as they are now, so an edit is checked before it is installed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
status=0
check() {
  local name=$1 wrapper=$repo/.smith/build/$2 src=$repo/scripts/$1
  if [ ! -f "$wrapper/go.sum" ]; then
    echo "test-go: $name skipped: its module set is not resolved yet (run scripts/install-pulumi.sh)"
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  cp "$wrapper/go.mod" "$wrapper/go.sum" "$tmp/"
  cp "$src"/*.go "$tmp/"
  (
    cd "$tmp"
    unformatted=$(gofmt -l .)
    [ -z "$unformatted" ] || { echo "test-go: $name: gofmt needed: $unformatted"; exit 1; }
    go vet .
    go test -count=1 .
  ) || status=1
  rm -rf "$tmp"
}
check pulumi-resource-command command-wrapper
check pulumi-language-nodejs pulumi-wrapper
exit "$status"
