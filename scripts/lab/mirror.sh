#!/bin/sh
# The lab's apt mirror: smith builds published with aptly, served over HTTP on loopback.
#   mirror.sh build        demo packages -> aptly repos -> snapshots build-N -> LAB/www/builds/N (signed)
#   mirror.sh start PORT   serve LAB/www on http://127.0.0.1:PORT/ (detached, pid file)
#   mirror.sh stop
set -eu
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname -- "$0")/common.sh"

WWW=$LAB_DIR/www
GNUPGHOME=$LAB_DIR/gnupg
export GNUPGHOME
CONF=$LAB_DIR/aptly.conf
PIDFILE=$LAB_DIR/mirror.pid
KEYRING=$LAB_DIR/smith-lab.gpg
BUILDS="1 2 3"

aptly_() { aptly -config="$CONF" "$@"; }

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

build() {
  need_tools aptly gpg dpkg-deb
  mkdir -p "$LAB_DIR"
  # Rebuild only when the package recipes changed: publishing is the slow part of `lab up`.
  stamp=$(cat "$LAB_SCRIPTS/pkgs.sh" "$LAB_SCRIPTS/mirror.sh" | sha256sum | cut -c1-16)
  ensure_key
  if [ "$(cat "$LAB_DIR/mirror.stamp" 2>/dev/null)" = "$stamp" ] && [ -f "$WWW/builds/3/dists/smith/InRelease" ]; then
    return 0
  fi
  rm -rf "$LAB_DIR/aptly" "$WWW" "$LAB_DIR/debs"
  "$LAB_SCRIPTS/pkgs.sh" "$LAB_DIR/debs"
  cat >"$CONF" <<JSON
{
  "rootDir": "$LAB_DIR/aptly",
  "architectures": ["amd64"],
  "gpgProvider": "gpg2",
  "FileSystemPublishEndpoints": { "lab": { "rootDir": "$WWW", "linkMethod": "copy" } }
}
JSON
  for n in $BUILDS; do
    aptly_ repo create -distribution=smith -component=main "smith-build-$n" >/dev/null
    aptly_ repo add "smith-build-$n" "$LAB_DIR/debs/build-$n" >/dev/null
    aptly_ snapshot create "build-$n" from repo "smith-build-$n" >/dev/null
    # Contract 1 (CONTRACTS.md): the Release names the build, and agents refuse any other label.
    aptly_ publish snapshot -distribution=smith -component=main -architectures=amd64 \
      -origin=smith -label="smith-build-$n" \
      -gpg-key="$FPR" -batch "build-$n" "filesystem:lab:builds/$n" >/dev/null
  done
  printf '%s\n' "$stamp" >"$LAB_DIR/mirror.stamp"
  stop_agent
  log "mirror: builds $BUILDS published in $WWW"
}

start() {
  port=${1:?usage: mirror.sh start PORT}
  if pid_alive "$PIDFILE"; then return 0; fi
  [ -d "$WWW/builds" ] || die "nothing published yet; run mirror.sh build"
  # Debian's python3, not whatever python3 comes first on PATH.
  py=/usr/bin/python3
  [ -x "$py" ] || py=$(command -v python3) || die "missing tools: python3; run scripts/install-deps.sh"
  setsid "$py" -m http.server --bind 127.0.0.1 --directory "$WWW" "$port" </dev/null >"$LAB_DIR/mirror.log" 2>&1 &
  echo $! >"$PIDFILE"
  i=0
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/builds/1/dists/smith/InRelease" 2>/dev/null; do
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
  build) build ;;
  start) shift; start "$@" ;;
  stop) stop ;;
  *) die "usage: mirror.sh build | start PORT | stop" ;;
esac
