import { UserError } from "../errors";
import { postJson, WebhookFormat } from "../escalation/webhook";
import type { MachineCompliance } from "./evaluate";
import type { ComplianceReport } from "./render";

/**
 * `smith compliance --fail-on` and `--alert`: which result fails the run, and one message to the
 * escalation webhook (env SMITH_ESCALATION_WEBHOOK, as the platform's jobs get it) when it does.
 */

export const FAIL_ON = ["overdue", "due-soon"] as const;
export type FailOn = (typeof FAIL_ON)[number];

/** due-soon: the report's own code (0/1/2); overdue: "due soon" passes (0), overdue or unknown is 2. */
export function failOnExitCode(code: 0 | 1 | 2, failOn: FailOn): 0 | 1 | 2 {
  return failOn === "overdue" && code === 1 ? 0 : code;
}

export interface AlertTarget {
  url: string;
  format: WebhookFormat;
  routingKey?: string;
}

/** The webhook from the environment; a one-line UserError when --alert cannot work. Never echoes the URL. */
export function alertTarget(env: NodeJS.ProcessEnv): AlertTarget {
  const url = env.SMITH_ESCALATION_WEBHOOK?.trim();
  if (!url) throw new UserError("flag --alert: env SMITH_ESCALATION_WEBHOOK is not set (the escalation webhook URL)");
  const format = env.SMITH_ESCALATION_FORMAT?.trim() || "slack";
  if (format !== "slack" && format !== "pagerduty") throw new UserError(`flag --alert: env SMITH_ESCALATION_FORMAT must be slack or pagerduty (got ${JSON.stringify(format)})`);
  const routingKey = env.SMITH_ESCALATION_ROUTING_KEY?.trim() || undefined;
  if (format === "pagerduty" && !routingKey) throw new UserError("flag --alert: env SMITH_ESCALATION_ROUTING_KEY is not set (SMITH_ESCALATION_FORMAT=pagerduty needs it)");
  return { url, format, routingKey };
}

/** Machines listed by name in an alert; the rest are counted. */
export const ALERT_LISTED = 10;

function listed(rows: readonly MachineCompliance[]): string {
  const names = rows.slice(0, ALERT_LISTED).map((r) => `${r.stack}/${r.machine}${r.due ? ` (due ${r.due.slice(0, 10)})` : ""}`);
  return `${names.join(", ")}${rows.length > ALERT_LISTED ? `, … ${rows.length - ALERT_LISTED} more` : ""}`;
}

/** The alert's text: counts, then the first machines overdue or unknown, then due soon (managed machines only). */
export function alertSummary(r: ComplianceReport, failOn: FailOn): { title: string; lines: string[] } {
  const managed = r.machines.filter((m) => m.inInventory);
  const overdue = managed.filter((m) => m.status === "overdue");
  const unknown = managed.filter((m) => m.status === "unknown");
  const dueSoon = managed.filter((m) => m.status === "due-soon");
  const counts = `${overdue.length} overdue, ${unknown.length} unknown, ${dueSoon.length} due within ${r.policy.dueSoonDays} days of ${managed.length} machines`;
  const title = `smith compliance (${failOn === "overdue" ? "overdue" : "due soon"}): ${counts} in ${r.stacks.join(", ")}`;
  const lines = [
    ...(overdue.length ? [`overdue: ${listed(overdue)}`] : []),
    ...(unknown.length ? [`unknown: ${listed(unknown)}`] : []),
    ...(dueSoon.length && failOn === "due-soon" ? [`due soon: ${listed(dueSoon)}`] : []),
    `newest build ${r.newest ?? "none"}; generated ${r.generatedAt}`,
  ];
  return { title, lines };
}

/** One POST: a Slack-compatible message, or a PagerDuty Events v2 trigger (one dedup key per check and day). */
export async function sendComplianceAlert(t: AlertTarget, r: ComplianceReport, failOn: FailOn): Promise<void> {
  const { title, lines } = alertSummary(r, failOn);
  const body: Record<string, unknown> =
    t.format === "slack"
      ? { text: `:rotating_light: ${title}\n${lines.join("\n")}` }
      : {
          routing_key: t.routingKey,
          event_action: "trigger",
          dedup_key: `smith-compliance/${failOn}/${r.generatedAt.slice(0, 10)}`,
          payload: {
            summary: title.slice(0, 1024),
            source: "smith compliance",
            severity: r.exitCode >= 2 ? "error" : "warning",
            timestamp: r.generatedAt,
            group: r.stacks.join(","),
            class: `smith-compliance-${failOn}`,
            custom_details: { lines, stacks: r.stacks, newest: r.newest, exit_code: r.exitCode },
          },
        };
  try {
    await postJson(t.url, body, `${t.format} webhook`);
  } catch (err) {
    throw new UserError(`flag --alert: ${(err as Error).message}`);
  }
}
