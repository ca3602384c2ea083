#!/usr/bin/env bash
# Builds the smith image (Dockerfile) offline with buildah: no daemon, no registry.
#   1. a local base image, localhost/smith-base:bookworm-node<V>: the lab's Debian bookworm rootfs
#      (/var/cache/smith/rootfs-bookworm, made by scripts/lab/rootfs.sh when missing) plus this
#      host's `node` binary (Node 20; Debian bookworm's nodejs is 18) and the host's Debian apt
#      sources, so the Dockerfile's `apt-get install` works as on node:20-bookworm-slim;
#   2. the build context, staged in STORE/context: the checkout's tracked files, production
#      node_modules (a copy of ./node_modules pruned with `npm prune --omit=dev`: no download), the
#      Pulumi CLI, nodejs language host and command provider plugin scripts/install-pulumi.sh built;
#   3. `buildah bud --pull=never --build-arg BASE=<that base> --isolation chroot --layers`.
# Storage: STORE=${SMITH_IMAGE_STORE:-.smith/image} (buildah's --root STORE/storage, --runroot
# STORE/run; overlay driver, vfs where overlay cannot mount). Needs root, buildah
# (scripts/install-deps.sh), the Pulumi toolchain (scripts/install-pulumi.sh) and npm deps.
# Usage: scripts/build-image.sh [--tag NAME] [--context-only DIR]
#   --context-only DIR: only stage the context into DIR, for `docker build -f Dockerfile DIR`
#   (with a registry: BASE defaults to node:20-bookworm-slim). Docs: docs/platform.md "The image".
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=pulumi-versions.env
. "$repo/scripts/pulumi-versions.env"

store=${SMITH_IMAGE_STORE:-$repo/.smith/image}
rootfs=${SMITH_CACHE:-/var/cache/smith}/rootfs-bookworm
tag=localhost/smith:$(node -p 'require(process.argv[1]).version' "$repo/package.json")
context_only=""
while (($#)); do
  case $1 in
    --tag) tag=$2; shift 2 ;;
    --context-only) context_only=$2; shift 2 ;;
    *) echo "build-image: unknown argument: $1 (usage: $0 [--tag NAME] [--context-only DIR])" >&2; exit 2 ;;
  esac
done

started=$(date +%s)
log() { printf 'build-image: %s\n' "$*"; }
die() { printf 'build-image: %s\n' "$*" >&2; exit 1; }

tools=$repo/.smith/tools/bin
plugin=$repo/.smith/pulumi-home/plugins/resource-command-v$PULUMI_COMMAND_VERSION
for f in "$tools/pulumi" "$tools/pulumi-language-nodejs" "$tools/pulumi-resource-pulumi-nodejs" "$plugin/pulumi-resource-command"; do
  [[ -x $f ]] || die "missing $f: run scripts/install-pulumi.sh first"
done
[[ -d $repo/node_modules/@pulumi/pulumi ]] || die "missing node_modules: run npm ci first"

# --- the build context ----------------------------------------------------------------------------
stage_context() { # DIR
  local dir=$1
  rm -rf "$dir"
  mkdir -p "$dir/app/.smith/tools/bin" "$dir/pulumi-home/plugins"
  # The working tree's tracked files (what a commit of it would hold), never .smith or secrets.
  (cd "$repo" && git ls-files -z --cached | while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -C "$dir/app" -xf -
  cp -a "$repo/node_modules" "$dir/app/node_modules"
  # The tree package-lock.json says, without dev dependencies (a package the checkout lacks comes
  # from npm's cache: --offline); typescript and ts-node stay (devOptional: optional peers of
  # @pulumi/pulumi, which runs the TypeScript programs, and bin/smith.js transpiles with them).
  (cd "$dir/app" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --offline >/dev/null)
  (cd "$dir/app" && npm ls --omit=dev --all >/dev/null 2>&1) ||
    die "the staged node_modules does not match package-lock.json (npm ls --omit=dev): run npm ci first"
  cp -a "$tools/pulumi" "$tools/pulumi-language-nodejs" "$tools/pulumi-resource-pulumi-nodejs" "$dir/app/.smith/tools/bin/"
  cp -a "$repo/.smith/tools/STATUS" "$dir/app/.smith/tools/" 2>/dev/null || true
  cp -a "$plugin" "$dir/pulumi-home/plugins/"
  # Read-only for smith (uid 10001) in the image: set here, since a chmod in a RUN would copy
  # every file into one more layer. COPY makes them root's.
  chmod -R a+rX,go-w "$dir"
}

if [[ -n $context_only ]]; then
  stage_context "$context_only"
  log "context staged in $context_only ($(du -sh "$context_only" | cut -f1)); took $(($(date +%s) - started))s"
  exit 0
fi

[[ $(id -u) == 0 ]] || die "needs root (buildah without a daemon, chroot isolation)"
command -v buildah >/dev/null || die "no buildah: run scripts/install-deps.sh"
mkdir -p "$store"

# overlay when the kernel lets us mount it here (this storage then stays overlay), else vfs;
# SMITH_IMAGE_DRIVER forces one (a store keeps the driver it was made with).
driver() {
  if [[ -n ${SMITH_IMAGE_DRIVER:-} ]]; then echo "$SMITH_IMAGE_DRIVER"; return; fi
  if [[ -d $store/storage/overlay ]]; then echo overlay; return; fi
  if [[ -d $store/storage/vfs ]]; then echo vfs; return; fi
  local t
  t=$(mktemp -d "$store/.probe.XXXXXX")
  mkdir "$t/l" "$t/u" "$t/w" "$t/m"
  if mount -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null; then
    umount "$t/m"
    echo overlay
  else
    echo vfs
  fi
  rm -rf "$t"
}
storage_driver=$(driver)
bah() { buildah --root "$store/storage" --runroot "$store/run" --storage-driver "$storage_driver" "$@"; }

# --- the base image ---------------------------------------------------------------------------------
[[ -f $rootfs/etc/smith-lab-rootfs ]] || sh "$repo/scripts/lab/rootfs.sh"
node_bin=$(command -v node)
node_version=$(node -p process.versions.node)
base=localhost/smith-base:bookworm-node$node_version
# The base is rebuilt when the rootfs, the node binary or make_base (below) changes.
base_id=$( { cat "$rootfs/etc/smith-lab-rootfs"; sha256sum "$node_bin"; sed -n '/^make_base() {/,/^}/p' "$repo/scripts/build-image.sh"; } | sha256sum | cut -c1-16)

make_base() {
  local ctr mnt f
  log "making $base from $rootfs + $node_bin (Node $node_version)"
  ctr=$(bah from scratch)
  mnt=$(bah mount "$ctr")
  cp -a "$rootfs/." "$mnt/"
  install -m 0755 "$node_bin" "$mnt/usr/local/bin/node"
  # The host's Debian sources (the rootfs has none: lab machines only see smith builds), and its
  # apt settings that are only about fetching (Acquire::…), so apt-get in the build reaches the
  # mirror this host reaches.
  cp -a /etc/apt/sources.list.d/. "$mnt/etc/apt/sources.list.d/"
  [[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$mnt/etc/apt/"
  for f in /etc/apt/apt.conf.d/*; do
    if [[ -f $f ]] && ! grep -Evq '^[[:space:]]*(#|//|$|Acquire::)' "$f"; then cp "$f" "$mnt/etc/apt/apt.conf.d/"; fi
  done
  rm -f "$mnt/etc/smith-lab-rootfs"
  bah umount "$ctr" >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node \
    --label smith.base-id="$base_id" --label smith.node="$node_version" "$ctr"
  # node must run on this rootfs's libraries (glibc, libstdc++), or nothing else will.
  bah run --isolation chroot "$ctr" -- node -e 'process.exit(process.versions.node === process.argv[1] ? 0 : 1)' "$node_version" ||
    die "the host's node does not run on $rootfs"
  # The lab's machines need sshd; an image does not (node:20-bookworm-slim has none either).
  bah run --isolation chroot "$ctr" -- env DEBIAN_FRONTEND=noninteractive dpkg --purge openssh-server openssh-sftp-server >/dev/null
  bah commit -q --rm "$ctr" "$base" >/dev/null
}
if [[ $(bah inspect --type image --format '{{index .OCIv1.Config.Labels "smith.base-id"}}' "$base" 2>/dev/null) != "$base_id" ]]; then
  make_base
else
  log "base $base is current"
fi

# --- the image ----------------------------------------------------------------------------------------
stage_context "$store/context"
log "building $tag from Dockerfile (storage: $store, driver $storage_driver)"
bah bud --isolation chroot --pull=never --layers --build-arg "BASE=$base" -f "$repo/Dockerfile" -t "$tag" "$store/context"
size=$(bah images --format '{{.Size}}' "$tag" | head -n 1)
log "built $tag ($size); took $(($(date +%s) - started))s"
