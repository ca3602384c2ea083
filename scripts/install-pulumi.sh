#!/usr/bin/env bash
# Installs the Pulumi toolchain smith runs `pulumi up` with into .smith/tools (git-ignored):
# the `pulumi` CLI, a nodejs language host, the dynamic-provider launcher and the command provider
# plugin (into .smith/pulumi-home). Pins: scripts/pulumi-versions.env. Docs: docs/pulumi.md.
#
# In order, the first that works wins:
#   1. a `pulumi` already on PATH whose version fits (same major, >= the pin), with its language host;
#   2. the official installer, only when its host resolves (it does not on offline machines, so
#      nothing is sent anywhere) and bounded by short timeouts;
#   3. a build of the pinned Go modules from the Go module proxy (10+ minutes cold on 2 cores).
# Pieces the proxy refuses are recorded in .smith/tools/STATUS with the exact error; the rest still
# installs. Idempotent: a stamp of the pins makes a re-run take about a second. Does no apt work
# (scripts/install-deps.sh does). Usage: scripts/install-pulumi.sh [--force]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=pulumi-versions.env
. "$repo/scripts/pulumi-versions.env"

tools=$repo/.smith/tools
bin=$tools/bin
build=$repo/.smith/build
status_file=$tools/STATUS
stamp_file=$tools/stamp
export PULUMI_HOME=$repo/.smith/pulumi-home
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# The Go build and the module download honour these; -mod=mod lets the generated wrapper modules'
# go.sum fill in. smith's own plugins (plugins/) override it with -mod=readonly: their committed
# go.mod/go.sum decide every module version, and nothing at install time may change them.
export GOFLAGS=-mod=mod

force=false
[[ ${1:-} == --force ]] && force=true

started=$(date +%s.%N)
log() { printf 'install-pulumi: %s\n' "$*"; }
elapsed() { awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
note() { printf '%s\n' "$*" >>"$status_file.new"; }

# plugin_sources NAME: the files a build of plugins/NAME depends on (its sources and the shared
# plugins/internal packages, without the tests; the module files).
plugin_sources() {
  local f
  printf '%s\n' "$repo/plugins/go.mod" "$repo/plugins/go.sum"
  for f in "$repo/plugins/$1"/*.go "$repo/plugins/internal"/*/*.go; do
    [[ $f == *_test.go ]] || printf '%s\n' "$f"
  done
}

# The stamp covers every input of the install: the pins, smith's plugins, this script.
stamp() {
  # shellcheck disable=SC2046 # one path per line, none with spaces
  cat "$repo/scripts/pulumi-versions.env" $(plugin_sources pulumi-language-nodejs) \
    $(plugin_sources pulumi-resource-command) "$repo/scripts/install-pulumi.sh" |
    sha256sum | cut -d' ' -f1
}

want_version=v$PULUMI_VERSION
state_url=file://$repo/.smith/state

# The default backend: the project's own file backend, recorded in the project's PULUMI_HOME, so
# `pulumi` uses it even without PULUMI_BACKEND_URL. Never Pulumi Cloud.
login_local_backend() {
  grep -qF "\"current\": \"$state_url\"" "$PULUMI_HOME/credentials.json" 2>/dev/null && return 0
  mkdir -p "$repo/.smith/state"
  "$bin/pulumi" login "$state_url" >/dev/null
  log "default backend: $state_url"
}

if ! $force && [[ -x $bin/pulumi && -f $stamp_file && $(cat "$stamp_file") == "$(stamp)" ]] &&
  [[ $("$bin/pulumi" version 2>/dev/null) == "$want_version" ]]; then
  login_local_backend
  log "already installed: pulumi $want_version in $bin ($(grep -c '^unavailable' "$status_file" || true) piece(s) unavailable, see $status_file); took $(elapsed)s"
  exit 0
fi

mkdir -p "$bin" "$build" "$PULUMI_HOME"
: >"$status_file.new"

# version_fits VERSION: same major as the pin and not older.
version_fits() {
  local v=${1#v}
  [[ ${v%%.*} == "${PULUMI_VERSION%%.*}" ]] &&
    [[ $(printf '%s\n%s\n' "$PULUMI_VERSION" "$v" | sort -V | head -n1) == "$PULUMI_VERSION" ]]
}

link_into_bin() { # DIR: links the Pulumi executables found in DIR into .smith/tools/bin
  local f
  for f in "$1"/pulumi "$1"/pulumi-language-* "$1"/pulumi-resource-* "$1"/pulumi-analyzer-*; do
    [[ -x $f ]] && ln -sfn "$f" "$bin/$(basename "$f")"
  done
  return 0
}

# The engine runs dynamic providers through `pulumi-resource-pulumi-nodejs`, which upstream ships
# beside the CLI; @pulumi/pulumi carries the same launcher.
link_dynamic_provider_launcher() {
  local launcher=$repo/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs
  if [[ -e $bin/pulumi-resource-pulumi-nodejs ]]; then
    return 0
  elif [[ -x $launcher ]]; then
    ln -sfn "$launcher" "$bin/pulumi-resource-pulumi-nodejs"
    note "installed pulumi-resource-pulumi-nodejs: link to @pulumi/pulumi's launcher"
  else
    note "unavailable pulumi-resource-pulumi-nodejs: $launcher missing (run npm ci, then this script)"
  fi
}

command_plugin_installed() {
  local plugin=$PULUMI_HOME/plugins/resource-command-v$PULUMI_COMMAND_VERSION/pulumi-resource-command
  [[ -x $plugin ]] || return 1
  # An upstream plugin stays. smith's own provider is rebuilt unless this checkout's stamp says it
  # was built from the current sources (a plugin copied from another checkout has no stamp here).
  grep -qF "smith's command provider" "$plugin" || return 0
  [[ -f $build/command-provider.stamp && $(cat "$build/command-provider.stamp") == "$(command_provider_stamp)" ]]
}

# --- 1. a pulumi already on PATH -------------------------------------------------------------
try_ambient() {
  local path ver
  path=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$bin" | paste -sd:) command -v pulumi) ||
    return 1
  ver=$("$path" version 2>/dev/null) || return 1
  if ! version_fits "$ver"; then
    log "ignoring $path: version $ver does not fit $want_version"
    return 1
  fi
  if [[ ! -x $(dirname "$path")/pulumi-language-nodejs ]] && ! command -v pulumi-language-nodejs >/dev/null; then
    log "ignoring $path: no pulumi-language-nodejs beside it or on PATH"
    return 1
  fi
  link_into_bin "$(dirname "$path")"
  note "installed pulumi $ver: already on PATH at $path"
  log "using pulumi $ver from $path"
}

# --- 2. the official installer ---------------------------------------------------------------
try_official() {
  local host=get.pulumi.com
  if ! timeout 5 getent hosts "$host" >/dev/null 2>&1; then
    log "official installer skipped: $host does not resolve (offline)"
    return 1
  fi
  log "trying the official installer for $want_version"
  curl -fsSL --max-time 10 "https://$host/" -o "$build/get-pulumi.sh" || return 1
  timeout 300 sh "$build/get-pulumi.sh" --version "$PULUMI_VERSION" --install-root "$tools" --no-edit-path ||
    return 1
  [[ $("$bin/pulumi" version 2>/dev/null) == "$want_version" ]] || return 1
  note "installed pulumi $want_version: official installer"
}

# --- 3. build from the Go module proxy -------------------------------------------------------

# go_replaces GOMOD: the replace directives of a go.mod that point at other modules (not local
# paths), as `old=new@version` lines, ready for `go mod edit -replace`.
go_replaces() {
  # shellcheck disable=SC2016 # JavaScript template literals, not shell.
  go mod edit -json "$1" | node -e '
    const mod = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const r of mod.Replace || []) {
      if (!r.New.Version) continue; // a local path: the wrapper requires the module instead
      const old = r.Old.Version ? `${r.Old.Path}@${r.Old.Version}` : r.Old.Path;
      console.log(`${old}=${r.New.Path}@${r.New.Version}`);
    }'
}

# wrapper_module DIR MAIN@VERSION [MODULE@VERSION...]: a module that requires the given modules and
# repeats MAIN's non-local replaces (only MAIN's: as in an upstream build of MAIN, where its
# dependencies' replaces do not apply). Upstream go.mods replace sibling modules with ../ paths,
# which makes `go install module@version` refuse them.
wrapper_module() {
  local dir=$1 main=$2 req gomod r
  shift
  mkdir -p "$dir"
  (
    cd "$dir"
    rm -f go.mod
    go mod init smith.local/"$(basename "$dir")" >/dev/null 2>&1
    for req in "$@"; do
      go mod edit -require="$req"
    done
    gomod=$(go mod download -json "$main" | node -e '
      const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
      if (r.Error) { console.error(r.Error); process.exit(1); }
      console.log(r.GoMod);')
    while IFS= read -r r; do
      [[ -n $r ]] && go mod edit -replace="$r"
    done < <(go_replaces "$gomod")
  )
}

ldflags_version() { printf -- '-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=%s' "$1"; }

build_cli() {
  local dir=$build/pulumi-wrapper
  if ! $force && [[ ! -L $bin/pulumi && $("$bin/pulumi" version 2>/dev/null) == "$want_version" ]]; then
    note "installed pulumi $want_version: built earlier from github.com/pulumi/pulumi/pkg/v3@$want_version"
    return 0
  fi
  log "building pulumi $want_version from the Go module proxy (log: $build/pulumi-cli.log)"
  wrapper_module "$dir" "github.com/pulumi/pulumi/pkg/v3@$want_version" "github.com/pulumi/pulumi/sdk/v3@$want_version" \
    >"$build/pulumi-cli.log" 2>&1 || { cat "$build/pulumi-cli.log" >&2; return 1; }
  (cd "$dir" && go build -trimpath -ldflags "$(ldflags_version "$want_version")" -o "$bin/pulumi" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) >>"$build/pulumi-cli.log" 2>&1 ||
    { tail -n 30 "$build/pulumi-cli.log" >&2; return 1; }
  note "installed pulumi $want_version: built from github.com/pulumi/pulumi/pkg/v3@$want_version"
}

# The language host is rebuilt only when its inputs changed: the pins and smith's host sources. The
# stamp's first line is their hash; the rest, the STATUS lines of the build it stands for.
language_host_stamp() {
  # shellcheck disable=SC2046 # one path per line, none with spaces
  cat $(plugin_sources pulumi-language-nodejs) "$repo/scripts/pulumi-versions.env" | sha256sum | cut -d' ' -f1
}

build_language_host() {
  local dir=$build/language-nodejs-wrapper stamp_path=$build/language-host.stamp err lines
  if ! $force && [[ -x $bin/pulumi-language-nodejs && ! -L $bin/pulumi-language-nodejs && -f $stamp_path &&
    $(head -n1 "$stamp_path") == "$(language_host_stamp)" ]]; then
    tail -n +2 "$stamp_path" >>"$status_file.new"
    return 0
  fi
  log "building the nodejs language host (log: $build/language-nodejs.log)"
  if err=$(wrapper_module "$dir" "$PULUMI_NODEJS_HOST_MODULE@$PULUMI_NODEJS_HOST_VERSION" \
    "github.com/pulumi/pulumi/sdk/v3@$want_version" 2>&1) &&
    (cd "$dir" && go build -trimpath -ldflags "$(ldflags_version "$want_version")" \
      -o "$bin/pulumi-language-nodejs" "$PULUMI_NODEJS_HOST_MODULE") >"$build/language-nodejs.log" 2>&1; then
    lines="installed pulumi-language-nodejs: upstream $PULUMI_NODEJS_HOST_MODULE@$PULUMI_NODEJS_HOST_VERSION"
  else
    err=$(printf '%s\n' "$err" | grep -m1 -E 'not available|Forbidden|Not Found|disabled|error' || printf '%s' "$err" | tail -n1)
    log "upstream language host refused: $err"
    build_plugin pulumi-language-nodejs "$bin/pulumi-language-nodejs" "$(ldflags_version "$want_version")" \
      >>"$build/language-nodejs.log" 2>&1 || { tail -n 30 "$build/language-nodejs.log" >&2; return 1; }
    lines="unavailable upstream pulumi-language-nodejs ($PULUMI_NODEJS_HOST_MODULE@$PULUMI_NODEJS_HOST_VERSION): $err
installed pulumi-language-nodejs: smith's host (plugins/pulumi-language-nodejs), runs @pulumi/pulumi/cmd/run"
  fi
  note "$lines"
  printf '%s\n%s\n' "$(language_host_stamp)" "$lines" >"$stamp_path"
}

# build_plugin NAME OUT [LDFLAGS]: builds smith's plugins/NAME into OUT. Reproducible: the
# committed plugins/go.mod and go.sum fix every module (-mod=readonly: a missing or changed
# requirement fails the build instead of being resolved now), no VCS stamping, paths trimmed.
# Needs the modules in the Go module cache or from the Go module proxy; never `go mod tidy`.
build_plugin() {
  if ! grep -qxF $'\tgithub.com/pulumi/pulumi/sdk/v3 '"$want_version" "$repo/plugins/go.mod"; then
    echo "plugins/go.mod: github.com/pulumi/pulumi/sdk/v3 must be $want_version (PULUMI_VERSION in scripts/pulumi-versions.env)" >&2
    return 1
  fi
  (cd "$repo/plugins" && GOTOOLCHAIN=local go build -mod=readonly -buildvcs=false -trimpath \
    -ldflags "${3:--s -w}" -o "$2" "./$1")
}

# smith's own command provider (plugins/pulumi-resource-command, see docs/pulumi.md): the proxy
# refuses the upstream module (403 for github.com/pulumi/pulumi-command/provider), so the plugin is
# built from source against sdk/v3 at the CLI's release (plugins/go.mod).
command_provider_stamp() {
  # shellcheck disable=SC2046 # one path per line, none with spaces
  cat $(plugin_sources pulumi-resource-command) "$repo/scripts/pulumi-versions.env" | sha256sum | cut -d' ' -f1
}

build_command_provider() {
  local out=$build/plugins/pulumi-resource-command
  log "building smith's pulumi-resource-command $PULUMI_COMMAND_VERSION (log: $build/command.log)"
  mkdir -p "$build/plugins"
  # --reinstall: without it `plugin install` keeps an installed plugin of that version, so a
  # changed provider would never reach the engine. cmp proves the engine now has this build.
  if build_plugin pulumi-resource-command "$out" >"$build/command.log" 2>&1 &&
    "$bin/pulumi" plugin install resource command "$PULUMI_COMMAND_VERSION" --file "$out" --reinstall \
      >>"$build/command.log" 2>&1 &&
    cmp -s "$out" "$PULUMI_HOME/plugins/resource-command-v$PULUMI_COMMAND_VERSION/pulumi-resource-command"; then
    command_provider_stamp >"$build/command-provider.stamp"
    note "installed pulumi-resource-command $PULUMI_COMMAND_VERSION: smith's provider (plugins/pulumi-resource-command); upstream $PULUMI_COMMAND_MODULE@$PULUMI_COMMAND_MODULE_VERSION is refused by the Go module proxy (403)"
    return 0
  fi
  tail -n 20 "$build/command.log" >&2
  log "building smith's command provider failed"
  note "unavailable pulumi-resource-command $PULUMI_COMMAND_VERSION: building smith's provider failed, see $build/command.log"
}

if try_ambient || try_official; then
  if ! command_plugin_installed; then
    if timeout 120 "$bin/pulumi" plugin install resource command "$PULUMI_COMMAND_VERSION" >/dev/null 2>&1; then
      note "installed pulumi-resource-command $PULUMI_COMMAND_VERSION: pulumi plugin install"
    else
      build_command_provider
    fi
  fi
else
  command -v go >/dev/null || { log "no pulumi, no network installer and no Go toolchain: cannot install"; exit 1; }
  log "Go module cache: $(go env GOMODCACHE)"
  build_cli
  build_language_host
  if command_plugin_installed; then
    note "installed pulumi-resource-command $PULUMI_COMMAND_VERSION: already in $PULUMI_HOME/plugins"
  else
    build_command_provider
  fi
fi
link_dynamic_provider_launcher

login_local_backend

mv "$status_file.new" "$status_file"
stamp >"$stamp_file"
sed 's/^/install-pulumi:   /' "$status_file"
log "done: $("$bin/pulumi" version) in $bin; took $(elapsed)s"
