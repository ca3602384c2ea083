#!/usr/bin/env bash
# Installs smith's Kubernetes toolchain, built from pinned Go modules (never prebuilt binaries):
#   - the Pulumi Kubernetes provider plugin (pulumi-resource-kubernetes, into .smith/pulumi-home);
#   - a test API server: kube-apiserver and kubectl into .smith/tools/bin, etcd from Debian's
#     etcd-server (scripts/install-deps.sh) or, without it, built from go.etcd.io/etcd/server/v3.
# Pins: scripts/kubernetes-versions.env. Needs the Pulumi CLI (scripts/install-pulumi.sh first) and
# Go. Idempotent: a stamp of its inputs makes a re-run take about a second. Build logs:
# .smith/build/kube-*.log. Usage: scripts/install-kubernetes.sh [--force]. Docs: docs/platform.md.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=kubernetes-versions.env
. "$repo/scripts/kubernetes-versions.env"

bin=$repo/.smith/tools/bin
build=$repo/.smith/build
status_file=$repo/.smith/tools/STATUS-kubernetes
stamp_file=$repo/.smith/tools/stamp-kubernetes
export PULUMI_HOME=$repo/.smith/pulumi-home
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export GOFLAGS=-mod=mod

force=false
[[ ${1:-} == --force ]] && force=true

started=$(date +%s.%N)
log() { printf 'install-kubernetes: %s\n' "$*"; }
elapsed() { awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
note() { printf '%s\n' "$*" >>"$status_file.new"; }
# Builds share two cores with everything else on the machine: keep them polite.
gobuild() { nice -n 10 go build -trimpath "$@"; }

stamp() { cat "$repo/scripts/kubernetes-versions.env" "$repo/scripts/install-kubernetes.sh" | sha256sum | cut -d' ' -f1; }

plugin_dir=$PULUMI_HOME/plugins/resource-kubernetes-v$PULUMI_KUBERNETES_VERSION
installed() {
  [[ -x $bin/kube-apiserver && -x $bin/kubectl && -x $plugin_dir/pulumi-resource-kubernetes ]] &&
    { command -v etcd >/dev/null || [[ -x $bin/etcd ]]; }
}

if ! $force && [[ -f $stamp_file && $(cat "$stamp_file") == "$(stamp)" ]] && installed; then
  log "already installed (kube-apiserver v$KUBERNETES_VERSION, kubernetes plugin $PULUMI_KUBERNETES_VERSION); took $(elapsed)s"
  exit 0
fi
command -v go >/dev/null || { log "no Go toolchain: cannot build"; exit 1; }
[[ -x $bin/pulumi ]] || { log "no $bin/pulumi: run scripts/install-pulumi.sh first"; exit 1; }
mkdir -p "$bin" "$build"
: >"$status_file.new"

# module_json MODULE@VERSION FIELD: a field of `go mod download -json` (Dir, GoMod), or the error.
module_json() {
  go mod download -json "$1" | node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
    if (r.Error) { console.error(r.Error); process.exit(1); }
    console.log(r[process.argv[1]]);' "$2"
}

# new_module NAME MODULE@VERSION: a fresh wrapper module in the current directory requiring MODULE.
new_module() {
  rm -f go.mod go.sum
  go mod init "smith.local/$1"
  go mod edit -require="$2"
}

# --- kube-apiserver, kubectl (and etcd when Debian's is missing) --------------------------------
build_kubernetes() {
  local dir=$build/kube-wrapper v=v$KUBERNETES_VERSION minor gomod r
  minor=${KUBERNETES_VERSION#*.}
  minor=${minor%%.*}
  log "building kube-apiserver and kubectl $v from k8s.io/kubernetes (log: $build/kube-apiserver.log)"
  mkdir -p "$dir"
  (
    cd "$dir"
    new_module kube-wrapper "k8s.io/kubernetes@$v"
    gomod=$(module_json "k8s.io/kubernetes@$v" GoMod)
    # Staging modules (./staging/src/k8s.io/X) become k8s.io/X v0.<minor>.<patch>; other
    # non-local replaces are repeated as they are.
    # shellcheck disable=SC2016 # JavaScript template literals, not shell.
    while IFS= read -r r; do
      go mod edit -replace="$r"
    done < <(go mod edit -json "$gomod" | node -e '
      const m = JSON.parse(require("fs").readFileSync(0, "utf8"));
      for (const r of m.Replace || []) {
        if (r.New.Version) console.log(`${r.Old.Path}=${r.New.Path}@${r.New.Version}`);
        else if (r.New.Path.startsWith("./staging/")) console.log(`${r.Old.Path}=${r.Old.Path}@v0.${process.argv[1]}`);
      }' "${KUBERNETES_VERSION#1.}")
    local ld="-s -w -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1"
    ld+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$v"
    ld+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
    gobuild -ldflags "$ld" -o "$bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
    gobuild -ldflags "$ld" -o "$bin/kubectl" k8s.io/kubernetes/cmd/kubectl
  ) >"$build/kube-apiserver.log" 2>&1 || { tail -n 30 "$build/kube-apiserver.log" >&2; return 1; }
  note "installed kube-apiserver, kubectl $v: built from k8s.io/kubernetes@$v (staging modules at v0.${KUBERNETES_VERSION#1.})"
}

build_etcd() {
  if command -v etcd >/dev/null; then
    note "installed etcd $(etcd --version | awk 'NR==1 {print $3}'): $(command -v etcd) (Debian etcd-server)"
    return 0
  fi
  local dir=$build/etcd-wrapper
  log "no etcd on PATH: building etcd $ETCD_MODULE_VERSION from go.etcd.io/etcd/server/v3 (log: $build/kube-etcd.log)"
  mkdir -p "$dir"
  (
    cd "$dir"
    new_module etcd-wrapper "go.etcd.io/etcd/server/v3@$ETCD_MODULE_VERSION"
    printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >main.go
    gobuild -ldflags '-s -w' -o "$bin/etcd" .
  ) >"$build/kube-etcd.log" 2>&1 || { tail -n 30 "$build/kube-etcd.log" >&2; return 1; }
  note "installed etcd $ETCD_MODULE_VERSION: built from go.etcd.io/etcd/server/v3"
}

# --- the Pulumi Kubernetes provider --------------------------------------------------------------
build_provider() {
  local dir=$build/kubernetes-provider-wrapper src m=$PULUMI_KUBERNETES_MODULE@$PULUMI_KUBERNETES_MODULE_VERSION
  log "building pulumi-resource-kubernetes $PULUMI_KUBERNETES_VERSION from $m (log: $build/kube-provider.log)"
  mkdir -p "$dir"
  (
    cd "$dir"
    rm -f ./*.go ./*.json
    new_module kubernetes-provider-wrapper "$m"
    go mod edit -replace="github.com/pulumi/pulumi-kubernetes/sdk/v4=github.com/pulumi/pulumi-kubernetes/sdk/v4@v$PULUMI_KUBERNETES_VERSION"
    src=$(module_json "$m" Dir)/cmd/pulumi-resource-kubernetes
    # The provider's main embeds schema-embed.json, which upstream's `go generate` (generate.go)
    # makes from schema.json with the version set; the module cache is read-only, so the main
    # package is built from a copy here, with the same two files made the same way.
    cp "$src/main.go" .
    # shellcheck disable=SC2016 # JavaScript template literals, not shell.
    VERSION=$PULUMI_KUBERNETES_VERSION node -e '
      const fs = require("fs"), src = process.argv[1];
      const schema = JSON.parse(fs.readFileSync(`${src}/schema.json`, "utf8"));
      schema.version = process.env.VERSION;
      fs.writeFileSync("schema-embed.json", JSON.stringify(schema));
      fs.writeFileSync("terraform-mapping-embed.json", JSON.stringify(JSON.parse(fs.readFileSync(`${src}/terraform-mapping.json`, "utf8"))));' "$src"
    gobuild -ldflags "-s -w -X $PULUMI_KUBERNETES_MODULE/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" -o pulumi-resource-kubernetes .
    "$bin/pulumi" plugin install resource kubernetes "$PULUMI_KUBERNETES_VERSION" --file ./pulumi-resource-kubernetes
  ) >"$build/kube-provider.log" 2>&1 || { tail -n 30 "$build/kube-provider.log" >&2; return 1; }
  note "installed pulumi-resource-kubernetes $PULUMI_KUBERNETES_VERSION: built from $m (= tag v$PULUMI_KUBERNETES_VERSION)"
}

step() { # NAME FN: runs FN, timing it
  local t0 t1
  t0=$(date +%s)
  "$2"
  t1=$(date +%s)
  log "$1: $((t1 - t0)) s"
}

if $force || [[ ! -x $bin/kube-apiserver || ! -x $bin/kubectl || ! -f $stamp_file || $(cat "$stamp_file") != "$(stamp)" ]]; then
  step "kube-apiserver + kubectl" build_kubernetes
else
  note "installed kube-apiserver, kubectl v$KUBERNETES_VERSION: built earlier"
fi
step etcd build_etcd
if $force || [[ ! -x $plugin_dir/pulumi-resource-kubernetes || ! -f $stamp_file || $(cat "$stamp_file") != "$(stamp)" ]]; then
  step "kubernetes provider" build_provider
else
  note "installed pulumi-resource-kubernetes $PULUMI_KUBERNETES_VERSION: built earlier"
fi

mv "$status_file.new" "$status_file"
stamp >"$stamp_file"
sed 's/^/install-kubernetes:   /' "$status_file"
log "done; took $(elapsed)s"
