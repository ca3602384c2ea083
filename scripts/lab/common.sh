# shellcheck shell=sh disable=SC2034
# Shared helpers for the lab scripts (sourced, never run). POSIX sh.

SMITH_CACHE=${SMITH_CACHE:-/var/cache/smith}
ROOTFS="$SMITH_CACHE/rootfs-bookworm"
LAB_SCRIPTS=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
REPO_ROOT=${SMITH_REPO_ROOT:-$(CDPATH='' cd -- "$LAB_SCRIPTS/../.." && pwd)}
LAB_DIR=${SMITH_LAB_DIR:-$REPO_ROOT/.smith/lab}

die() {
  printf 'smith lab: %s\n' "$*" >&2
  exit 1
}

log() {
  printf '[lab] %s\n' "$*" >&2
}

need_root() {
  [ "$(id -u)" = 0 ] || die "the lab needs root (overlay mounts, namespaces, chroot); run as root"
}

# One message for every missing tool: the fix is always the same script.
need_tools() {
  missing=""
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || missing="$missing $t"
  done
  [ -z "$missing" ] || die "missing tools:$missing; run scripts/install-deps.sh (as root)"
}

# Reads a pid file and tells whether that process is alive.
pid_alive() {
  [ -s "$1" ] || return 1
  p=$(cat "$1" 2>/dev/null) || return 1
  case $p in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$p" 2>/dev/null
}

# Lazily unmounts everything mounted below a directory, deepest first.
umount_under() {
  findmnt -rn -o TARGET | awk -v d="$1/" 'index($0, d) == 1' | sort -r | while read -r mnt; do
    umount -l "$mnt" || true
  done
}
