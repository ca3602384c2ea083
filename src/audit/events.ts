import type { ChangedPackage } from "../agent/report";
import { lastJsonLine, parseHealthReport, parsePatchReport, parseRebootReport } from "../agent/report";
import { globToRegExp } from "../waves/select";
import type { StackRecord, StateResource } from "./types";

/**
 * Patch events from a stack's record: every agent `patch` report any checkpoint holds (the
 * `<node>-patch` resource's stdout, contract 4), attributed to the first update whose checkpoint
 * holds it. A report stays in every later checkpoint until the node is patched again or leaves
 * the stack, so reading every checkpoint finds each run once, including machines removed since.
 */
export interface PatchEvent {
  stack: string;
  machine: string;
  build: string;
  previous: string | null;
  /** The agent's own answer: already at the build, nothing installed. */
  noop: boolean;
  packages: ChangedPackage[];
  /** All package changes; `packages` lists at most 200 (the agent's cap). */
  changedCount: number;
  startedAt: string;
  finishedAt: string;
  /** From the node's reboot step; null when the state has no reboot report for this run. */
  rebooted: boolean | null;
  /** `healthy` / `unhealthy` from the node's healthcheck; `no healthcheck` when none was recorded. */
  result: "healthy" | "unhealthy" | "no healthcheck";
  /** The update that recorded it, `current` when only the current state has it. */
  updateId: string;
  updateResult: string;
  ranBy: string;
}

const STEP = /::([^:]+)-(patch|reboot|health)$/;

interface NodeSteps {
  patch?: ReturnType<typeof parsePatchReport>;
  rebooting?: boolean;
  healthy?: boolean;
}

/** The agent reports a checkpoint holds, per machine. Unreadable reports count as absent. */
export function nodeSteps(resources: readonly StateResource[]): Map<string, NodeSteps> {
  const out = new Map<string, NodeSteps>();
  for (const r of resources) {
    if (r.type !== "command:remote:Command") continue;
    const m = STEP.exec(r.urn);
    const stdout = r.outputs?.stdout;
    if (!m || typeof stdout !== "string") continue;
    const [, name, step] = m as unknown as [string, string, string];
    const s = out.get(name) ?? {};
    try {
      if (step === "patch") {
        s.patch = parsePatchReport(stdout);
        // `patch --reboot-if-required` reports the reboot in the same line (no reboot step).
        const rebooting = (lastJsonLine(stdout, "patch report") as { rebooting?: unknown }).rebooting;
        if (typeof rebooting === "boolean" && s.rebooting === undefined) s.rebooting = rebooting;
      }
      else if (step === "reboot") s.rebooting = parseRebootReport(stdout).rebooting;
      else s.healthy = parseHealthReport(stdout).healthy;
    } catch {
      continue; // an agent error line or garbage: the step did not complete
    }
    out.set(name, s);
  }
  return out;
}

/** Every patch event of a stack, oldest first (by agent start time, then machine). */
export function patchEvents(record: StackRecord): PatchEvent[] {
  const byKey = new Map<string, PatchEvent>();
  const snapshots = [
    ...record.updates.filter((u) => u.resources).map((u) => ({ id: u.id, result: u.result, ranBy: u.ranBy, resources: u.resources! })),
    { id: "current", result: "current state", ranBy: record.lockedBy ?? "-", resources: record.current },
  ];
  for (const snap of snapshots) {
    for (const [machine, s] of nodeSteps(snap.resources)) {
      if (!s.patch) continue;
      const p = s.patch;
      const key = `${machine}\u0000${p.build}\u0000${p.startedAt}\u0000${p.finishedAt}`;
      let e = byKey.get(key);
      if (!e) {
        e = {
          stack: record.stack,
          machine,
          build: p.build,
          previous: p.previous,
          noop: p.noop,
          packages: p.changed,
          changedCount: p.changedCount ?? p.changed.length,
          startedAt: p.startedAt,
          finishedAt: p.finishedAt,
          rebooted: null,
          result: "no healthcheck",
          updateId: snap.id,
          updateResult: snap.result,
          ranBy: snap.ranBy,
        };
        byKey.set(key, e);
      }
      // Later checkpoints may complete a run (a re-run `up` that only re-did the healthcheck).
      if (e.rebooted === null && s.rebooting !== undefined) e.rebooted = s.rebooting;
      if (e.result !== "healthy" && s.healthy !== undefined) e.result = s.healthy ? "healthy" : "unhealthy";
    }
  }
  return [...byKey.values()].sort(compareEvents);
}

export function compareEvents(a: PatchEvent, b: PatchEvent): number {
  return Date.parse(a.startedAt) - Date.parse(b.startedAt) || cmp(a.stack, b.stack) || cmp(a.machine, b.machine);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface EventFilter {
  /** Events that finished at or after this instant. */
  since?: Date;
  /** Events that started at or before this instant. */
  until?: Date;
  /** Machine name glob (`*`, `?`, `[…]`), as in wave selectors. */
  machine?: string;
}

export function filterEvents(events: readonly PatchEvent[], f: EventFilter): PatchEvent[] {
  const re = f.machine ? globToRegExp(f.machine) : null;
  return events.filter(
    (e) =>
      (!f.since || Date.parse(e.finishedAt) >= f.since.getTime()) &&
      (!f.until || Date.parse(e.startedAt) <= f.until.getTime()) &&
      (!re || re.test(e.machine)),
  );
}
