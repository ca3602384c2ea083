import { z } from "zod";

/**
 * The agent's JSON lines (agent/README.md). The agent prints exactly one line on stdout; callers
 * parse the LAST one, so a login banner or a stray line from a profile script does not matter.
 */

const nonNegInt = z.number().int().nonnegative();

/**
 * Why a reboot is needed: `reboot-required` (/var/run/reboot-required), `kernel` (the running
 * kernel is older than the newest installed), `deleted-libraries` (processes use replaced code).
 * Unknown words from newer agents pass as strings.
 */
export const RebootReasonSchema = z.string();

export const ChangedPackageSchema = z.object({
  name: z.string(),
  /** null: newly installed. */
  from: z.string().nullable(),
  /** null: removed. */
  to: z.string().nullable(),
});

export const PatchReportSchema = z.object({
  build: z.string(),
  previous: z.string().nullable(),
  noop: z.boolean(),
  changed: z.array(ChangedPackageSchema),
  /** All differences; `changed` lists at most 200. Older agents omit it. */
  changedCount: nonNegInt.optional(),
  rebootRequired: z.boolean(),
  /** Why a reboot is needed (empty when it is not). Older agents omit it. */
  rebootReasons: z.array(RebootReasonSchema).optional(),
  /** `patch --reboot-if-required` scheduled the reboot. Older agents omit it. */
  rebooting: z.boolean().optional(),
  /** Boot id when the patch ran: health's `--boot-id-before` after a reboot. Older agents omit it. */
  bootId: z.string().optional(),
  attempts: nonNegInt,
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: nonNegInt,
});

export const RebootReportSchema = z.object({
  rebooting: z.boolean(),
  bootId: z.string(),
  /** Older agents omit it. */
  reasons: z.array(RebootReasonSchema).optional(),
  /** Seconds until the reboot (the agent raises anything below 2). Older agents omit it. */
  delay: nonNegInt.optional(),
});

export const HealthCheckSchema = z.object({
  name: z.string(),
  ok: z.boolean(),
  detail: z.string(),
});

/**
 * With `--boot-id-before`: `done` (rebooted), `none` (no reboot was scheduled from that boot),
 * `pending` (scheduled, not happened yet: exit 12), `rescheduled` (it was lost; scheduled again: exit 12).
 */
export const HealthRebootSchema = z.enum(["none", "done", "pending", "rescheduled"]);

export const HealthReportSchema = z.object({
  healthy: z.boolean(),
  bootId: z.string(),
  reboot: HealthRebootSchema.optional(),
  checks: z.array(HealthCheckSchema),
  /** The health run's own time on the machine (a machine-side figure for benches). Older agents omit it. */
  durationMs: nonNegInt.optional(),
});

/** What every failing agent run prints (patch adds its own fields). */
export const AgentErrorLineSchema = z
  .object({
    error: z.string(),
    exitCode: z.number().int(),
    /** Packages the failure is about: kept back (exit 8), to be removed (10), failing in apt/dpkg (5). */
    packages: z.array(z.string()).optional(),
  })
  .loose();

/** last-run.json: the last patch line, success or failure. */
export const LastRunSchema = z.union([PatchReportSchema.loose(), AgentErrorLineSchema]);

export const StatusReportSchema = z.object({
  build: z.string().nullable(),
  lastRun: LastRunSchema.nullable(),
  pending: z.array(z.string()),
});

export type ChangedPackage = z.infer<typeof ChangedPackageSchema>;
export type PatchReport = z.infer<typeof PatchReportSchema>;
export type RebootReport = z.infer<typeof RebootReportSchema>;
export type HealthCheck = z.infer<typeof HealthCheckSchema>;
export type HealthReport = z.infer<typeof HealthReportSchema>;
export type HealthReboot = z.infer<typeof HealthRebootSchema>;
export type AgentErrorLine = z.infer<typeof AgentErrorLineSchema>;
export type StatusReport = z.infer<typeof StatusReportSchema>;

/** The agent's output could not be understood (not JSON, wrong shape, or an error line). */
export class AgentReportError extends Error {
  constructor(
    message: string,
    /** The agent's own error line, when it printed one. */
    readonly agentError?: AgentErrorLine,
  ) {
    super(message);
    this.name = "AgentReportError";
  }
}

const MAX_QUOTED = 200;

function excerpt(s: string): string {
  const t = s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED)}…` : s;
  return JSON.stringify(t);
}

/** The last non-blank line of stdout that starts with `{`, parsed. */
export function lastJsonLine(stdout: string, what: string): unknown {
  const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (!line.startsWith("{")) continue;
    try {
      return JSON.parse(line);
    } catch (e) {
      throw new AgentReportError(`${what}: last JSON line of the agent's output is not valid JSON (${(e as Error).message}): ${excerpt(line)}`);
    }
  }
  const shown = lines.length ? `; last line: ${excerpt(lines[lines.length - 1]!)}` : "; output was empty";
  throw new AgentReportError(`${what}: no JSON line in the agent's output${shown}`);
}

/** The agent's error line, if the last JSON line of stdout is one; null otherwise (also for garbage). */
export function parseAgentError(stdout: string): AgentErrorLine | null {
  let value: unknown;
  try {
    value = lastJsonLine(stdout, "agent error");
  } catch {
    return null;
  }
  const r = AgentErrorLineSchema.safeParse(value);
  return r.success ? r.data : null;
}

function parseWith<T>(schema: z.ZodType<T>, what: string, stdout: string): T {
  const value = lastJsonLine(stdout, what);
  const err = AgentErrorLineSchema.safeParse(value);
  if (err.success) {
    throw new AgentReportError(`${what}: agent failed with exit ${err.data.exitCode}: ${err.data.error}`, err.data);
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length ? issue.path.join(".") : "(line)";
    throw new AgentReportError(`${what}: unexpected agent output at ${where}: ${issue.message}`);
  }
  return r.data;
}

export function parsePatchReport(stdout: string): PatchReport {
  return parseWith(PatchReportSchema, "patch report", stdout);
}

export function parseRebootReport(stdout: string): RebootReport {
  return parseWith(RebootReportSchema, "reboot report", stdout);
}

/** Parses a health line, healthy or not: an unhealthy machine still reports its checks (exit 6). */
export function parseHealthReport(stdout: string): HealthReport {
  return parseWith(HealthReportSchema, "health report", stdout);
}

/**
 * What a health run means for the caller: `healthy`, `unhealthy` (exit 6: stop, call a human), or
 * `reboot-pending` (exit 12: the reboot has not happened yet, or was lost and is scheduled again;
 * ask again after a few seconds, within the caller's bound).
 */
export function healthOutcome(report: HealthReport): "healthy" | "unhealthy" | "reboot-pending" {
  if (report.reboot === "pending" || report.reboot === "rescheduled") return "reboot-pending";
  return report.healthy ? "healthy" : "unhealthy";
}

export function parseStatusReport(stdout: string): StatusReport {
  return parseWith(StatusReportSchema, "status report", stdout);
}
