/**
 * An incident: one machine of one stack failing one build, however often it is retried and
 * however many times the rollout is resumed. The key is what deduplicates notifications.
 */
export interface Incident {
  /** `<stack>/<machine>/<build>`: one incident per machine and build. */
  key: string;
  stage: string;
  stack: string;
  machine: string;
  cluster: string;
  wave: string;
  build: string;
  /** The step that failed: patch, reboot or health (agent copy counts as patch). */
  step: string;
  /** First line of the error. */
  error: string;
  /** The last lines of the agent's output the engine reported. */
  logTail: string[];
  /** Attempts made so far (1 = the first run, no retry yet). */
  attempts: number;
  openedAt: string;
}

export function incidentKey(stack: string, machine: string, build: string): string {
  return `${stack}/${machine}/${build}`;
}

/** How a notification is sent: `repeat` when an earlier attempt may have arrived (its outcome is unknown). */
export interface SendOptions {
  repeat?: boolean;
}

/**
 * Where an incident goes: a webhook today, anything with the same two calls tomorrow. Every
 * sink gets each notification at least once (src/escalation/escalator.ts); `dedupes` says
 * whether the receiver folds a repeat into the same alert by the incident key (PagerDuty's
 * `dedup_key`); a sink that does not should mark a `repeat` as such for the humans reading it.
 */
export interface EscalationSink {
  readonly name: string;
  readonly dedupes: boolean;
  trigger(incident: Incident, o?: SendOptions): Promise<void>;
  resolve(incident: Incident, resolvedAt: string, o?: SendOptions): Promise<void>;
}

/**
 * A send whose outcome is unknown: the request went out but no answer came (timeout, connection
 * reset), so the receiver may have it. A refused connection or an HTTP error status is an
 * ordinary Error: nothing was delivered.
 */
export class DeliveryUnknown extends Error {
  override readonly name = "DeliveryUnknown";
}

/** The last `n` non-empty lines of an error text, secrets never included (the engine prints none). */
export function logTail(text: string, n = 15): string[] {
  return text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "")
    .slice(-n);
}
