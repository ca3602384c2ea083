import { DeliveryUnknown, EscalationSink, Incident, SendOptions } from "./incident";
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
  /** PagerDuty folds events with the same `dedup_key`; Slack shows every message. */
  readonly dedupes: boolean;
  constructor(private readonly o: WebhookOptions) {
    if (o.format === "pagerduty" && !o.routingKey) throw new Error("pagerduty escalation needs a routing key (smith:escalationRoutingKey)");
    this.name = `${o.format} webhook`;
    this.dedupes = o.format === "pagerduty";
  }

  trigger(i: Incident, s: SendOptions = {}): Promise<void> {
    return this.post(this.o.format === "slack" ? slackPayload(i, "trigger", i.openedAt, !!s.repeat) : pagerDutyPayload(i, "trigger", this.o.routingKey!));
  }

  resolve(i: Incident, at: string, s: SendOptions = {}): Promise<void> {
    return this.post(this.o.format === "slack" ? slackPayload(i, "resolve", at, !!s.repeat) : pagerDutyPayload(i, "resolve", this.o.routingKey!));
  }

  private post(body: Record<string, unknown>): Promise<void> {
    return postJson(this.o.url, body, this.name, this.o.timeoutMs);
  }
}

/** Connection errors that prove the request never reached the receiver. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/**
 * POSTs one JSON body to a webhook; errors name `what`, never the URL (it carries the token).
 * An HTTP error status or a refused connection is an Error (not delivered); no answer (timeout,
 * reset) is a `DeliveryUnknown` (it may have been).
 */
export async function postJson(url: string, body: Record<string, unknown>, what: string, timeoutMs = 10_000): Promise<void> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  }).catch((err: Error & { cause?: { code?: string } }) => {
    const code = err.cause?.code;
    if (code && NOT_SENT.has(code)) throw new Error(`${what}: request failed: ${code}`);
    throw new DeliveryUnknown(`${what}: no answer (${err.name === "TimeoutError" ? "timed out" : (code ?? err.message)}); it may have arrived`);
  });
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status}`);
}
