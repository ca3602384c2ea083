#!/bin/sh
# The lab's apt side, for src/lab/builds.ts (which makes the builds with smith build + smith sync):
#   mirror.sh prepare      the lab signing key (prints its fingerprint) and the demo packages (LAB/debs)
#   mirror.sh start PORT   serve LAB/www (upstream/, mirror-a/, mirror-b/) on http://127.0.0.1:PORT/ (detached, pid file)
#   mirror.sh stop
set -eu
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname -- "$0")/common.sh"

WWW=$LAB_DIR/www
GNUPGHOME=$LAB_DIR/gnupg
export GNUPGHOME
PIDFILE=$LAB_DIR/mirror.pid
KEYRING=$LAB_DIR/smith-lab.gpg

# gpg starts an agent for signing; nothing of the lab may outlive `lab down`.
stop_agent() {
  gpgconf --kill all 2>/dev/null || true
}

# The signing key, made once per lab: machines trust it through /usr/share/keyrings/smith-lab.gpg.
ensure_key() {
  if [ ! -s "$KEYRING" ]; then
    rm -rf "$GNUPGHOME"
    mkdir -p "$GNUPGHOME" && chmod 700 "$GNUPGHOME"
    gpg --batch --quiet --passphrase '' --quick-gen-key 'smith lab mirror <lab@smith.invalid>' ed25519 sign never 2>/dev/null
    gpg --batch --export >"$KEYRING.tmp"
    mv "$KEYRING.tmp" "$KEYRING"
  fi
  FPR=$(gpg --batch --with-colons --list-secret-keys | awk -F: '$1 == "fpr" { print $10; exit }')
  stop_agent
  [ -n "$FPR" ] || die "no signing key in $GNUPGHOME; remove $KEYRING and retry"
}

prepare() {
  need_tools aptly gpg dpkg-deb
  mkdir -p "$LAB_DIR" "$WWW"
  ensure_key
  # The demo packages, rebuilt only when their recipe changed.
  stamp=$(sha256sum <"$LAB_SCRIPTS/pkgs.sh" | cut -c1-16)
  if [ "$(cat "$LAB_DIR/debs.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -d "$LAB_DIR/debs/build-1" ]; then
    rm -rf "$LAB_DIR/debs"
    "$LAB_SCRIPTS/pkgs.sh" "$LAB_DIR/debs"
    printf '%s\n' "$stamp" >"$LAB_DIR/debs.stamp"
  fi
  printf '%s\n' "$FPR"
}

start() {
  port=${1:?usage: mirror.sh start PORT}
  if pid_alive "$PIDFILE"; then return 0; fi
  [ -d "$WWW" ] || die "nothing to serve yet; run mirror.sh prepare"
  # Debian's python3, not whatever python3 comes first on PATH.
  py=/usr/bin/python3
  [ -x "$py" ] || py=$(command -v python3) || die "missing tools: python3; run scripts/install-deps.sh"
  setsid "$py" -m http.server --bind 127.0.0.1 --directory "$WWW" "$port" </dev/null >"$LAB_DIR/mirror.log" 2>&1 &
  echo $! >"$PIDFILE"
  i=0
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || die "mirror did not answer on 127.0.0.1:$port; see $LAB_DIR/mirror.log"
    pid_alive "$PIDFILE" || die "mirror exited; see $LAB_DIR/mirror.log"
    sleep 0.1
  done
}

stop() {
  if pid_alive "$PIDFILE"; then
    kill "$(cat "$PIDFILE")"
  fi
  rm -f "$PIDFILE"
  stop_agent
}

case ${1:-} in
  prepare) prepare ;;
  start) shift; start "$@" ;;
  stop) stop ;;
  *) die "usage: mirror.sh prepare | start PORT | stop" ;;
esac
