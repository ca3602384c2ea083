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

/** An update as the report lists it: its metadata and how many patch events it recorded. */
export type UpdateRow = Omit<StackUpdate, "resources" | "message"> & { patched: number };

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
      .map(({ resources: _r, message: _m, ...u }) => ({ ...u, patched: counted.get(`${u.stack}\u0000${u.id}`) ?? 0 }))
      .sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime)),
    events: [...events],
    current: Object.fromEntries(records.map((r) => [r.stack, [...nodeSteps(r.current).keys()].sort()])),
  };
}
