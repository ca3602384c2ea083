import type { Plan } from "../plan/types";
import { nodeSteps } from "./events";
import type { StackRecord, StateResource } from "./types";

/**
 * The fleet at a glance: per wave and cluster of the stack's plan, how many machines are at which
 * build (from the current state), which waves are held and why (the `waves` output of the last
 * successful update), and where a failed update stopped each cluster.
 */
export interface ClusterStatus {
  wave: string;
  cluster: string;
  machines: number;
  /** build → machine count; "none" for machines the state has no patch for. */
  builds: Record<string, number>;
  held: string | null;
  /** First machine (plan order) not at the target build, when the last update failed. */
  failedAt: string | null;
  unhealthy: string[];
  live?: { agree: number; drift: string[]; unreachable: string[] };
}

export interface FleetStatus {
  stack: string;
  build: string;
  lastUpdate: { id: string; result: string; startTime: string; endTime: string | null } | null;
  clusters: ClusterStatus[];
  /** Machines in the state that the plan no longer has (left the inventory or every wave). */
  notPlanned: string[];
  /** Inventory machines no wave takes (never patched by this stack), with the planner's reason. */
  unassigned: { name: string; reason: string }[];
}

interface WaveOutput {
  name: string;
  held: boolean;
  reason?: string;
}

/** The stack resource's outputs in a checkpoint. */
export function stackOutputs(resources: readonly StateResource[]): Record<string, unknown> {
  return resources.find((r) => r.type === "pulumi:pulumi:Stack")?.outputs ?? {};
}

export function fleetStatus(record: StackRecord, plan: Plan, live?: ReadonlyMap<string, { build: string | null } | { error: string }>): FleetStatus {
  const steps = nodeSteps(record.current);
  const waves = (stackOutputs(record.current).waves as WaveOutput[] | undefined) ?? [];
  const held = new Map(waves.filter((w) => w.held).map((w) => [w.name, w.reason ?? "held"]));
  const last = record.updates.filter((u) => u.kind === "update").pop() ?? null;
  const failed = last?.result === "failed";
  const planned = new Set<string>();
  const clusters: ClusterStatus[] = [];
  for (const w of plan.waves) {
    for (const c of w.clusters) {
      const builds: Record<string, number> = {};
      let failedAt: string | null = null;
      const unhealthy: string[] = [];
      const liveRow = live ? { agree: 0, drift: [] as string[], unreachable: [] as string[] } : undefined;
      for (const n of c.nodes) {
        planned.add(n);
        const s = steps.get(n);
        const b = s?.patch?.build ?? "none";
        builds[b] = (builds[b] ?? 0) + 1;
        if (failed && !held.has(w.name) && failedAt === null && b !== plan.build) failedAt = n;
        if (s?.healthy === false) unhealthy.push(n);
        const l = live?.get(n);
        if (liveRow && l) {
          if ("error" in l) liveRow.unreachable.push(n);
          else if ((l.build ?? "none") === b) liveRow.agree++;
          else liveRow.drift.push(`${n} (state ${b}, machine ${l.build ?? "none"})`);
        }
      }
      clusters.push({ wave: w.name, cluster: c.cluster, machines: c.nodes.length, builds, held: held.get(w.name) ?? null, failedAt, unhealthy, ...(liveRow ? { live: liveRow } : {}) });
    }
  }
  return {
    stack: record.stack,
    build: plan.build,
    lastUpdate: last ? { id: last.id, result: last.result, startTime: last.startTime, endTime: last.endTime } : null,
    clusters,
    notPlanned: [...steps.keys()].filter((n) => !planned.has(n)).sort(),
    unassigned: plan.unassigned,
  };
}
