#!/bin/sh
# Builds the synthetic upstream: smith-demo-{kernel,conf,svc} 1.0 / 1.1 / 1.2 for builds 1 / 2 / 3.
# Usage: pkgs.sh OUTDIR   -> OUTDIR/build-N/*.deb
set -eu
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname -- "$0")/common.sh"
need_tools dpkg-deb

OUT=${1:?usage: pkgs.sh OUTDIR}
SVC_PORT=9107
export SOURCE_DATE_EPOCH=1700000000

# control NAME VERSION DIR DESCRIPTION [DEPENDS]
control() {
  mkdir -p "$3/DEBIAN"
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: smith lab <lab@smith.invalid>\n' "$1" "$2"
    printf 'Priority: optional\nSection: misc\n'
    [ -z "${5:-}" ] || printf 'Depends: %s\n' "$5"
    printf 'Description: %s\n smith lab demo package (synthetic upstream, version %s).\n' "$4" "$2"
  } >"$3/DEBIAN/control"
}

build_pkg() {
  find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --root-owner-group -Zgzip --build "$1" "$2" >/dev/null
}

kernel() { # VERSION BUILD DIR
  d=$3/smith-demo-kernel
  control smith-demo-kernel "$1" "$d" "demo kernel: an image in /boot that runs after the next boot"
  mkdir -p "$d/usr/share/smith-demo" "$d/boot"
  printf '%s\n' "$2" >"$d/usr/share/smith-demo/build"
  printf '%s\n' "$1" >"$d/usr/share/smith-demo/kernel-version"
  # The image: its name carries the kernel release, as Debian's /boot/vmlinuz-<release> does. It
  # does NOT touch /var/run/reboot-required: the agent must see that the running kernel (the lab
  # boot publishes the newest image at /proc/sys/kernel/osrelease) is older than the newest one.
  printf 'smith demo kernel %s\n' "$1" >"$d/boot/vmlinuz-$1-smith-demo"
}

conf() { # VERSION BUILD DIR
  d=$3/smith-demo-conf
  control smith-demo-conf "$1" "$d" "demo configuration: ships a conffile that changes every version"
  mkdir -p "$d/etc/smith-demo"
  printf '# smith demo configuration, shipped by smith-demo-conf %s\n[demo]\nversion = %s\ngreeting = hello from build %s\n' \
    "$1" "$1" "$2" >"$d/etc/smith-demo/conf.ini"
  echo /etc/smith-demo/conf.ini >"$d/DEBIAN/conffiles"
}

svc() { # VERSION BUILD DIR
  d=$3/smith-demo-svc
  # A versioned dependency, so a held conf keeps svc back too (an unmet dependency).
  control smith-demo-svc "$1" "$d" "demo service with a health endpoint" "perl-base, bash, smith-demo-conf (>= $1)"
  mkdir -p "$d/usr/lib/smith-demo" "$d/usr/sbin" "$d/etc/smith-lab/boot.d" "$d/etc/smith/health.d"
  cat >"$d/usr/lib/smith-demo/svc" <<EOF
#!/usr/bin/perl
# smith-demo-svc $1: answers "GET /health" with 200 (or 503 while the lab's health-fail fault is on).
use strict;
use warnings;
use IO::Socket::INET;
my \$addr = '127.0.0.1';
if (open(my \$f, '<', '/etc/smith-lab/address')) { chomp(\$addr = <\$f> // '127.0.0.1'); }
my \$srv = IO::Socket::INET->new(LocalAddr => \$addr, LocalPort => $SVC_PORT, Listen => 16, ReuseAddr => 1)
  or die "smith-demo-svc: listen \$addr:$SVC_PORT: \$!\n";
while (my \$c = \$srv->accept) {
    my \$line = <\$c> // '';
    my (\$code, \$body) = -e '/run/smith-lab/faults/health-fail'
      ? ('503 Service Unavailable', "unhealthy $1\n") : ('200 OK', "ok $1\n");
    print \$c "HTTP/1.0 \$code\r\nContent-Type: text/plain\r\nContent-Length: " . length(\$body) . "\r\n\r\n\$body";
    close \$c;
}
EOF
  cat >"$d/usr/sbin/smith-demo-svc-ctl" <<'EOF'
#!/bin/sh
# start|stop|restart smith-demo-svc (no systemd on lab machines). Honours policy-rc.d like invoke-rc.d.
PIDFILE=/run/smith-demo-svc.pid
if [ -x /usr/sbin/policy-rc.d ]; then
  rc=0; /usr/sbin/policy-rc.d smith-demo-svc "$1" || rc=$?
  [ "$rc" != 101 ] || exit 0
fi
running() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
stop() {
  if running; then kill "$(cat "$PIDFILE")"; fi
  i=0; while running && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  rm -f "$PIDFILE"
}
start() {
  running && return 0
  nohup setsid /usr/lib/smith-demo/svc </dev/null >>/var/log/smith-demo-svc.log 2>&1 &
  echo $! >"$PIDFILE"
}
case ${1:-} in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  *) echo "usage: smith-demo-svc-ctl start|stop|restart" >&2; exit 2 ;;
esac
EOF
  cat >"$d/etc/smith-lab/boot.d/50-smith-demo-svc" <<'EOF'
#!/bin/sh
exec /usr/sbin/smith-demo-svc-ctl start
EOF
  cat >"$d/etc/smith/health.d/50-demo-svc" <<EOF
#!/bin/bash
# smith health check: the demo service answers 200 on its health endpoint.
addr=\$(cat /etc/smith-lab/address 2>/dev/null || echo 127.0.0.1)
if ! exec 3<>"/dev/tcp/\$addr/$SVC_PORT"; then
  echo "smith-demo-svc: nothing listening on \$addr:$SVC_PORT"
  exit 1
fi
printf 'GET /health HTTP/1.0\r\n\r\n' >&3
status=""
read -r -t 5 status <&3 || true
status=\${status%\$'\r'}
case \$status in
  *" 200 "*) echo "smith-demo-svc: \$status"; exit 0 ;;
esac
echo "smith-demo-svc unhealthy: \${status:-no answer}"
exit 1
EOF
  cat >"$d/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  # Lab faults (markers the lab bind-mounts into every machine).
  if [ -e /run/smith-lab/faults/postinst-fail ]; then
    echo "smith-demo-svc: postinst failing on purpose (lab fault postinst-fail)" >&2
    exit 1
  fi
  if [ -s /run/smith-lab/faults/slow ]; then sleep "$(cat /run/smith-lab/faults/slow)"; fi
  /usr/sbin/smith-demo-svc-ctl restart
fi
EOF
  cat >"$d/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ]; then /usr/sbin/smith-demo-svc-ctl stop; fi
EOF
  chmod 755 "$d/usr/lib/smith-demo/svc" "$d/usr/sbin/smith-demo-svc-ctl" "$d/etc/smith-lab/boot.d/50-smith-demo-svc" \
    "$d/etc/smith/health.d/50-demo-svc" "$d/DEBIAN/postinst" "$d/DEBIAN/prerm"
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for b in 1 2 3; do
  v="1.$((b - 1))"
  rm -rf "$OUT/build-$b"
  mkdir -p "$OUT/build-$b"
  for p in kernel conf svc; do
    "$p" "$v" "$b" "$WORK/$b"
    build_pkg "$WORK/$b/smith-demo-$p" "$OUT/build-$b/smith-demo-${p}_${v}_all.deb"
  done
done
log "demo packages built in $OUT"
