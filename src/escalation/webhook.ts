import type { EscalationSink, Incident } from "./incident";
import { pagerDutyPayload, slackPayload } from "./payloads";

export type WebhookFormat = "slack" | "pagerduty";

export interface WebhookOptions {
  /** The webhook URL (a Pulumi secret in stack config; never logged). */
  url: string;
  format: WebhookFormat;
  /** PagerDuty Events v2 routing key; required for pagerduty. */
  routingKey?: string;
  /** Per request. Defaults to 10 s. */
  timeoutMs?: number;
}

/** Posts incidents to a Slack-compatible or PagerDuty Events v2 webhook. Errors never echo the URL. */
export class WebhookSink implements EscalationSink {
  readonly name: string;
  constructor(private readonly o: WebhookOptions) {
    if (o.format === "pagerduty" && !o.routingKey) throw new Error("pagerduty escalation needs a routing key (smith:escalationRoutingKey)");
    this.name = `${o.format} webhook`;
  }

  trigger(i: Incident): Promise<void> {
    return this.post(this.o.format === "slack" ? slackPayload(i, "trigger", i.openedAt) : pagerDutyPayload(i, "trigger", this.o.routingKey!));
  }

  resolve(i: Incident, at: string): Promise<void> {
    return this.post(this.o.format === "slack" ? slackPayload(i, "resolve", at) : pagerDutyPayload(i, "resolve", this.o.routingKey!));
  }

  private post(body: Record<string, unknown>): Promise<void> {
    return postJson(this.o.url, body, this.name, this.o.timeoutMs);
  }
}

/** POSTs one JSON body to a webhook; errors name `what`, never the URL (it carries the token). */
export async function postJson(url: string, body: Record<string, unknown>, what: string, timeoutMs = 10_000): Promise<void> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  }).catch((err: Error) => {
    throw new Error(`${what}: request failed: ${err.name === "TimeoutError" ? "timed out" : err.message}`);
  });
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status}`);
}
