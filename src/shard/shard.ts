import { createHash } from "crypto";
import { UserError } from "../errors";
import type { Machine } from "../inventory/schema";
import type { Plan } from "../plan/types";

/**
 * Sharding: a fleet larger than `size` machines is split into several stacks that run in
 * parallel (docs/scale.md). Pure: the same inventory and settings always give the same shards.
 *
 * - A fleet of at most `size` machines is one shard, named `all`.
 * - Otherwise machines are grouped by region (or by the `cell` label, `by: "cell"`); a group of
 *   at most `size` machines is one shard named after it (`eu-west`).
 * - A bigger group is cut into k = ⌈group / size⌉ shards `<group>-<i>` (i from 1), each cluster
 *   going WHOLE to the shard chosen by a hash of its name (a cluster is never split: its
 *   one-machine-at-a-time chain lives in one stack). The hash keeps a cluster in its shard while
 *   the fleet changes, until k itself changes (the group grew or shrank past a multiple of `size`);
 *   then clusters move between shard stacks (see docs/scale.md, "Resharding").
 *
 * Hash shards are balanced on average only; a shard may exceed `size` by a few clusters.
 */

export type ShardBy = "region" | "cell";

export interface ShardSettings {
  /** Largest fleet kept in one stack; also the target size of a shard. */
  size: number;
  by: ShardBy;
}

export interface Shard {
  name: string;
  /** The group (region or cell) it belongs to; "all" for an unsharded fleet. */
  group: string;
  clusters: string[];
  machines: Machine[];
}

/** The `cell` label, for `by: "cell"`; a machine without one is an error (named). */
function groupOf(m: Machine, by: ShardBy): string {
  if (by === "region") return m.region;
  const cell = m.labels?.cell;
  if (!cell) throw new UserError(`inventory: machine ${m.name}: smith:shardBy is "cell" but it has no labels.cell`);
  return cell;
}

function bucket(cluster: string, k: number): number {
  return createHash("sha256").update(cluster).digest().readUInt32BE(0) % k;
}

export function shardFleet(machines: readonly Machine[], s: ShardSettings): Shard[] {
  if (!Number.isInteger(s.size) || s.size < 1) throw new UserError(`shard size must be a positive integer (got ${s.size})`);
  const clusters = new Map<string, Machine[]>();
  for (const m of machines) {
    const list = clusters.get(m.cluster);
    if (list) list.push(m);
    else clusters.set(m.cluster, [m]);
  }
  if (machines.length <= s.size) {
    return [{ name: "all", group: "all", clusters: [...clusters.keys()].sort(), machines: [...machines] }];
  }
  // A cluster spanning two groups cannot be placed whole: say which.
  const groups = new Map<string, string[]>();
  for (const [cluster, ms] of clusters) {
    const g = new Set(ms.map((m) => groupOf(m, s.by)));
    if (g.size > 1) throw new UserError(`inventory: cluster ${cluster} spans ${s.by}s ${[...g].sort().join(", ")}: a cluster is never split between shards`);
    const group = [...g][0]!;
    groups.set(group, [...(groups.get(group) ?? []), cluster]);
  }
  const out: Shard[] = [];
  for (const [group, cs] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const total = cs.reduce((n, c) => n + clusters.get(c)!.length, 0);
    const k = Math.ceil(total / s.size);
    const parts: string[][] = Array.from({ length: k }, () => []);
    for (const c of cs) parts[k === 1 ? 0 : bucket(c, k)]!.push(c);
    parts.forEach((p, i) => {
      if (!p.length) return;
      p.sort();
      out.push({ name: k === 1 ? group : `${group}-${i + 1}`, group, clusters: p, machines: p.flatMap((c) => clusters.get(c)!) });
    });
  }
  return out;
}

/** The machines of shard `name`; an unknown name is an error listing the shards there are. */
export function selectShard(machines: readonly Machine[], s: ShardSettings & { shard: string }): Machine[] {
  const shards = shardFleet(machines, s);
  const hit = shards.find((x) => x.name === s.shard);
  if (!hit) throw new UserError(`config: smith:shard: no shard ${JSON.stringify(s.shard)} in this inventory (shards: ${shards.map((x) => x.name).join(", ")})`);
  return hit.machines;
}

/**
 * A shard's plan: the whole fleet's plan restricted to the shard's machines. Samples and phases
 * are the fleet's (planning a shard on its own would draw its own sample of every wave and
 * split its own carriers into phases), so shards in lockstep run exactly the fleet's waves.
 * Waves without a machine of the shard are left out; clusters are whole in a shard.
 */
export function shardPlan(fleet: Plan, machines: readonly Machine[]): Plan {
  const names = new Set(machines.map((m) => m.name));
  const waves = fleet.waves
    .map((w) => ({ ...w, clusters: w.clusters.filter((c) => c.nodes.some((n) => names.has(n))) }))
    .filter((w) => w.clusters.length > 0);
  return { build: fleet.build, waves, unassigned: fleet.unassigned.filter((u) => names.has(u.name)) };
}
