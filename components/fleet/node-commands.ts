import * as crypto from "crypto";
import { AGENT_MIN_REBOOT_DELAY_SECONDS, healthCommand, patchCommand } from "../../src/agent/command";

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

export interface NodePatchCommandArgs {
  build: string;
  repoUrl: string;
  user: string;
  agentSha256: string;
  /** The agent's own bound on `patch` (`--max-runtime`), seconds. Defaults to the agent's (1800). */
  maxRuntimeSeconds?: number;
  /** `--reboot-delay` of the reboot the patch step schedules. Defaults to the agent's (5; at least 2). */
  rebootDelaySeconds?: number;
}

/**
 * The whole first half of a node in ONE command (one SSH session, one resource): verify the
 * installed agent by sha256 (reinstalling it from the copy when it is missing or different,
 * exit 11 when it cannot: src/agent/command.ts's prelude), patch, and schedule the reboot when
 * the machine needs one (`--reboot-if-required`). stdout is the agent's patch JSON line, with
 * `rebooting` and `bootId` (contract 4: audit reads `<node>-patch`).
 */
export function nodePatchCommand(a: NodePatchCommandArgs): string {
  return patchCommand({
    build: a.build,
    repoUrl: a.repoUrl,
    sudo: needsSudo(a.user),
    maxRuntimeSeconds: a.maxRuntimeSeconds,
    rebootIfRequired: true,
    rebootDelaySeconds: a.rebootDelaySeconds,
    agent: { sha256: a.agentSha256, copyPath: agentCopyPath(a.agentSha256) },
  });
}

/** What health needs to know about the reboot the patch step scheduled. */
export interface RebootOutcome {
  rebooting: boolean;
  bootId: string;
}

/**
 * The healthcheck: when the patch step scheduled a reboot, its pre-reboot boot id goes along so
 * health proves the machine really restarted; without a reboot there is nothing to compare.
 * With `agentSha256` the agent is verified (and reinstalled from its copy) before it runs, as
 * before every use (issue 7 §3).
 */
export function nodeHealthCommand(a: { role: string; user: string; reboot: RebootOutcome | undefined; agentSha256?: string }): string {
  return healthCommand({
    role: a.role,
    sudo: needsSudo(a.user),
    bootIdBefore: a.reboot?.rebooting ? a.reboot.bootId : undefined,
    ...(a.agentSha256 ? { agent: { sha256: a.agentSha256, copyPath: agentCopyPath(a.agentSha256) } } : {}),
  });
}

/** The command the reboot probe runs: world-readable, no agent, no sudo (any SSH server answers it). */
export const BOOT_ID_COMMAND = "cat /proc/sys/kernel/random/boot_id";

/**
 * How long after the patch step answered the program starts probing for the new boot: the
 * agent reboots `delaySeconds` after answering, so earlier probes would only find the old boot.
 * Zero when nothing is rebooting now (no reboot, a stored result of an earlier update, preview).
 * Undefined = do not probe at all.
 */
export function rebootProbeDelayMs(a: { rebooting: boolean; fresh: boolean; delaySeconds?: number; dryRun: boolean }): number | undefined {
  if (!a.rebooting || !a.fresh || a.dryRun) return undefined;
  return Math.max(AGENT_MIN_REBOOT_DELAY_SECONDS, a.delaySeconds ?? DEFAULT_REBOOT_DELAY_SECONDS) * 1000;
}

/**
 * Whether a patch report comes from a run in THIS update: it differs from what the previous
 * update recorded, and it finished after this program started (less `skewMs` for the machine's
 * clock). The second test keeps old results of a failed or killed update (not in the outputs)
 * from causing probes; a machine clock more than `skewMs` behind only costs a healthcheck that
 * fails once and passes on the next `up`.
 */
export function isFreshPatch(a: { finishedAt: string | null; previousFinishedAt?: string; programStartedAt: Date; skewMs?: number }): boolean {
  if (a.finishedAt === null || a.finishedAt === (a.previousFinishedAt ?? null)) return false;
  const t = Date.parse(a.finishedAt);
  return Number.isNaN(t) || t >= a.programStartedAt.getTime() - (a.skewMs ?? CLOCK_SKEW_MS);
}

/** OpenSSH's fingerprint of an authorized_keys-format key line (`SHA256:…`), or "none". */
export function hostKeyFingerprint(line: string | undefined): string {
  if (!line) return "none";
  const b64 = line.trim().split(/\s+/)[1] ?? "";
  return `SHA256:${crypto.createHash("sha256").update(Buffer.from(b64, "base64")).digest("base64").replace(/=+$/, "")}`;
}

/**
 * Everything that makes a node's commands run differently, as one short digest. It goes into
 * the triggers of every resource of the node's chain (with the build), so changing ANY of these
 * replaces the node's chain in order — copy, patch (+reboot), health — one machine per cluster,
 * instead of updating one step on every machine at once (issue 7 §4). The host key is in it: a
 * machine reinstalled under the same name is a new machine and is patched again (issue 9 §9).
 */
export function chainRevision(a: {
  repoUrl: string;
  user: string;
  host: string;
  port: number;
  role: string;
  agentSha256: string;
  rebootDelaySeconds?: number;
  maxRuntimeSeconds?: number;
  hostKeyFingerprint: string;
}): string {
  const fields = [
    `repo=${a.repoUrl}`,
    `user=${a.user}`,
    `addr=${a.host}:${a.port}`,
    `role=${a.role}`,
    `agent=${a.agentSha256}`,
    `reboot-delay=${a.rebootDelaySeconds ?? "default"}`,
    `max-runtime=${a.maxRuntimeSeconds ?? "default"}`,
    `hostkey=${a.hostKeyFingerprint}`,
  ];
  return crypto.createHash("sha256").update(fields.join("\n")).digest("hex").slice(0, 16);
}

/** Tolerated difference between a machine's clock and the deployer's. */
export const CLOCK_SKEW_MS = 10 * 60_000;

/** The agent's default `--delay` (agent/smith-agent). */
export const DEFAULT_REBOOT_DELAY_SECONDS = 5;
/** Without a new boot this long after the reboot was due, the prober asks the agent's health once (it re-queues a lost reboot). */
export const REBOOT_NUDGE_AFTER_MS = 30_000;
/** Pulumi's bound on the patch step beyond the agent's own `--max-runtime`: Pulumi never stops apt first. */
export const PATCH_TIMEOUT_MARGIN_MINUTES = 5;
