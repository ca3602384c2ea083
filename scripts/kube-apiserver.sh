#!/usr/bin/env bash
# A real, throwaway Kubernetes API server on this machine, for smith's tests and for trying the
# platform stack: etcd + kube-apiserver on 127.0.0.1 only, TLS everywhere on the API side, client
# certificate authentication, RBAC authorization, and a kubeconfig. No kubelet, no scheduler, no
# controller-manager: objects are stored and served, nothing runs (a Deployment gets no pods, a
# Namespace is never finalized). Binaries come from scripts/install-kubernetes.sh.
#
#   scripts/kube-apiserver.sh start [--dir DIR]      start (or report the running one); prints the kubeconfig path
#   scripts/kube-apiserver.sh stop [--dir DIR]       stop both processes (by their recorded PIDs) and remove DIR
#   scripts/kube-apiserver.sh status [--dir DIR]     exit 0 when the API server answers /readyz
#   scripts/kube-apiserver.sh user NAME [GROUP] [--dir DIR]
#                                                    a kubeconfig for user NAME (client cert, optional group):
#                                                    what RBAC then allows it is up to Roles and bindings
# DIR defaults to .smith/kube. Writes DIR/admin.kubeconfig (group system:masters), DIR/env
# (KUBECONFIG=…), DIR/*.pid, DIR/*.log.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$repo/.smith/tools/bin
cmd=${1:-}
[[ -n $cmd ]] && shift
dir=$repo/.smith/kube
args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --dir) dir=$(realpath -m "$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

log() { printf 'kube-apiserver: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

etcd_bin() {
  if [[ -x $bin/etcd ]]; then printf '%s\n' "$bin/etcd"; elif command -v etcd >/dev/null; then command -v etcd; else return 1; fi
}

running() { # NAME: the recorded process is alive
  local pid
  pid=$(cat "$dir/$1.pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

ready() {
  [[ -f $dir/admin.kubeconfig ]] || return 1
  local port
  port=$(cat "$dir/apiserver.port")
  curl -fsS --max-time 2 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" \
    "https://127.0.0.1:$port/readyz" >/dev/null 2>&1
}

# cert NAME SUBJECT [SAN]: a key and a certificate signed by the CA.
cert() {
  local name=$1 subj=$2 san=${3:-}
  local pki=$dir/pki
  openssl req -new -newkey rsa:2048 -nodes -keyout "$pki/$name.key" -out "$pki/$name.csr" -subj "$subj" 2>/dev/null
  if [[ -n $san ]]; then
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" >"$pki/$name.ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' >"$pki/$name.ext"
  fi
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 30 \
    -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

pki() {
  local pki=$dir/pki
  mkdir -p "$pki"
  chmod 700 "$pki"
  [[ -f $pki/ca.crt ]] && return 0
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 30 \
    -subj "/CN=smith-test-ca" 2>/dev/null
  cert apiserver "/CN=kube-apiserver" "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  cert admin "/O=system:masters/CN=smith-admin"
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

# kubeconfig FILE USER: certificates embedded, so the file works from any directory.
kubeconfig() {
  local file=$1 user=$2 port
  port=$(cat "$dir/apiserver.port")
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: smith-test
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(base64 -w0 "$dir/pki/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$dir/pki/$user.crt")
    client-key-data: $(base64 -w0 "$dir/pki/$user.key")
contexts:
- name: smith-test
  context: {cluster: smith-test, user: $user}
current-context: smith-test
EOF
  chmod 600 "$file"
}

start() {
  [[ -x $bin/kube-apiserver ]] || die "no $bin/kube-apiserver: run scripts/install-kubernetes.sh"
  local etcd
  etcd=$(etcd_bin) || die "no etcd: run scripts/install-kubernetes.sh"
  mkdir -p "$dir"
  if running apiserver && ready; then
    log "already running ($dir)"
    printf '%s\n' "$dir/admin.kubeconfig"
    return 0
  fi
  stop_processes
  pki
  local etcd_port peer_port port
  etcd_port=$(free_port)
  peer_port=$(free_port)
  port=$(free_port)
  printf '%s\n' "$port" >"$dir/apiserver.port"

  rm -rf "$dir/etcd"
  # Loopback only; etcd itself is not exposed beyond the API server (plain HTTP on 127.0.0.1).
  setsid "$etcd" --name smith-test --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "smith-test=http://127.0.0.1:$peer_port" \
    >"$dir/etcd.log" 2>&1 </dev/null &
  printf '%s\n' "$!" >"$dir/etcd.pid"

  local i
  for ((i = 0; i < 100; i++)); do
    curl -fsS --max-time 1 "http://127.0.0.1:$etcd_port/health" >/dev/null 2>&1 && break
    running etcd || { tail -n 20 "$dir/etcd.log" >&2; die "etcd exited"; }
    sleep 0.2
  done

  setsid "$bin/kube-apiserver" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$port" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
    --client-ca-file="$dir/pki/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$dir/pki/sa.pub" \
    --service-account-signing-key-file="$dir/pki/sa.key" \
    --authorization-mode=RBAC --anonymous-auth=false \
    --service-cluster-ip-range=10.96.0.0/24 \
    >"$dir/apiserver.log" 2>&1 </dev/null &
  printf '%s\n' "$!" >"$dir/apiserver.pid"
  kubeconfig "$dir/admin.kubeconfig" admin
  printf 'KUBECONFIG=%s\n' "$dir/admin.kubeconfig" >"$dir/env"

  for ((i = 0; i < 600; i++)); do
    if ready; then
      log "ready on https://127.0.0.1:$port (etcd $("$etcd" --version | head -n1 | awk '{print $3}'), $dir)"
      printf '%s\n' "$dir/admin.kubeconfig"
      return 0
    fi
    running apiserver || { tail -n 30 "$dir/apiserver.log" >&2; die "kube-apiserver exited (log: $dir/apiserver.log)"; }
    sleep 0.2
  done
  tail -n 30 "$dir/apiserver.log" >&2
  die "kube-apiserver not ready after 120 s (log: $dir/apiserver.log)"
}

stop_processes() {
  local name pid i
  for name in apiserver etcd; do
    pid=$(cat "$dir/$name.pid" 2>/dev/null) || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$dir/$name.pid"
  done
  return 0
}

case $cmd in
  start) start ;;
  stop)
    stop_processes
    # Only a directory this script made (it has our pki) is removed.
    [[ -d $dir/pki ]] && rm -rf "$dir"
    log "stopped"
    ;;
  status)
    if running apiserver && ready; then log "running: $dir/admin.kubeconfig"; else log "not running"; exit 1; fi
    ;;
  user)
    [[ ${#args[@]} -ge 1 ]] || die "usage: kube-apiserver.sh user NAME [GROUP] [--dir DIR]"
    name=${args[0]}
    [[ $name =~ ^[a-z0-9][a-z0-9.-]*$ ]] || die "user name must be lower-case letters, digits, '.', '-' (got '$name')"
    [[ -f $dir/pki/ca.crt ]] || die "not started: $dir"
    subj="/CN=$name"
    [[ ${#args[@]} -ge 2 ]] && subj="/O=${args[1]}$subj"
    [[ -f $dir/pki/$name.crt ]] || cert "$name" "$subj"
    kubeconfig "$dir/$name.kubeconfig" "$name"
    printf '%s\n' "$dir/$name.kubeconfig"
    ;;
  *) die "usage: kube-apiserver.sh start|stop|status|user NAME [GROUP] [--dir DIR]" ;;
esac
