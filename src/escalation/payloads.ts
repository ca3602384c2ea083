import type { Incident } from "./incident";

/**
 * Webhook payloads. Slack: an incoming-webhook message (`text` plus a code block of the log
 * tail). PagerDuty: an Events API v2 event whose `dedup_key` is the incident key, so PagerDuty
 * itself folds any repeat into the same alert and a `resolve` closes it.
 */

function title(i: Incident): string {
  return `smith: ${i.machine} failed ${i.step} of build ${i.build} (stack ${i.stack}, stage ${i.stage}, wave ${i.wave}, cluster ${i.cluster})`;
}

/** Slack shows every message: a repeat (an earlier send's outcome is unknown) says so. */
const REPEAT = " (possible repeat: an earlier send of this got no answer)";

export function slackPayload(i: Incident, action: "trigger" | "resolve", at: string, repeat = false): Record<string, unknown> {
  const again = repeat ? REPEAT : "";
  if (action === "resolve") {
    return { text: `:white_check_mark: RESOLVED ${i.key}: ${i.machine} is at build ${i.build} and healthy (${at})${again}` };
  }
  const tail = i.logTail.length ? `\n\`\`\`\n${i.logTail.join("\n")}\n\`\`\`` : "";
  return {
    text: `:rotating_light: ${title(i)} after ${i.attempts} attempt(s): ${i.error}${again}${tail}`,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `:rotating_light: *${title(i)}*\n${i.error}` } },
      ...(i.logTail.length ? [{ type: "section", text: { type: "mrkdwn", text: `\`\`\`\n${i.logTail.join("\n")}\n\`\`\`` } }] : []),
      { type: "context", elements: [{ type: "mrkdwn", text: `incident ${i.key} · attempts ${i.attempts} · since ${i.openedAt}${again}` }] },
    ],
  };
}

export function pagerDutyPayload(i: Incident, action: "trigger" | "resolve", routingKey: string): Record<string, unknown> {
  const base = { routing_key: routingKey, dedup_key: i.key, event_action: action };
  if (action === "resolve") return base;
  return {
    ...base,
    payload: {
      summary: title(i).slice(0, 1024),
      source: i.machine,
      severity: "error",
      timestamp: i.openedAt,
      component: i.cluster,
      group: i.stack,
      class: `smith-${i.step}`,
      custom_details: { stage: i.stage, wave: i.wave, build: i.build, step: i.step, error: i.error, attempts: i.attempts, log_tail: i.logTail },
    },
  };
}
