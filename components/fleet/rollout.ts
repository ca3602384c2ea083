import type { Machine } from "../../src/inventory/schema";
import type { Plan } from "../../src/plan/types";
import type { RolloutOutput, WaveDecision } from "./gates";
import { hostKeyFingerprint } from "./node-commands";
import type { NodeTarget } from "./node-patch";
import type { WaveCluster } from "./patch-wave";

/**
 * Turns the plan, the gate decisions and what the previous update left behind into the inputs
 * of the PatchWave components, and their results into the stack outputs. Pure.
 */

/** One entry of the `nodes` stack output, as the previous update wrote it. */
export interface NodeRecord {
  build: string;
  rebooted: boolean;
  finishedAt: string | null;
  changed: number;
  /** `SHA256:…` of the host key the node was patched through ("none": unverified). Older outputs lack it. */
  hostKey?: string;
  /** The node chain's revision (chainRevision). Older outputs lack it. */
  rev?: string;
}

/** Reads the previous `nodes` output; malformed entries are dropped (treated as never patched). */
export function asNodeRecords(v: unknown): Map<string, NodeRecord> {
  const out = new Map<string, NodeRecord>();
  if (typeof v !== "object" || v === null || Array.isArray(v)) return out;
  for (const [name, raw] of Object.entries(v as Record<string, unknown>)) {
    if (typeof raw !== "object" || raw === null) continue;
    const r = raw as Record<string, unknown>;
    if (typeof r.build !== "string") continue;
    out.set(name, {
      build: r.build,
      rebooted: r.rebooted === true,
      finishedAt: typeof r.finishedAt === "string" ? r.finishedAt : null,
      changed: typeof r.changed === "number" ? r.changed : 0,
      ...(typeof r.hostKey === "string" ? { hostKey: r.hostKey } : {}),
      ...(typeof r.rev === "string" ? { rev: r.rev } : {}),
    });
  }
  return out;
}

export interface WaveInput {
  name: string;
  held: boolean;
  /** Why the wave is held (gate or an earlier held wave). */
  reason?: string;
  /** Stacks this wave's soak gate reads: the wave depends on their StackReferences. */
  soakStack?: string;
  clusters: WaveCluster[];
  /** Machines the plan puts in this wave. */
  planned: number;
  /** Machines registered: all when the wave runs; only previously patched ones when held. */
  registered: number;
}

/**
 * Node targets per wave. A running wave patches every planned node to `build`. A held wave
 * registers only nodes an earlier update patched, frozen at the build they got, so holding a
 * wave never deletes or changes what is already done; never-patched nodes stay unregistered.
 * A machine whose host key differs from the one its record was patched through was reinstalled
 * under the same name: it is a new machine (no record), so it is patched again (issue 9 §9).
 */
export function rolloutWaves(
  plan: Plan,
  machines: ReadonlyMap<string, Machine>,
  decisions: readonly WaveDecision[],
  previous: ReadonlyMap<string, NodeRecord>,
  hostKeys: ReadonlyMap<string, string | undefined>,
  halted: ReadonlySet<string> = new Set(),
): WaveInput[] {
  // Clusters with a halted machine (smith:halted): it and every node after it in plan order,
  // later waves included, are held like a closed gate, so the cluster stops there and later
  // waves do not wait for it.
  const haltedClusters = new Set<string>();
  return plan.waves.map((w, i) => {
    const decision = decisions[i];
    if (!decision || decision.wave !== w.name) throw new Error(`rolloutWaves: no decision for wave ${w.name}`);
    let planned = 0;
    let registered = 0;
    const clusters: WaveCluster[] = w.clusters.map((c) => {
      const nodes: NodeTarget[] = [];
      for (const name of c.nodes) {
        planned++;
        if (halted.has(name)) haltedClusters.add(c.cluster);
        const clusterHalted = haltedClusters.has(c.cluster);
        const machine = machines.get(name);
        if (!machine) throw new Error(`rolloutWaves: plan names unknown machine ${name}`);
        const hostKey = hostKeys.get(name);
        const prev = previous.get(name);
        // previousRev differs for a reinstalled machine (the host key is in the revision): its
        // chain is replaced, with the new connection. A held wave does not register it at all.
        const base = { machine, hostKey, previousFinishedAt: prev?.finishedAt ?? undefined, previousBuild: prev?.build, previousRev: prev?.rev };
        if (!decision.held && !clusterHalted) nodes.push({ ...base, build: plan.build });
        else if (prev && sameMachine(prev, hostKey)) nodes.push({ ...base, build: prev.build, frozen: true });
        else continue;
        registered++;
      }
      return { cluster: c.cluster, nodes, ...(c.concurrency && c.concurrency > 1 ? { concurrency: c.concurrency } : {}) };
    });
    return {
      name: w.name,
      held: decision.held,
      ...(decision.reason ? { reason: decision.reason } : {}),
      ...(w.gate?.soak ? { soakStack: w.gate.soak.stack } : {}),
      clusters,
      planned,
      registered,
    };
  });
}

/** The record, unless it was written for a machine with another host key (then undefined). */
export function sameMachine(prev: NodeRecord | undefined, hostKey: string | undefined): NodeRecord | undefined {
  if (prev === undefined || prev.hostKey === undefined) return prev;
  return prev.hostKey === hostKeyFingerprint(hostKey) ? prev : undefined;
}

/** A registered node's result, as NodePatch outputs resolve. */
export interface NodeResult {
  name: string;
  build: string;
  rebooted: boolean;
  finishedAt: string | null;
  packagesChanged: number;
  frozen: boolean;
  /** NodePatch.hostKeyFingerprint. */
  hostKey: string;
  /** NodePatch.revision. */
  rev: string;
}

/** The `nodes` stack output: name → {build, rebooted, finishedAt, changed, hostKey, rev}, sorted by name. */
export function nodesOutput(results: readonly NodeResult[]): Record<string, NodeRecord> {
  const out: Record<string, NodeRecord> = {};
  for (const r of [...results].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    out[r.name] = { build: r.build, rebooted: r.rebooted, finishedAt: r.finishedAt, changed: r.packagesChanged, hostKey: r.hostKey, rev: r.rev };
  }
  return out;
}

/**
 * The `rollout` stack output, read by other stacks' soak gates. Complete only when no wave is
 * held: a failed node fails the update, which then writes no outputs at all. `finishedAt` is
 * the latest agent-reported finish of this build, so an unchanged re-run keeps it (the soak
 * clock does not restart).
 */
export function rolloutOutput(build: string, waves: readonly WaveInput[], results: readonly NodeResult[], halted: readonly string[] = []): RolloutOutput {
  const held = waves.filter((w) => w.held).map((w) => w.name);
  let finishedAt: string | null = null;
  for (const r of results) {
    if (r.frozen || r.build !== build || r.finishedAt === null) continue;
    if (finishedAt === null || Date.parse(r.finishedAt) > Date.parse(finishedAt)) finishedAt = r.finishedAt;
  }
  return { build, complete: held.length === 0, finishedAt, nodes: results.length, held, ...(halted.length ? { halted: [...halted].sort() } : {}) };
}

/** The `waves` stack output: one line per wave. */
export function wavesOutput(waves: readonly WaveInput[]): { name: string; held: boolean; reason?: string; clusters: number; planned: number; registered: number }[] {
  return waves.map((w) => ({
    name: w.name,
    held: w.held,
    ...(w.reason ? { reason: w.reason } : {}),
    clusters: w.clusters.filter((c) => c.nodes.length > 0).length,
    planned: w.planned,
    registered: w.registered,
  }));
}

/** Unassigned machines, capped: the full list is `smith plan`'s job, outputs stay small. */
export const UNASSIGNED_OUTPUT_LIMIT = 50;
export function unassignedOutput(plan: Plan): { count: number; machines: { name: string; reason: string }[] } {
  return { count: plan.unassigned.length, machines: plan.unassigned.slice(0, UNASSIGNED_OUTPUT_LIMIT) };
}
