import { shellQuote } from "./quote";

/** Where the NodePatch component installs the agent on every machine. */
export const AGENT_REMOTE_PATH = "/usr/local/lib/smith/smith-agent";

/** Agent exit codes (see agent/README.md). */
export const AGENT_EXIT = {
  ok: 0,
  usage: 2,
  lockTimeout: 3,
  downgradeRefused: 4,
  aptFailed: 5,
  unhealthy: 6,
  /** Repository unreachable, build missing, signature or Release label wrong, no dedicated keyring. */
  repoUnreachable: 7,
  /** Packages kept back (held, pinned, unmet dependencies): the build is not applied. */
  partialUpgrade: 8,
  /** Not enough free space on /var (archives) or /boot; nothing was downloaded. */
  noSpace: 9,
  /** The upgrade would remove packages and `--allow-remove` was not given. */
  removalRefused: 10,
  /** The installed agent is missing or modified and no copy with the expected sha256 is there (ensureAgentCommand). */
  agentIntegrity: 11,
  /** health: the scheduled reboot has not happened yet (or was lost and is scheduled again): ask again. */
  rebootPending: 12,
} as const;

/** The agent raises any reboot delay below this (a sooner reboot could cut off its answer). */
export const AGENT_MIN_REBOOT_DELAY_SECONDS = 2;

/**
 * The verified copy of the agent a command runs: `sha256` of agent/smith-agent, and where the
 * copy shipped to the machine lies (relative paths are under the SSH user's home, as SFTP puts
 * them; absolute paths as they are).
 */
export interface AgentIntegrity {
  sha256: string;
  copyPath: string;
}

export interface PatchCommandArgs {
  /** Build to pin apt to (`<repoUrl>/builds/<build>`). */
  build: string;
  /** Base URL of the apt repository, without `/builds/…`. */
  repoUrl: string;
  /** Prefix with `sudo -n` (the SSH user is not root). */
  sudo: boolean;
  /** Keyring the build's Release file is signed with, on the machine. Defaults to apt's trusted keys. */
  keyring?: string;
  /** Seconds to wait for the dpkg/apt locks. Defaults to the agent's default (300). */
  lockTimeoutSeconds?: number;
  /** Attempts for transient apt failures. Defaults to the agent's default (3). */
  retries?: number;
  /** Allow going back to an older build (and skip the no-op check). Defaults to false. */
  force?: boolean;
  /** First retry delay in seconds, doubled per retry up to 60. Defaults to the agent's default (5). */
  backoffSeconds?: number;
  /** The agent stops itself after this many seconds (exit 5). Defaults to the agent's default (1800). */
  maxRuntimeSeconds?: number;
  /** Schedule the reboot in the same session when one is needed (saves the reboot session). Defaults to false. */
  rebootIfRequired?: boolean;
  /** Seconds from the answer to the reboot, with `rebootIfRequired` (at least 2). Defaults to the agent's default (5). */
  rebootDelaySeconds?: number;
  /** Let the upgrade remove packages (otherwise exit 10). Defaults to false. */
  allowRemove?: boolean;
  /** MiB that must stay free on /var beyond the download. Defaults to the agent's default (100). */
  minFreeVarMiB?: number;
  /** MiB that must be free on /boot when a kernel package is upgraded. Defaults to the agent's default (50). */
  minFreeBootMiB?: number;
  /** Verify (and reinstall from the copy) the installed agent first. Defaults to running it unverified. */
  agent?: AgentIntegrity;
}

export interface RebootCommandArgs {
  sudo: boolean;
  /** Seconds between the agent exiting and the reboot (at least 2). Defaults to the agent's default (5). */
  delaySeconds?: number;
  /** Verify (and reinstall from the copy) the installed agent first. */
  agent?: AgentIntegrity;
}

export interface HealthCommandArgs {
  /** The machine's inventory role: picks `/etc/smith/health.d/<role>/`. */
  role: string;
  sudo: boolean;
  /** Boot id printed by `reboot-if-required`; when given and a reboot was scheduled, it must differ. */
  bootIdBefore?: string;
  /** Seconds each health check may run. Defaults to the agent's default (30). */
  timeoutSeconds?: number;
  /** Verify (and reinstall from the copy) the installed agent first. */
  agent?: AgentIntegrity;
}

export interface StatusCommandArgs {
  sudo: boolean;
  /** Verify (and reinstall from the copy) the installed agent first. */
  agent?: AgentIntegrity;
}

function nonNegativeInt(what: string, n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer, got ${n}`);
  return String(n);
}

/** A flag followed by its value; only the value comes from outside and gets quoted. */
function opt(flag: string, value: string): string {
  return `${flag} ${shellQuote(value)}`;
}

/** Constant words (path, subcommand, flags) are safe literals; every value arrives pre-quoted in `parts`. */
function render(sudo: boolean, subcommand: string, parts: string[], agent?: AgentIntegrity): string {
  const line = [...(sudo ? ["sudo", "-n"] : []), AGENT_REMOTE_PATH, subcommand, ...parts].join(" ");
  return agent ? `${ensureAgentCommand({ sudo, ...agent })} && ${line}` : line;
}

/**
 * Runs as root before every agent command (`sh -c SCRIPT smith-agent-ensure SHA COPY DEST`):
 * every directory above DEST's must be root-owned, not group/other-writable and not a symlink
 * (else nobody can vouch for what runs); DEST's own directory is made root:root 0755; DEST runs
 * only when it is root:root 0755 with the expected sha256. Otherwise it is reinstalled from the
 * copy, checked AFTER it is in the root-only place (the copy may be the SSH user's file), and
 * moved over DEST. Exit 11 with the agent's error line when neither works.
 */
const ENSURE_SCRIPT = [
  "set -u",
  'sha=$1 src=$2 dst=$3 dir=${3%/*}',
  `fail() { m=$(printf %s "$1" | tr -d '"\\\\'); printf '{"error":"%s","exitCode":${AGENT_EXIT.agentIntegrity}}\\n' "$m"; printf 'smith: %s\\n' "$m" >&2; exit ${AGENT_EXIT.agentIntegrity}; }`,
  'ok() { [ -f "$1" ] && [ ! -L "$1" ] && [ "$(stat -c %u:%g:%a "$1")" = 0:0:755 ] && [ "$(sha256sum <"$1" | cut -c1-64)" = "$sha" ]; }',
  'p=${dir%/*}',
  'while [ -n "$p" ]; do',
  '  { [ ! -L "$p" ] && [ "$(stat -c %u "$p")" = 0 ] && [ $((0$(stat -c %a "$p") & 022)) = 0 ]; } || fail "$p is a symlink or writable by non-root: refusing to run the agent below it"',
  '  p=${p%/*}',
  "done",
  '[ ! -L "$dir" ] || fail "$dir is a symlink: refusing to run the agent from it"',
  'mkdir -p "$dir" && chown 0:0 "$dir" && chmod 0755 "$dir" || fail "cannot make $dir root-only"',
  'ok "$dst" && exit 0',
  '[ -f "$src" ] || fail "agent at $dst is missing or modified and there is no copy at $src: copy the agent again"',
  'if install -o 0 -g 0 -m 0755 "$src" "$dst.new" && ok "$dst.new"; then mv -f "$dst.new" "$dst"; else rm -f "$dst.new"; fail "the copy at $src does not have sha256 $sha"; fi',
  "printf 'smith: agent (re)installed at %s\\n' \"$dst\" >&2",
].join("\n");

/**
 * The command that verifies the installed agent by sha256 and reinstalls it from its copy when it
 * is missing or different. Prefixed to every agent command given `agent`; exits 11 with a JSON
 * error line when the agent cannot be vouched for.
 */
export function ensureAgentCommand(a: AgentIntegrity & { sudo: boolean; installPath?: string }): string {
  if (!/^[0-9a-f]{64}$/.test(a.sha256)) throw new Error(`ensureAgentCommand: not a sha256: ${a.sha256}`);
  if (a.copyPath === "" || a.copyPath.includes("\0")) throw new Error("ensureAgentCommand: empty copyPath");
  // `"$HOME"/…`: the SSH user's shell expands HOME before sudo runs; the rest is a quoted literal.
  const src = a.copyPath.startsWith("/") ? shellQuote(a.copyPath) : `"$HOME"/${shellQuote(a.copyPath)}`;
  return [...(a.sudo ? ["sudo", "-n"] : []), "sh", "-c", shellQuote(ENSURE_SCRIPT), "smith-agent-ensure", shellQuote(a.sha256), src, shellQuote(a.installPath ?? AGENT_REMOTE_PATH)].join(" ");
}

export function patchCommand(a: PatchCommandArgs): string {
  const args = [opt("--build", a.build), opt("--repo", a.repoUrl)];
  if (a.keyring !== undefined) args.push(opt("--keyring", a.keyring));
  if (a.lockTimeoutSeconds !== undefined) args.push(opt("--lock-timeout", nonNegativeInt("lockTimeoutSeconds", a.lockTimeoutSeconds)));
  if (a.retries !== undefined) args.push(opt("--retries", nonNegativeInt("retries", a.retries)));
  if (a.backoffSeconds !== undefined) args.push(opt("--backoff", nonNegativeInt("backoffSeconds", a.backoffSeconds)));
  if (a.maxRuntimeSeconds !== undefined) args.push(opt("--max-runtime", nonNegativeInt("maxRuntimeSeconds", a.maxRuntimeSeconds)));
  if (a.force) args.push("--force");
  if (a.rebootIfRequired) args.push("--reboot-if-required");
  if (a.rebootDelaySeconds !== undefined) args.push(opt("--reboot-delay", nonNegativeInt("rebootDelaySeconds", a.rebootDelaySeconds)));
  if (a.allowRemove) args.push("--allow-remove");
  if (a.minFreeVarMiB !== undefined) args.push(opt("--min-free-var", nonNegativeInt("minFreeVarMiB", a.minFreeVarMiB)));
  if (a.minFreeBootMiB !== undefined) args.push(opt("--min-free-boot", nonNegativeInt("minFreeBootMiB", a.minFreeBootMiB)));
  return render(a.sudo, "patch", args, a.agent);
}

export function rebootCommand(a: RebootCommandArgs): string {
  const args: string[] = [];
  if (a.delaySeconds !== undefined) args.push(opt("--delay", nonNegativeInt("delaySeconds", a.delaySeconds)));
  return render(a.sudo, "reboot-if-required", args, a.agent);
}

export function healthCommand(a: HealthCommandArgs): string {
  const args = [opt("--role", a.role)];
  if (a.bootIdBefore !== undefined) args.push(opt("--boot-id-before", a.bootIdBefore));
  if (a.timeoutSeconds !== undefined) args.push(opt("--timeout", nonNegativeInt("timeoutSeconds", a.timeoutSeconds)));
  return render(a.sudo, "health", args, a.agent);
}

export function statusCommand(a: StatusCommandArgs): string {
  return render(a.sudo, "status", [], a.agent);
}
