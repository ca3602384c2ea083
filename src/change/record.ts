/**
 * The change record of one rollout (one build through one pipeline): what was patched, where,
 * when, with which packages, and how it ended. Written as JSON and Markdown after every stage
 * (so a killed run still leaves the record so far) and handed to a change sink (ServiceNow).
 */
export type MachineResult = "patched" | "unchanged" | "failed" | "halted" | "held" | "pending";

export interface MachineRecord {
  stack: string;
  stage: string;
  wave: string;
  cluster: string;
  machine: string;
  /** The build the stack's state records for the machine (null: never patched). */
  build: string | null;
  previous: string | null;
  packages: { name: string; from: string | null; to: string | null }[];
  startedAt: string | null;
  finishedAt: string | null;
  rebooted: boolean;
  result: MachineResult;
  attempts: number;
  error?: string;
}

export type StageResult = "done" | "waiting" | "stopped" | "failed" | "skipped" | "pending";

export interface StageRecord {
  name: string;
  kind: string;
  result: StageResult;
  startedAt: string | null;
  finishedAt: string | null;
  /** One line: what happened, or what it waits for. */
  detail: string;
}

export interface ChangeRecord {
  schema: "smith.change-record/v1";
  pipeline: string;
  build: string;
  startedAt: string;
  updatedAt: string;
  /** completed: every stage done; waiting: a soak or decision; stopped: failure budget or review; failed: an error. */
  result: "completed" | "waiting" | "stopped" | "failed" | "running";
  stages: StageRecord[];
  machines: MachineRecord[];
  incidents: { key: string; machine: string; stack: string; step: string; error: string; state: string; openedAt: string; resolvedAt?: string; attempts: number }[];
}

export function countResults(machines: readonly MachineRecord[]): Record<MachineResult, number> {
  const out: Record<MachineResult, number> = { patched: 0, unchanged: 0, failed: 0, halted: 0, held: 0, pending: 0 };
  for (const m of machines) out[m.result]++;
  return out;
}
