#!/bin/sh
# Builds the cached Debian rootfs every lab machine is layered on:
#   ${SMITH_CACHE:-/var/cache/smith}/rootfs-bookworm
# Built in a temp dir and renamed at the end, so a killed build never leaves a half rootfs.
# Usage: rootfs.sh [--mirror URL]   (default: the Debian mirror this host's apt uses)
set -eu
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname -- "$0")/common.sh"

need_root
need_tools debootstrap

# The bookworm mirror this host's apt already uses (deb822 .sources or one-line sources.list):
# the lab must reach the same mirror the host does, whatever it is.
host_mirror() {
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() { if (deb && suite && uri != "") { print uri; found = 1; exit } deb = 0; suite = 0; uri = "" }
      /^[[:space:]]*$/ { flush(); next }
      /^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
      END { if (!found) flush() }
    ' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } if ($(i + 1) == "bookworm") print $i }' "$f"
  done
}

MIRROR=""
while [ $# -gt 0 ]; do
  case $1 in
    --mirror) MIRROR=$2; shift 2 ;;
    *) die "rootfs.sh: unknown argument: $1" ;;
  esac
done
[ -n "$MIRROR" ] || MIRROR=$(host_mirror | head -n 1)
[ -n "$MIRROR" ] || die "no bookworm 'deb' source in /etc/apt/sources.list{,.d}; pass --mirror URL"

mkdir -p "$SMITH_CACHE"
exec 9>"$SMITH_CACHE/.rootfs.lock"
flock 9 # one builder at a time across every clone

if [ -f "$ROOTFS/etc/smith-lab-rootfs" ]; then
  log "rootfs already built: $ROOTFS"
  exit 0
fi

# Leftovers of a killed build: debootstrap may have left /proc or /sys mounted inside.
for old in "$SMITH_CACHE"/.rootfs-bookworm.tmp.*; do
  [ -d "$old" ] || continue
  umount_under "$old"
  rm -rf --one-file-system "$old"
done

TMP="$SMITH_CACHE/.rootfs-bookworm.tmp.$$"
trap 'umount_under "$TMP"; rm -rf --one-file-system "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
log "debootstrap bookworm from $MIRROR (about 30 s)"
debootstrap --variant=minbase --include=openssh-server,ca-certificates bookworm "$TMP" "$MIRROR" >"$SMITH_CACHE/debootstrap.log" 2>&1 ||
  die "debootstrap failed; see $SMITH_CACHE/debootstrap.log"

# Machines only ever see smith builds: no Debian sources, no downloaded lists.
rm -f "$TMP/etc/apt/sources.list" "$TMP"/etc/apt/sources.list.d/*
rm -rf "$TMP"/var/lib/apt/lists/* "$TMP"/var/cache/apt/archives/*.deb
# Every machine gets its own host key; none may be shared through the lower layer.
rm -f "$TMP"/etc/ssh/ssh_host_*
: >"$TMP/etc/machine-id"
printf 'bookworm minbase from %s, built %s\n' "$MIRROR" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$TMP/etc/smith-lab-rootfs"

trap - EXIT
mv -T "$TMP" "$ROOTFS"
log "rootfs ready: $ROOTFS ($(du -sh "$ROOTFS" | cut -f1))"
