import { AGENT_REMOTE_PATH, healthCommand, patchCommand, rebootCommand } from "../../src/agent/command";
import { shellQuote } from "../../src/agent/quote";

/**
 * The command lines NodePatch runs on a machine, and the small decisions around them. Pure:
 * everything here is tested without Pulumi.
 */

/**
 * Where `remote.CopyToRemote` puts the agent: a file in the SSH user's home (SFTP paths are
 * relative to it) named after the agent's sha256. Content-addressed, so a new agent is a new
 * file and an unchanged one is never copied again. The home directory, not /tmp, because the
 * file must survive the reboot for the next build's install; not AGENT_REMOTE_PATH directly,
 * because SFTP runs as the SSH user (not root under sudo) and cannot set the executable bit.
 */
export function agentCopyPath(sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`agentCopyPath: not a sha256: ${sha256}`);
  return `.smith-agent-${sha256.slice(0, 16)}`;
}

/** Non-root SSH users run the agent with `sudo -n` (never prompts; fails fast without rights). */
export function needsSudo(user: string): boolean {
  return user !== "root";
}

/**
 * Installs the copied agent at AGENT_REMOTE_PATH (root-owned, 0755) and runs `patch`: the copy
 * is the user's file, the installed agent is what reboot/health/status run. Reinstalling on
 * every patch run is cheap and makes a half-finished earlier install irrelevant.
 */
export function nodePatchCommand(a: { build: string; repoUrl: string; user: string; agentSha256: string }): string {
  const sudo = needsSudo(a.user);
  const install = [
    ...(sudo ? ["sudo", "-n"] : []),
    "install",
    "-D",
    "-m",
    "0755",
    // `"$HOME"/…`: the user's shell expands HOME before sudo runs; the rest is a quoted literal.
    `"$HOME"/${shellQuote(agentCopyPath(a.agentSha256))}`,
    shellQuote(AGENT_REMOTE_PATH),
  ].join(" ");
  return `${install} && ${patchCommand({ build: a.build, repoUrl: a.repoUrl, sudo })}`;
}

export function nodeRebootCommand(a: { user: string; delaySeconds?: number }): string {
  return rebootCommand({ sudo: needsSudo(a.user), delaySeconds: a.delaySeconds });
}

/** The reboot command's JSON line, as far as health needs it. */
export interface RebootOutcome {
  rebooting: boolean;
  bootId: string;
}

/**
 * The healthcheck: when the agent scheduled a reboot, its pre-reboot boot id goes along so
 * health proves the machine really restarted; without a reboot there is nothing to compare.
 */
export function nodeHealthCommand(a: { role: string; user: string; reboot: RebootOutcome | undefined }): string {
  return healthCommand({
    role: a.role,
    sudo: needsSudo(a.user),
    bootIdBefore: a.reboot?.rebooting ? a.reboot.bootId : undefined,
  });
}

/**
 * How long to wait, locally, before the healthcheck dials a machine whose reboot was scheduled
 * in THIS update. The agent reboots `delaySeconds` after answering; a healthcheck that connects
 * before that sees the old boot id and fails (and a session open during the reboot is cut).
 * Waiting the delay plus a margin for shutdown means the dial finds the machine down and keeps
 * retrying (`dialErrorLimit: -1`) until it is back.
 *
 * `fresh` is false when the reboot result is the one stored by an earlier update (an unchanged
 * node): then nothing is rebooting now and waiting would only slow every no-op run.
 */
export function healthDialDelayMs(a: { rebooting: boolean; fresh: boolean; delaySeconds?: number; dryRun: boolean }): number {
  if (!a.rebooting || !a.fresh || a.dryRun) return 0;
  return ((a.delaySeconds ?? DEFAULT_REBOOT_DELAY_SECONDS) + SHUTDOWN_MARGIN_SECONDS) * 1000;
}

/**
 * Whether a patch report comes from a run in THIS update: it differs from what the previous
 * update recorded, and it finished after this program started (less `skewMs` for the machine's
 * clock). The second test keeps old results of a failed or killed update (not in the outputs)
 * from causing waits; a machine clock more than `skewMs` behind only costs a healthcheck that
 * fails once and passes on the next `up`.
 */
export function isFreshPatch(a: { finishedAt: string | null; previousFinishedAt?: string; programStartedAt: Date; skewMs?: number }): boolean {
  if (a.finishedAt === null || a.finishedAt === (a.previousFinishedAt ?? null)) return false;
  const t = Date.parse(a.finishedAt);
  return Number.isNaN(t) || t >= a.programStartedAt.getTime() - (a.skewMs ?? CLOCK_SKEW_MS);
}

/** Tolerated difference between a machine's clock and the deployer's. */
export const CLOCK_SKEW_MS = 10 * 60_000;

/** The agent's default `--delay` (agent/smith-agent). */
export const DEFAULT_REBOOT_DELAY_SECONDS = 5;
/** Time for sshd to stop accepting connections once the reboot starts. */
export const SHUTDOWN_MARGIN_SECONDS = 5;
