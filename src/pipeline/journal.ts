import * as fs from "fs";
import * as path from "path";
import type { StageRecord } from "../change/record";
import type { Incident } from "../escalation/incident";

/**
 * What `smith rollout` keeps between runs of the same build that the stacks do not record:
 * retry counts, incidents and their delivery to each sink, the change request's id. Everything
 * about machines (builds, reports, gates, approvals, halts) is read from the stacks instead.
 * Written atomically (temp file + fsync + rename) after every change, so a kill -9 loses at most
 * the step in flight. For a notification that step is one HTTP request: see `Delivery`.
 */

/**
 * One notification (trigger or resolve) to one sink. Absent: recorded, not sent yet. `sending`:
 * written (fsynced) just before the request. `sent`: written as soon as the sink answered 2xx.
 * `unknown`: the request got no answer (timeout), or a run died while `sending`: it is sent
 * again as a possible repeat (src/escalation/escalator.ts).
 */
export type Delivery = "sending" | "sent" | "unknown";

export interface IncidentRecord {
  incident: Incident;
  state: "open" | "resolved";
  /** Every sink acknowledged the trigger (journals before per-sink deliveries have only this). */
  triggerSent: boolean;
  resolveSent: boolean;
  resolvedAt?: string;
  /** Per sink name. */
  deliveries?: Record<string, { trigger?: Delivery; resolve?: Delivery }>;
}

export interface JournalData {
  schema: "smith.rollout-journal/v1";
  pipeline: string;
  build: string;
  startedAt: string;
  /** Every `smith rollout` invocation of this build: when, and its pid. */
  runs: { startedAt: string; pid: number }[];
  /** Failed attempts per `<stack>/<machine>`. */
  attempts: Record<string, number>;
  incidents: Record<string, IncidentRecord>;
  /** First time the engine started each `<stack>/<machine>` patch in this rollout (tells a resumed no-op from "was already there"). */
  patchStarts?: Record<string, string>;
  /** Each stage's last outcome (a stage done in an earlier run keeps its times). */
  stages?: Record<string, StageRecord>;
  /** The change request a change sink opened for this rollout. */
  change?: { sink: string; ref: string };
}

export class Journal {
  private constructor(
    readonly file: string,
    readonly data: JournalData,
  ) {}

  /** `.smith/pipeline/<pipeline>/build-<N>.json` under `dir`; created on first use. */
  static open(dir: string, pipeline: string, build: string, now = new Date()): Journal {
    const file = path.join(dir, pipeline, `build-${build}.json`);
    let data: JournalData | undefined;
    try {
      data = JSON.parse(fs.readFileSync(file, "utf8")) as JournalData;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`${file}: unreadable rollout journal (${(err as Error).message})`);
    }
    data ??= { schema: "smith.rollout-journal/v1", pipeline, build, startedAt: now.toISOString(), runs: [], attempts: {}, incidents: {} };
    return new Journal(file, data);
  }

  save(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, "w");
    fs.writeSync(fd, JSON.stringify(this.data, null, 2) + "\n");
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, this.file);
  }
}
