import { haltedFor, parseStackConfig, StackConfig, StackConfigSchema } from "../config/stack-config";
import { UserError } from "../errors";
import { loadInventory } from "../inventory/load";
import { planRollout } from "../plan/planner";
import type { Plan, PlanWave } from "../plan/types";
import { loadWaves } from "../waves/load";
import type { ConfigValue, StackDriver } from "./driver";
import { Budget, PipelineFile } from "./schema";

/**
 * One stack as the pipeline sees it for build N: its driver, validated config (read fresh: the
 * inventory may have changed between runs), the plan for N, and the settings that override the
 * pipeline file's.
 */
export interface StackInfo {
  stack: string;
  driver: StackDriver;
  raw: Record<string, ConfigValue>;
  config: StackConfig;
  plan: Plan;
  /** Machine name → {wave, cluster} in the plan. */
  where: Map<string, { wave: string; cluster: string }>;
  retries: number;
  backoffSeconds: number;
  budget: Budget;
  halted: Set<string>;
}

/** Loads a stack's config and plans build `build` over its inventory (the config's own build is ignored). */
export async function loadStackInfo(driver: StackDriver, build: string, pipeline: PipelineFile, projectDir: string): Promise<StackInfo> {
  const raw = await driver.config();
  const values: Record<string, string> = {};
  const secret = new Set<string>();
  for (const [k, v] of Object.entries(raw)) {
    values[k] = v.secret ? "<secret>" : v.value;
    if (v.secret) secret.add(k);
  }
  values.build = build;
  // smith:untilWave is scale's key (contract 5); until the schema has it, the pipeline does not set it.
  if (!("untilWave" in StackConfigSchema.shape)) delete values.untilWave;
  let config: StackConfig;
  try {
    config = parseStackConfig({ values, secret }, projectDir);
  } catch (err) {
    throw err instanceof UserError ? new UserError(`stack ${driver.stack}: ${err.message}`) : err;
  }
  const machines = await loadInventory(config.inventory);
  const plan = planRollout(machines, loadWaves(config.waves), build);
  const where = new Map<string, { wave: string; cluster: string }>();
  for (const w of plan.waves) for (const c of w.clusters) for (const n of c.nodes) where.set(n, { wave: w.name, cluster: c.cluster });
  return {
    stack: driver.stack,
    driver,
    raw,
    config,
    plan,
    where,
    retries: config.retries ?? pipeline.retries.count,
    backoffSeconds: config.retryBackoffSeconds ?? pipeline.retries.backoffSeconds,
    budget: config.failureBudget === undefined ? pipeline.failureBudget : /%$/.test(config.failureBudget) ? config.failureBudget : Number(config.failureBudget),
    halted: haltedFor(config.halted, build),
  };
}

/** The wave-file wave a plan wave belongs to (a phase belongs to its wave). */
export function fileWave(w: PlanWave): string {
  return w.phase?.wave ?? w.name;
}

/**
 * The plan waves of a run stage: after `fromWave` (the wave where the stack's previous run stage
 * ended, exclusive) up to `untilWave` (inclusive; every remaining wave when absent). Unknown
 * wave names are user errors naming the pipeline file.
 */
export function stageWaves(plan: Plan, source: string, fromWave: string | undefined, untilWave: string | undefined): PlanWave[] {
  const names = plan.waves.map(fileWave);
  const idx = (w: string) => {
    const i = names.lastIndexOf(w);
    if (i < 0) {
      const known = [...new Set(names)].join(", ");
      throw new UserError(`${source}: untilWave: wave ${JSON.stringify(w)} is not in the stack's plan (waves: ${known})`);
    }
    return i;
  };
  const start = fromWave === undefined ? 0 : idx(fromWave) + 1;
  const end = untilWave === undefined ? plan.waves.length - 1 : idx(untilWave);
  return plan.waves.slice(start, end + 1);
}

/**
 * Machines held behind a halted machine: in plan order (later waves included), the halted
 * machine and every node of its cluster after it, as the program holds them. Returns name →
 * the halted machine it waits behind. Pass every wave of the plan.
 */
export function heldBehindHalts(waves: readonly PlanWave[], halted: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  const by = new Map<string, string>();
  for (const w of waves) {
    for (const c of w.clusters) {
      for (const n of c.nodes) {
        if (halted.has(n) && !by.has(c.cluster)) by.set(c.cluster, n);
        const b = by.get(c.cluster);
        if (b !== undefined) out.set(n, b);
      }
    }
  }
  return out;
}
