# shellcheck shell=sh
# Source me: `SMITH_STACK=lab . scripts/pulumi-env.sh`. Points this shell at smith's Pulumi
# toolchain (.smith/tools, built by scripts/install-pulumi.sh) and its offline defaults. The lab
# conveniences -- the public lab passphrase and the checkout-local file backend -- are set only
# when SMITH_STACK names a lab stack (`lab` or `lab-*`, contract 3) and the caller set no
# passphrase (file) or backend of its own. Any other stack brings its own backend and secrets
# provider (docs/pulumi.md); the program refuses the lab passphrase for it. src/pulumi/env.ts is
# the same for Node; keep the two in step.

# Where this file is: bash and zsh say; plain sh does not, so there run it from the repo root.
if [ -n "${BASH_SOURCE:-}" ]; then
  smith_repo=$(cd "$(dirname "$BASH_SOURCE")/.." && pwd)
elif [ -n "${ZSH_VERSION:-}" ]; then
  smith_repo=$(cd "$(dirname "$0")/.." && pwd)
else
  smith_repo=$PWD
fi

case ":$PATH:" in
  *":$smith_repo/.smith/tools/bin:"*) ;;
  *) export PATH="$smith_repo/.smith/tools/bin:$PATH" ;;
esac
# Plugins (the command provider) and credentials stay inside the project, not in ~/.pulumi.
export PULUMI_HOME="$smith_repo/.smith/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
# Offline: the engine must use the installed plugins, never try to download one.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Type errors are caught once by `npm run typecheck`; ts-node only transpiles the program.
export PULUMI_NODEJS_TRANSPILE_ONLY=true
# Every cluster of a wave patches at once: Pulumi's default (4 x cores) would batch them
# (src/pulumi/env.ts DEFAULT_PARALLEL). `pulumi up --parallel N` still wins.
export PULUMI_PARALLEL="${PULUMI_PARALLEL:-512}"
case "${SMITH_STACK:-}" in
  lab | lab-*)
    # Lab stacks: the local file backend in the project (Pulumi Cloud is never the default) and
    # the passphrase of the LOCAL LAB STACKS ONLY (it encrypts the lab's throwaway SSH key in
    # .smith/state). It is public by design: never use it for a stack that manages real machines.
    export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$smith_repo/.smith/state}"
    if [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
      export PULUMI_CONFIG_PASSPHRASE=smith-lab-local-only
    fi
    ;;
  *)
    if [ -z "${PULUMI_BACKEND_URL:-}" ] || { [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; }; then
      echo "pulumi-env.sh: stack '${SMITH_STACK:-}' is not a lab stack: set PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE_FILE (or a KMS secrets provider) yourself; for the lab: SMITH_STACK=lab . scripts/pulumi-env.sh" >&2
    fi
    ;;
esac
unset smith_repo
