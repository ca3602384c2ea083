import type { Delivery, IncidentRecord, Journal } from "../pipeline/journal";
import { DeliveryUnknown, EscalationSink, Incident } from "./incident";

type Action = "trigger" | "resolve";

/**
 * Calls each sink once per incident and action — at least once, never silently dropped: a
 * notification is due until its sink answered. The journal holds a state per incident, sink and
 * action (`Delivery`): `sending` is written (fsynced) right before the request and `sent` right
 * after the answer, so the only repeat is of a request whose outcome is unknown — the run died
 * during that one request, or it got no answer (timeout). Such a repeat is flagged to the sink:
 * PagerDuty folds it into the same alert by `dedup_key` (effectively exactly once); Slack marks
 * the message "possible repeat". A failed sink is retried by `flush()` on the next call, alone
 * (the others are not sent again); the rollout itself never stops because paging failed.
 */
export class Escalator {
  /** Deliveries this process is making: `sending` in the journal without one here was left by a dead run. */
  private readonly inFlight = new Set<string>();

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
      rec.triggerSent = await this.deliver(rec, "trigger");
      if (rec.state === "resolved" && rec.triggerSent) rec.resolveSent = await this.deliver(rec, "resolve");
      this.journal.save();
    }
  }

  openIncidents(): Incident[] {
    return Object.values(this.journal.data.incidents)
      .filter((r) => r.state === "open")
      .map((r) => r.incident);
  }

  /** Sends `action` of `rec` to every sink that has not answered it yet; true when all have. */
  private async deliver(rec: IncidentRecord, action: Action): Promise<boolean> {
    const sinks = this.sinksFor(rec.incident);
    const legacySent = action === "trigger" ? rec.triggerSent : rec.resolveSent;
    let all = true;
    for (const s of sinks) {
      const id = `${rec.incident.key}\n${s.name}\n${action}`;
      const d = ((rec.deliveries ??= {})[s.name] ??= {});
      if (d[action] === undefined && legacySent) d[action] = "sent"; // a journal from before per-sink states
      if (d[action] === "sent") continue;
      if (this.inFlight.has(id)) {
        all = false; // another call of this run is sending it right now
        continue;
      }
      const repeat = d[action] === "sending" || d[action] === "unknown";
      d[action] = "sending";
      this.journal.save();
      this.inFlight.add(id);
      let next: Delivery | undefined;
      try {
        await (action === "trigger" ? s.trigger(rec.incident, { repeat }) : s.resolve(rec.incident, rec.resolvedAt!, { repeat }));
        next = "sent";
      } catch (err) {
        // Not delivered now; an earlier unknown attempt may still have been.
        next = err instanceof DeliveryUnknown || repeat ? "unknown" : undefined;
        this.warn(`escalation of ${rec.incident.key} via ${s.name} failed (retried later): ${(err as Error).message}`);
      } finally {
        this.inFlight.delete(id);
      }
      if (next === undefined) delete d[action];
      else d[action] = next;
      this.journal.save();
      if (next !== "sent") all = false;
    }
    return all;
  }
}
