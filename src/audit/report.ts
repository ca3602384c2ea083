import { nodeSteps, PatchEvent } from "./events";
import type { StackRecord, StackUpdate } from "./types";

/** Everything an audit report shows, assembled once and rendered in any format. */
export interface AuditReport {
  generatedAt: string;
  sources: { stack: string; source: string; updates: number }[];
  filter: { since?: string; until?: string; machine?: string };
  updates: UpdateRow[];
  events: PatchEvent[];
  /** Per stack, machines the current state still holds: the others left the stack since. */
  current: Record<string, string[]>;
}

export interface UpdateRow {
  stack: string;
  id: string;
  kind: string;
  result: string;
  startTime: string;
  endTime: string | null;
  build: string | null;
  ranBy: string;
  /** Patch events this update recorded (after filtering). */
  patched: number;
}

export function buildAuditReport(records: readonly StackRecord[], events: readonly PatchEvent[], filter: AuditReport["filter"], now: Date): AuditReport {
  const counted = new Map<string, number>();
  for (const e of events) counted.set(`${e.stack}\u0000${e.updateId}`, (counted.get(`${e.stack}\u0000${e.updateId}`) ?? 0) + 1);
  const inPeriod = (u: StackUpdate) =>
    (!filter.since || Date.parse(u.endTime ?? u.startTime) >= Date.parse(filter.since)) && (!filter.until || Date.parse(u.startTime) <= Date.parse(filter.until));
  return {
    generatedAt: now.toISOString(),
    sources: records.map((r) => ({ stack: r.stack, source: r.source, updates: r.updates.length })),
    filter,
    updates: records
      .flatMap((r) => r.updates)
      .filter(inPeriod)
      .map((u) => ({ stack: u.stack, id: u.id, kind: u.kind, result: u.result, startTime: u.startTime, endTime: u.endTime, build: u.build, ranBy: u.ranBy, patched: counted.get(`${u.stack}\u0000${u.id}`) ?? 0 }))
      .sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime)),
    events: [...events],
    current: Object.fromEntries(records.map((r) => [r.stack, [...nodeSteps(r.current).keys()].sort()])),
  };
}
