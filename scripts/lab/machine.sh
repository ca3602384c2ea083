#!/bin/sh
# Lab machines: one overlay of BASE:ROOTFS each, booted in its own mount/pid/uts namespaces by a
# detached supervisor that boots it again (new boot id) whenever its PID 1 ends.
#   machine.sh up NAME ADDR [NAME ADDR ...]   create fresh machines and start their supervisors
#   machine.sh down NAME [NAME ...]           stop supervisors and machines, delete their state
#   machine.sh exec NAME CMD [ARG ...]        run a command inside a running machine (nsenter)
#   machine.sh fault NAME KIND on|off [SECS]  unreachable|dpkg-lock|postinst-fail|health-fail|slow
# Per machine, in LAB/machines/NAME: upper/ work/ root/ (overlay), faults/ (bind-mounted at
# /run/smith-lab/faults inside), boot_id, supervisor.pid, init.pid, reboot-delay, console.log.
set -eu
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname -- "$0")/common.sh"

SELF=$LAB_SCRIPTS/machine.sh
BASE=$LAB_DIR/base/upper

mdir() { printf '%s/machines/%s' "$LAB_DIR" "$1"; }

create() {
  name=$1 addr=$2
  M=$(mdir "$name")
  if pid_alive "$M/supervisor.pid"; then die "machine $name is running; run 'lab down' first"; fi
  rm -rf --one-file-system "$M"
  mkdir -p "$M/upper/etc/ssh" "$M/upper/etc/smith-lab" "$M/upper/root/.ssh" "$M/work" "$M/root" "$M/faults"
  chmod 700 "$M/upper/root/.ssh"
  printf '%s\n' "$name" >"$M/upper/etc/hostname"
  printf '%s\n' "$addr" >"$M/upper/etc/smith-lab/address"
  printf '127.0.0.1\tlocalhost\n%s\t%s\n' "$addr" "$name" >"$M/upper/etc/hosts"
  install -m 0600 "$LAB_DIR/id_ed25519.pub" "$M/upper/root/.ssh/authorized_keys"
  ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$M/upper/etc/ssh/ssh_host_ed25519_key"
  printf '%s\n' "${SMITH_LAB_REBOOT_DELAY:-2}" >"$M/reboot-delay"
}

start() {
  M=$(mdir "$1")
  pid_alive "$M/supervisor.pid" && return 0
  rm -f "$M/stop"
  setsid "$SELF" supervise "$1" </dev/null >>"$M/console.log" 2>&1 &
  echo $! >"$M/supervisor.pid"
}

# The host-side loop of one machine. Boots, waits for PID 1 to end, waits the reboot delay, boots.
supervise() {
  name=$1
  M=$(mdir "$name")
  # Working inside the machine's dir marks this loop (and the unshare below) as the lab's: `lab down`
  # finds leftovers by cwd/root under the lab dir.
  cd "$M"
  echo $$ >"$M/supervisor.pid"
  trap 'touch "$M/stop"' TERM INT
  while [ ! -e "$M/stop" ]; do
    cat /proc/sys/kernel/random/uuid >"$M/boot_id"
    unshare --mount --pid --uts --fork --propagation private -- "$SELF" boot "$name" &
    upid=$!
    init=""
    i=0
    while [ -z "$init" ] && [ $i -lt 200 ] && kill -0 "$upid" 2>/dev/null; do
      init=$(pgrep -P "$upid" | head -n 1) || true
      [ -n "$init" ] || sleep 0.05
      i=$((i + 1))
    done
    echo "$init" >"$M/init.pid"
    printf '%s boot %s pid1=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(cat "$M/boot_id")" "$init"
    while kill -0 "$upid" 2>/dev/null; do wait "$upid" || true; done
    rm -f "$M/init.pid"
    [ ! -e "$M/stop" ] || break
    delay=$(cat "$M/reboot-delay" 2>/dev/null || echo 2)
    if [ -s "$M/faults/slow" ]; then delay=$((delay + $(cat "$M/faults/slow"))); fi
    printf '%s down; booting again in %ss\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$delay"
    sleep "$delay"
  done
  rm -f "$M/supervisor.pid"
}

# PID 1 of the new pid namespace, in a private mount namespace: mount the machine, exec its init.
boot() {
  name=$1
  M=$(mdir "$name")
  R=$M/root
  mount -t overlay overlay -o "lowerdir=$BASE:$ROOTFS,upperdir=$M/upper,workdir=$M/work" "$R"
  mount -t proc proc "$R/proc"
  # Each boot has its own boot id, so "did it reboot?" works as on a real machine.
  mount --bind "$M/boot_id" "$R/proc/sys/kernel/random/boot_id"
  mount -o remount,bind,ro "$R/proc/sys/kernel/random/boot_id"
  # The running kernel: the newest /boot/vmlinuz-<release> installed at boot (the one a bootloader
  # would pick), published at /proc/sys/kernel/osrelease as a real kernel does; the agent compares
  # it with the newest installed image to see that a reboot is needed.
  kernel=""
  for k in "$R"/boot/vmlinuz-*; do
    [ -f "$k" ] || continue
    k=${k##*/vmlinuz-}
    if [ -z "$kernel" ] || dpkg --compare-versions "$k" gt "$kernel"; then kernel=$k; fi
  done
  if [ -n "$kernel" ]; then
    printf '%s\n' "$kernel" >"$M/osrelease"
    mount --bind "$M/osrelease" "$R/proc/sys/kernel/osrelease"
    mount -o remount,bind,ro "$R/proc/sys/kernel/osrelease"
  fi
  mount -t tmpfs -o mode=755,size=16m tmpfs "$R/dev"
  mknod -m 666 "$R/dev/null" c 1 3
  mknod -m 666 "$R/dev/zero" c 1 5
  mknod -m 666 "$R/dev/full" c 1 7
  mknod -m 666 "$R/dev/random" c 1 8
  mknod -m 666 "$R/dev/urandom" c 1 9
  mknod -m 666 "$R/dev/tty" c 5 0
  mkdir "$R/dev/pts" "$R/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$R/dev/pts"
  mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
  ln -s pts/ptmx "$R/dev/ptmx"
  ln -s /proc/self/fd "$R/dev/fd"
  ln -s /proc/self/fd/0 "$R/dev/stdin"
  ln -s /proc/self/fd/1 "$R/dev/stdout"
  ln -s /proc/self/fd/2 "$R/dev/stderr"
  mount -t tmpfs -o mode=755,size=64m tmpfs "$R/run"
  mkdir -p "$R/run/smith-lab/faults"
  mount --bind "$M/faults" "$R/run/smith-lab/faults"
  hostname "$name"
  exec chroot "$R" /usr/local/lib/smith-lab/init
}

stop() {
  for name in "$@"; do
    M=$(mdir "$name")
    [ -d "$M" ] || continue
    touch "$M/stop"
    # SIGKILL to a pid namespace's init ends every process of the machine; its mount namespace,
    # and with it the overlay, goes away with the last of them.
    if pid_alive "$M/init.pid"; then kill -KILL "$(cat "$M/init.pid")" 2>/dev/null || true; fi
  done
  for name in "$@"; do
    M=$(mdir "$name")
    [ -d "$M" ] || continue
    i=0
    while pid_alive "$M/supervisor.pid" && [ $i -lt 100 ]; do
      if pid_alive "$M/init.pid"; then kill -KILL "$(cat "$M/init.pid")" 2>/dev/null || true; fi
      sleep 0.1
      i=$((i + 1))
    done
    if pid_alive "$M/supervisor.pid"; then
      sp=$(cat "$M/supervisor.pid")
      pkill -KILL -P "$sp" 2>/dev/null || true
      kill -KILL "$sp" 2>/dev/null || true
    fi
    umount_under "$M"
    rm -rf --one-file-system "$M"
  done
}

machine_exec() {
  name=$1
  shift
  M=$(mdir "$name")
  pid_alive "$M/init.pid" || die "machine $name is not running"
  exec nsenter -t "$(cat "$M/init.pid")" -m -u -p -r -w -- \
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
}

fault() {
  name=$1 kind=$2 state=$3 secs=${4:-}
  M=$(mdir "$name")
  [ -d "$M/faults" ] || die "no machine $name"
  F=$M/faults
  case $kind:$state in
    unreachable:on | postinst-fail:on | health-fail:on) touch "$F/$kind" ;;
    unreachable:off | postinst-fail:off | health-fail:off | slow:off) rm -f "$F/$kind" ;;
    slow:on) printf '%s\n' "${secs:-10}" >"$F/slow" ;;
    dpkg-lock:on)
      # A process of the machine holds dpkg's locks, like an apt run that will not finish soon.
      # shellcheck disable=SC2016 # expanded by the machine's shell, on purpose
      "$SELF" exec "$name" sh -c 'setsid /usr/local/lib/smith-lab/hold-dpkg-lock "$1" </dev/null >/dev/null 2>&1 &
        echo $! >/run/smith-lab/dpkg-lock.pid' sh "${secs:-120}"
      printf '%s\n' "$(($(date +%s) + ${secs:-120}))" >"$F/dpkg-lock"
      ;;
    dpkg-lock:off)
      if pid_alive "$M/init.pid"; then
        # shellcheck disable=SC2016 # expanded by the machine's shell, on purpose
        "$SELF" exec "$name" sh -c 'p=$(cat /run/smith-lab/dpkg-lock.pid 2>/dev/null) && kill "$p" 2>/dev/null; rm -f /run/smith-lab/dpkg-lock.pid' || true
      fi
      rm -f "$F/dpkg-lock"
      ;;
    *) die "unknown fault '$kind' or state '$state' (kinds: unreachable dpkg-lock postinst-fail health-fail slow; state on|off)" ;;
  esac
}

cmd=${1:-}
[ $# -eq 0 ] || shift
case $cmd in
  up)
    need_root
    [ -d "$BASE" ] || die "no lab layer; run scripts/lab/base.sh"
    [ -s "$LAB_DIR/id_ed25519.pub" ] || die "no lab key at $LAB_DIR/id_ed25519.pub"
    while [ $# -ge 2 ]; do
      create "$1" "$2"
      start "$1"
      shift 2
    done
    ;;
  down) need_root; stop "$@" ;;
  supervise) supervise "$1" ;;
  boot) boot "$1" ;;
  exec) need_root; machine_exec "$@" ;;
  fault) need_root; fault "$@" ;;
  *) die "usage: machine.sh up NAME ADDR... | down NAME... | exec NAME CMD... | fault NAME KIND on|off [SECS]" ;;
esac
