import { Problem, problemsError } from "../errors";
import type { Machine } from "../inventory/schema";
import type { Gate, Phase, Sample, Wave, WaveFile } from "../waves/schema";
import { compileSelector } from "../waves/select";
import { compareNodes, naturalCompare, sampleKey } from "./order";
import type { Plan, PlanCluster, PlanGate, PlanWave, Unassigned } from "./types";

export interface PlanOptions {
  /** Name of the wave file in messages. Defaults to `waves.source`, else "waves". */
  source?: string;
}

/**
 * Turns an inventory and a wave file into the rollout plan for one build. Pure and
 * deterministic: the same machines (in any order), waves and build give the same plan.
 *
 * A machine belongs to the FIRST wave that selects it; machines outside the file's scope or
 * selected by no wave are listed in `unassigned` with the reason. A wave that ends up with no
 * machine is an error (all such waves are reported together) unless it is `optional`.
 */
export function planRollout(machines: Machine[], waves: WaveFile, build: string, opts: PlanOptions = {}): Plan {
  const source = opts.source ?? waves.source ?? "waves";
  const scope = compileSelector(waves.scope);
  const unassigned: Unassigned[] = [];
  let pool: Machine[] = [];
  for (const m of machines) {
    const why = scope.explain(m);
    if (why === undefined) pool.push(m);
    else unassigned.push({ name: m.name, reason: `${why} is not in scope of ${source}` });
  }

  const notSampled = new Map<string, string>();
  const problems: Problem[] = [];
  const planWaves: PlanWave[] = [];
  waves.waves.forEach((wave, index) => {
    const select = compileSelector(wave.select);
    const matched: Machine[] = [];
    const rest: Machine[] = [];
    for (const m of pool) (select.test(m) ? matched : rest).push(m);
    const picked = wave.sample ? sample(matched, wave.sample, build) : matched;
    if (picked.length === 0) {
      if (!wave.optional) problems.push(emptyWave(source, index, wave, machines, scope.test));
      return;
    }
    if (picked.length !== matched.length) {
      const pickedNames = new Set(picked.map((m) => m.name));
      for (const m of matched) {
        if (!pickedNames.has(m.name)) {
          rest.push(m);
          if (!notSampled.has(m.name)) notSampled.set(m.name, wave.name);
        }
      }
    }
    pool = rest;
    planWaves.push(...toPlanWaves(wave, picked));
  });
  if (problems.length) throw problemsError(problems);

  for (const m of pool) {
    const sampledOut = notSampled.get(m.name);
    unassigned.push({
      name: m.name,
      reason: sampledOut
        ? `not in the sample of wave ${sampledOut} for build ${build}, and no later wave in ${source} selects it`
        : `no wave in ${source} selects it`,
    });
  }
  unassigned.sort((a, b) => naturalCompare(a.name, b.name));
  return { build, waves: planWaves, unassigned };
}

function emptyWave(source: string, index: number, wave: Wave, machines: Machine[], inScope: (m: Machine) => boolean): Problem {
  const select = compileSelector(wave.select);
  const matching = machines.filter((m) => inScope(m) && select.test(m)).length;
  const why =
    matching === 0
      ? "its select matches no machine in scope"
      : `the ${matching} machine(s) its select matches are all taken by earlier waves`;
  return {
    source,
    field: `waves[${index}] (${wave.name})`,
    reason: `selects no machine: ${why} (set optional: true if that is expected)`,
  };
}

/**
 * `perEnvironment` machines of each environment: every machine matching `always`, then the
 * others in order of a hash seeded by the build. When `always` alone exceeds the size, the
 * sample is exactly the `always` machines (they are never dropped to fit).
 */
export function sample(machines: Machine[], spec: Sample, build: string): Machine[] {
  const always = compileSelector(spec.always);
  const byEnv = new Map<string, Machine[]>();
  for (const m of machines) {
    const list = byEnv.get(m.environment);
    if (list) list.push(m);
    else byEnv.set(m.environment, [m]);
  }
  const out: Machine[] = [];
  for (const env of [...byEnv.keys()].sort(naturalCompare)) {
    const pinned: Machine[] = [];
    const others: { m: Machine; key: number }[] = [];
    for (const m of byEnv.get(env)!) {
      if (spec.always && always.test(m)) pinned.push(m);
      else others.push({ m, key: sampleKey(build, m.name) });
    }
    others.sort((a, b) => a.key - b.key || naturalCompare(a.m.name, b.m.name));
    const extra = Math.max(0, spec.perEnvironment - pinned.length);
    out.push(...pinned, ...others.slice(0, extra).map((o) => o.m));
  }
  return out;
}

function toPlanWaves(wave: Wave, picked: Machine[]): PlanWave[] {
  const clusters = groupClusters(picked, wave.concurrency ?? 1);
  const gate = toGate(wave.gate);
  if (!wave.phases) return [{ name: wave.name, gate, clusters }];
  const sizes = phaseSizes(wave.phases, clusters.length);
  const out: PlanWave[] = [];
  let start = 0;
  sizes.forEach((size, i) => {
    out.push({
      name: `${wave.name}/phase-${i + 1}`,
      // The wave's gate holds its first phase; later phases follow once the previous one is done.
      gate: i === 0 ? gate : null,
      clusters: clusters.slice(start, start + size),
      phase: { index: i + 1, of: sizes.length, wave: wave.name },
    });
    start += size;
  });
  return out;
}

/** Clusters in natural name order; nodes in patch order (see `compareNodes`). */
function groupClusters(machines: Machine[], concurrency: number): PlanCluster[] {
  const by = new Map<string, Machine[]>();
  for (const m of machines) {
    const list = by.get(m.cluster);
    if (list) list.push(m);
    else by.set(m.cluster, [m]);
  }
  return [...by.keys()].sort(naturalCompare).map((cluster) => {
    const nodes = by.get(cluster)!.sort(compareNodes).map((m) => m.name);
    const c: PlanCluster = { cluster, nodes };
    if (concurrency > 1) c.concurrency = concurrency;
    return c;
  });
}

function toGate(g: Gate | undefined): PlanGate | null {
  if (!g || (!g.approval && !g.soak)) return null;
  const gate: PlanGate = { approval: g.approval === true };
  if (g.soak) gate.soak = { hours: g.soak.hours, stack: g.soak.stack };
  return gate;
}

/**
 * Number of clusters in each phase, for `n` clusters. Each listed phase gets its share (rounded,
 * at least one cluster, never fewer than the phase before); `rest` takes what is left. Phases
 * that would be empty are dropped, and a final phase smaller than the one before it is merged
 * into it, so sizes never shrink and every cluster is in exactly one phase.
 */
export function phaseSizes(phases: Phase[], n: number): number[] {
  const sizes: number[] = [];
  let left = n;
  let prev = 0;
  for (const p of phases) {
    if (left === 0) break;
    let size: number;
    if (p === "rest") size = left;
    else {
      const want = typeof p === "number" ? p : Math.round((parseFloat(p) / 100) * n);
      size = Math.min(left, Math.max(1, want, prev));
    }
    sizes.push(size);
    left -= size;
    prev = size;
  }
  if (left > 0) sizes.push(left);
  while (sizes.length > 1 && sizes[sizes.length - 1] < sizes[sizes.length - 2]) {
    const last = sizes.pop()!;
    sizes[sizes.length - 1] += last;
  }
  return sizes;
}
