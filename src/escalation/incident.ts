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

/** Where an incident goes: a webhook today, anything with the same two calls tomorrow. */
export interface EscalationSink {
  readonly name: string;
  trigger(incident: Incident): Promise<void>;
  resolve(incident: Incident, resolvedAt: string): Promise<void>;
}

/** The last `n` non-empty lines of an error text, secrets never included (the engine prints none). */
export function logTail(text: string, n = 15): string[] {
  return text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "")
    .slice(-n);
}
