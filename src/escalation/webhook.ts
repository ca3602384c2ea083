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

  private async post(body: Record<string, unknown>): Promise<void> {
    const res = await fetch(this.o.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
    }).catch((err: Error) => {
      throw new Error(`${this.name}: request failed: ${err.name === "TimeoutError" ? "timed out" : err.message}`);
    });
    if (!res.ok) throw new Error(`${this.name}: HTTP ${res.status}`);
  }
}
