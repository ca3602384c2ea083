import type { Journal } from "../pipeline/journal";
import type { EscalationSink, Incident } from "./incident";

/**
 * Calls a sink once per incident: the journal records an incident before it is sent and marks
 * it sent after, so retries and resumed runs never notify twice (a kill between the two sends
 * it again, at least once). A later success resolves it, once. A sink that fails is retried by
 * `flush()` on the next call; the rollout itself never stops because paging failed.
 */
export class Escalator {
  constructor(
    private readonly journal: Journal,
    /** The sinks an incident goes to (each stack has its own webhook in its config). */
    private readonly sinksFor: (i: Incident) => EscalationSink[],
    private readonly warn: (line: string) => void = () => {},
  ) {}

  /** A node failed (again). Returns true when this call opened (and sent) a new incident. */
  async failed(i: Incident): Promise<boolean> {
    const rec = this.journal.data.incidents[i.key];
    if (rec && rec.state === "open") {
      rec.incident = { ...i, openedAt: rec.incident.openedAt };
      this.journal.save();
      await this.flush();
      return false;
    }
    this.journal.data.incidents[i.key] = { incident: i, state: "open", triggerSent: false, resolveSent: false };
    this.journal.save();
    await this.flush();
    return true;
  }

  /** The machine of an open incident is now at the build and healthy. */
  async recovered(key: string, at: string): Promise<void> {
    const rec = this.journal.data.incidents[key];
    if (!rec || rec.state !== "open") return;
    rec.state = "resolved";
    rec.resolvedAt = at;
    this.journal.save();
    await this.flush();
  }

  /** Sends whatever the journal says is due: triggers not yet sent, then resolves. */
  async flush(): Promise<void> {
    for (const rec of Object.values(this.journal.data.incidents)) {
      if (!rec.triggerSent && (await this.send((s) => s.trigger(rec.incident), rec.incident.key))) {
        rec.triggerSent = true;
        this.journal.save();
      }
      if (rec.state === "resolved" && rec.triggerSent && !rec.resolveSent && (await this.send((s) => s.resolve(rec.incident, rec.resolvedAt!), rec.incident.key))) {
        rec.resolveSent = true;
        this.journal.save();
      }
    }
  }

  openIncidents(): Incident[] {
    return Object.values(this.journal.data.incidents)
      .filter((r) => r.state === "open")
      .map((r) => r.incident);
  }

  private async send(fn: (s: EscalationSink) => Promise<void>, key: string): Promise<boolean> {
    let ok = true;
    const rec = this.journal.data.incidents[key];
    for (const s of rec ? this.sinksFor(rec.incident) : []) {
      try {
        await fn(s);
      } catch (err) {
        ok = false;
        this.warn(`escalation of ${key} via ${s.name} failed (retried later): ${(err as Error).message}`);
      }
    }
    return ok;
  }
}
