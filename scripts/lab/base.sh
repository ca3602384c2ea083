#!/bin/sh
# Builds the lab layer every machine shares, on top of the cached rootfs:
# lab init and reboot shims, sshd settings, the mirror's signing key and apt source (build 1),
# and build 1 of the demo packages installed with dpkg. Machines mount lowerdir=BASE:ROOTFS.
# Usage: base.sh REPO_URL
set -eu
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname -- "$0")/common.sh"
need_root

BASE=$LAB_DIR/base

# Runs in a private mount namespace (see below): its mounts vanish with it.
inside() {
  url=$1
  R=$BASE/mnt
  mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$BASE/upper,workdir=$BASE/work" "$R"
  mount -t proc proc "$R/proc"
  (cd "$LAB_SCRIPTS/files" && tar --exclude=.keep -cf - .) | tar -C "$R" -xf -
  for cmd in reboot shutdown; do ln -sf "/usr/local/sbin/$cmd" "$R/usr/sbin/$cmd"; done
  install -m 0644 "$LAB_DIR/smith-lab.gpg" "$R/usr/share/keyrings/smith-lab.gpg"
  printf 'deb [signed-by=/usr/share/keyrings/smith-lab.gpg] %s/builds/1 smith main\n' "$url" \
    >"$R/etc/apt/sources.list.d/smith.list"
  mkdir -p "$R/tmp/smith-debs" "$R/var/lib/smith"
  cp "$LAB_DIR/debs/build-1/"*.deb "$R/tmp/smith-debs/"
  # No service may start inside this build chroot (invoke-rc.d convention).
  printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
  chmod 755 "$R/usr/sbin/policy-rc.d"
  chroot "$R" sh -c 'dpkg -i /tmp/smith-debs/*.deb' >"$LAB_DIR/base-dpkg.log" 2>&1
  rm -rf "$R/usr/sbin/policy-rc.d" "$R/tmp/smith-debs" "$R/run/reboot-required" "$R/run/reboot-required.pkgs"
  umount "$R/proc"
  umount "$R"
}

if [ "${1:-}" = --inside ]; then
  inside "$2"
  exit 0
fi

REPO_URL=${1:?usage: base.sh REPO_URL}
[ -f "$ROOTFS/etc/smith-lab-rootfs" ] || die "no rootfs at $ROOTFS; run scripts/lab/rootfs.sh"
[ -s "$LAB_DIR/smith-lab.gpg" ] || die "no mirror key; run scripts/lab/mirror.sh build"
rm -rf --one-file-system "$BASE"
mkdir -p "$BASE/upper" "$BASE/work" "$BASE/mnt"
unshare --mount --propagation private -- "$0" --inside "$REPO_URL" ||
  die "building the lab layer failed; see $LAB_DIR/base-dpkg.log"
rm -rf "${BASE:?}/work" "${BASE:?}/mnt"
