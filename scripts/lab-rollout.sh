#!/usr/bin/env bash
# shellcheck disable=SC2317 # the step functions run through `step "title" fn`, which shellcheck cannot follow
# The main job, one command: patch the whole lab (24 real Debian machines on this host) to a build
# through the real Pulumi engine. Every step is idempotent, so a re-run after a failure or a crash
# picks up where the last one stopped (docs/runbook.md). Needs root (the lab and apt).
#
#   bash scripts/lab-rollout.sh              # the build in Pulumi.lab.yaml (lab up writes "2")
#   bash scripts/lab-rollout.sh --build 3    # sets smith:build first
#   bash scripts/lab-rollout.sh --stack lab-b # another stack over the same lab (its own Pulumi.<stack>.yaml)
#
# Exit status: pulumi up's (non-zero when any node failed; the summary shows which).
# SMITH_EVENT_LOG=FILE: pulumi up also writes its engine events there (bench/lab.bench.ts reads them).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

build=""
stack=lab
usage() { echo "usage: scripts/lab-rollout.sh [--build N] [--stack NAME]" >&2; exit 2; }
while (($#)); do
  case $1 in
    --build) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { echo "lab-rollout: --build needs a positive integer (got '${2:-}')" >&2; exit 2; }; build=$2; shift 2 ;;
    --stack) [[ $# -ge 2 && $2 =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || { echo "lab-rollout: --stack needs a stack name (got '${2:-}')" >&2; exit 2; }; stack=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "lab-rollout: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ $(id -u) == 0 ]] || { echo "lab-rollout: must run as root (the lab's machines and apt need it)" >&2; exit 1; }

started=$(date +%s.%N)
n=0
total=10
secs() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
# step TITLE CMD...: runs one step (a function of this shell, so its variables stay set; `||`
# turns off set -e inside it, hence the explicit `|| return` in the functions below) with its number, title and wall time; stops the script on failure.
step() {
  local title=$1 t rc=0
  shift
  n=$((n + 1))
  printf '\n[%d/%d] %s\n' "$n" "$total" "$title"
  t=$(date +%s.%N)
  "$@" || rc=$?
  if ((rc != 0)); then
    printf '[%d/%d] %s FAILED (exit %d) after %ss\n' "$n" "$total" "$title" "$rc" "$(secs "$t")"
    exit "$rc"
  fi
  printf '[%d/%d] %s: ok, %ss\n' "$n" "$total" "$title" "$(secs "$t")"
}

config_file=$repo/Pulumi.$stack.yaml
key_file=$repo/.smith/lab/id_ed25519

# npm ci only when node_modules is missing or older than the lock file (npm writes
# node_modules/.package-lock.json on every install).
npm_deps() {
  if [[ -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]]; then
    echo "node_modules up to date with package-lock.json"
  else
    npm ci --no-audit --no-fund
  fi
}

toolchain() {
  bash scripts/install-pulumi.sh || return
  # The lab passphrase and backend are for lab stacks (lab, lab-*) only: SMITH_STACK says which.
  export SMITH_STACK=$stack
  # shellcheck source-path=SCRIPTDIR source=pulumi-env.sh
  . scripts/pulumi-env.sh
  local want
  want=$(node -p 'require("./node_modules/@pulumi/command/package.json").version')
  if [[ ! -x $PULUMI_HOME/plugins/resource-command-v$want/pulumi-resource-command ]]; then
    echo "lab-rollout: the command provider plugin $want is not installed (pulumi plugin ls); remote commands cannot run." >&2
    echo "  see docs/pulumi.md ('What cannot be had here') and .smith/tools/STATUS" >&2
    return 1
  fi
  pulumi version
}

lab() { npx --no-install smith lab up; }

select_stack() {
  # --create: the first run makes the stack; the passphrase provider writes its encryptionsalt into
  # Pulumi.<stack>.yaml, which `smith lab up` keeps on later runs (it edits, never replaces).
  if [[ $stack != lab && ! -f $config_file ]]; then
    # Another stack over the same lab starts from the lab's settings (its own salt and secrets).
    grep -vE '^encryptionsalt:|smith:sshPrivateKey:' Pulumi.lab.yaml | sed '/^ *secure:/d' >"$config_file" || return
  fi
  pulumi stack select --create "$stack" || return
  if [[ $stack != lab ]]; then
    # The mirror's port can change between lab runs; lab up only refreshes Pulumi.lab.yaml.
    pulumi config set -s "$stack" smith:repoUrl "$(pulumi config get -s lab smith:repoUrl)" || return
  fi
  echo "stack $stack, config $config_file, backend $PULUMI_BACKEND_URL"
}

# The lab key as a SECRET (encrypted in the stack file); the schema wants exactly one of
# smith:sshPrivateKey and smith:sshPrivateKeyPath, so the path `lab up` wrote goes.
configure() {
  [[ -f $key_file ]] || { echo "lab-rollout: $key_file missing (lab up makes it)" >&2; return 1; }
  local current
  current=$(pulumi config get -s "$stack" smith:sshPrivateKey 2>/dev/null || true)
  if [[ $current == "$(cat "$key_file")" ]]; then
    echo "smith:sshPrivateKey: already the lab key (secret)"
  else
    pulumi config set -s "$stack" --secret smith:sshPrivateKey <"$key_file" || return
    echo "smith:sshPrivateKey: set from $key_file (secret)"
  fi
  if pulumi config get -s "$stack" smith:sshPrivateKeyPath >/dev/null 2>&1; then
    pulumi config rm -s "$stack" smith:sshPrivateKeyPath || return
    echo "smith:sshPrivateKeyPath: removed (the secret replaces it)"
  fi
  if [[ -n $build ]]; then pulumi config set -s "$stack" smith:build "$build" || return; fi
  build=$(pulumi config get -s "$stack" smith:build) || return
  echo "smith:build = $build"
}

preview() { pulumi preview -s "$stack" --non-interactive; }

up_rc=0
up() {
  # --skip-preview: the previous step previewed the same program and config.
  # --continue-on-error: a failed node stops only its own cluster; other clusters go on.
  local events=()
  # --event-log exists only with PULUMI_DEBUG_COMMANDS set.
  [[ -n ${SMITH_EVENT_LOG:-} ]] && events=(--event-log "$SMITH_EVENT_LOG") && export PULUMI_DEBUG_COMMANDS=true
  pulumi up -s "$stack" --yes --non-interactive --skip-preview --continue-on-error "${events[@]}" || up_rc=$?
  echo "pulumi up exit status: $up_rc"
}

# Per node, from the state (not the `nodes` output: a failed update leaves the previous outputs):
# the build each machine's patch reported, whether it rebooted, and when the patch finished.
summary() {
  local dir
  dir=$(mktemp -d) || return
  pulumi stack export -s "$stack" --file "$dir/state.json" || return
  # What the machines themselves say (their /var/lib/smith/build), next to what the state says.
  npx --no-install smith lab status --json >"$dir/lab.json" || return
  node - "$dir/state.json" "$dir/lab.json" "$build" <<'EOF'
const fs = require("fs");
const [file, labFile, build] = process.argv.slice(2);
const resources = JSON.parse(fs.readFileSync(file, "utf8")).deployment.resources ?? [];
const onMachine = new Map(JSON.parse(fs.readFileSync(labFile, "utf8")).machines.map((m) => [m.name, m.build ?? "-"]));
const last = (s) => { const l = String(s ?? "").trim().split("\n").filter((x) => x.startsWith("{")).pop(); try { return l ? JSON.parse(l) : {}; } catch { return {}; } };
const nodes = new Map();
for (const r of resources) {
  if (r.type !== "command:remote:Command") continue;
  const m = /::([^:]+)-(patch|reboot|health)$/.exec(r.urn);
  if (!m) continue;
  const n = nodes.get(m[1]) ?? {};
  n[m[2]] = last(r.outputs?.stdout);
  nodes.set(m[1], n);
}
const rows = [...new Set([...nodes.keys(), ...onMachine.keys()])].sort().map((name) => {
  const n = nodes.get(name) ?? {};
  const p = n.patch ?? {};
  const actual = onMachine.get(name) ?? "-";
  return [name, p.build ?? "-", actual, n.reboot ? String(n.reboot.rebooting === true) : "-", n.health ? String(n.health.healthy === true) : "-",
    p.finishedAt ?? "-", p.durationMs !== undefined ? (p.durationMs / 1000).toFixed(1) : "-", actual === build && p.build === build ? "" : "NOT AT TARGET"];
});
const head = ["machine", "build", "on machine", "rebooted", "healthy", "finishedAt", "patch s", ""];
const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd();
console.log(line(head));
for (const r of rows) console.log(line(r));
const at = rows.filter((r) => r[7] === "").length;
console.log(`${at}/${rows.length} machines at build ${build}`);
if (rows.some((r) => r[1] !== "-" && r[1] !== r[2])) {
  console.log("the state and the machines disagree: was the lab recreated (smith lab down/up) after the last update?");
  console.log("  see docs/runbook.md, 'The lab was recreated'");
}
EOF
  rm -rf "$dir"
}

step "Debian packages (scripts/install-deps.sh)" bash scripts/install-deps.sh
step "npm dependencies" npm_deps
# Not through `step`: sourcing pulumi-env.sh must change THIS shell's environment.
n=$((n + 1)); t=$(date +%s.%N); printf '\n[%d/%d] Pulumi toolchain (scripts/install-pulumi.sh, pulumi-env.sh)\n' "$n" "$total"
toolchain || { printf '[%d/%d] Pulumi toolchain FAILED after %ss\n' "$n" "$total" "$(secs "$t")"; exit 1; }
printf '[%d/%d] Pulumi toolchain: ok, %ss\n' "$n" "$total" "$(secs "$t")"
step "lab machines (smith lab up)" lab
step "stack $stack (pulumi stack select --create)" select_stack
step "stack config (lab key as a secret, build)" configure
step "pulumi preview -s $stack" preview
step "pulumi up -s $stack (build $build)" up
step "summary" summary
n=$((n + 1))
if ((up_rc == 0)); then
  printf '\n[%d/%d] done in %ss: build %s on stack %s, pulumi up exit status 0\n' "$n" "$total" "$(secs "$started")" "$build" "$stack"
else
  printf '\n[%d/%d] FAILED after %ss: pulumi up exit status %d; machines not at build %s are listed above.\n' "$n" "$total" "$(secs "$started")" "$up_rc" "$build"
  printf '    fix the cause (the error names the machine), then run this again: finished nodes are no-ops.\n'
fi
exit "$up_rc"
