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
  repoUnreachable: 7,
} as const;

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
}

export interface RebootCommandArgs {
  sudo: boolean;
  /** Seconds between the agent exiting and the reboot. Defaults to the agent's default (5). */
  delaySeconds?: number;
}

export interface HealthCommandArgs {
  /** The machine's inventory role: picks `/etc/smith/health.d/<role>/`. */
  role: string;
  sudo: boolean;
  /** Boot id printed by `reboot-if-required`; when given and a reboot was scheduled, it must differ. */
  bootIdBefore?: string;
  /** Seconds each health check may run. Defaults to the agent's default (30). */
  timeoutSeconds?: number;
}

export interface StatusCommandArgs {
  sudo: boolean;
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
function render(sudo: boolean, subcommand: string, parts: string[]): string {
  return [...(sudo ? ["sudo", "-n"] : []), AGENT_REMOTE_PATH, subcommand, ...parts].join(" ");
}

export function patchCommand(a: PatchCommandArgs): string {
  const args = [opt("--build", a.build), opt("--repo", a.repoUrl)];
  if (a.keyring !== undefined) args.push(opt("--keyring", a.keyring));
  if (a.lockTimeoutSeconds !== undefined) args.push(opt("--lock-timeout", nonNegativeInt("lockTimeoutSeconds", a.lockTimeoutSeconds)));
  if (a.retries !== undefined) args.push(opt("--retries", nonNegativeInt("retries", a.retries)));
  if (a.backoffSeconds !== undefined) args.push(opt("--backoff", nonNegativeInt("backoffSeconds", a.backoffSeconds)));
  if (a.maxRuntimeSeconds !== undefined) args.push(opt("--max-runtime", nonNegativeInt("maxRuntimeSeconds", a.maxRuntimeSeconds)));
  if (a.force) args.push("--force");
  return render(a.sudo, "patch", args);
}

export function rebootCommand(a: RebootCommandArgs): string {
  const args: string[] = [];
  if (a.delaySeconds !== undefined) args.push(opt("--delay", nonNegativeInt("delaySeconds", a.delaySeconds)));
  return render(a.sudo, "reboot-if-required", args);
}

export function healthCommand(a: HealthCommandArgs): string {
  const args = [opt("--role", a.role)];
  if (a.bootIdBefore !== undefined) args.push(opt("--boot-id-before", a.bootIdBefore));
  if (a.timeoutSeconds !== undefined) args.push(opt("--timeout", nonNegativeInt("timeoutSeconds", a.timeoutSeconds)));
  return render(a.sudo, "health", args);
}

export function statusCommand(a: StatusCommandArgs): string {
  return render(a.sudo, "status", []);
}
