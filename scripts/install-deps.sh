#!/usr/bin/env bash
# Installs the Debian packages smith's tests and lab need, only those missing (so a re-run is
# instant and runs no apt at all). Needs root. Add a package to `packages` with a word on why.
set -euo pipefail

packages=(
  openssh-server # sshd for the engine test (test/support/sshd.ts) and the lab machines
  debootstrap    # builds the lab's root filesystem
  aptly          # smith build: upstream mirrors, snapshots, signed publishing (and the lab's upstream)
  apt-utils      # apt-ftparchive, used around the lab's repositories
  gnupg          # signs and verifies the lab's apt repositories
  shellcheck     # lints every *.sh
  dpkg-dev       # dpkg-deb and friends, to build test packages
  curl           # the official Pulumi installer's path in scripts/install-pulumi.sh
  python3-venv   # the venv scripts/install-s3-server.sh puts moto's S3 server in (builds tests)
  etcd-server    # etcd 3.4 under the test kube-apiserver (scripts/kube-apiserver.sh); installs no running service here
  openssl        # the test API server's CA and certificates (scripts/kube-apiserver.sh)
  buildah        # builds the smith image offline, no daemon (scripts/build-image.sh, test/integration/image.test.ts)
)

started=$(date +%s)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} Debian packages present; took $(($(date +%s) - started))s"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing openssh-server would start a system sshd on port 22 where no policy forbids starting
# services (container images ship one that does). Tests start their own sshd; forbid it meanwhile.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
# --no-install-recommends: the lab and tests need the programs, not their suggested extras.
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${#missing[@]} package(s); took $(($(date +%s) - started))s"
