import type { PlanWave } from "../plan/types";
import { Budget, budgetClusters } from "./schema";

/**
 * The per-wave failure budget. A cluster counts against its wave's budget when one of its
 * machines of that wave is halted (`smith:halted`) or is about to be: it failed in the running
 * update and has no retry left. Pure; run-stage.ts feeds it engine events.
 */

/** Clusters per plan wave that contain a halted machine, and whether that is over budget. */
export function budgetProblems(waves: readonly PlanWave[], halted: ReadonlySet<string>, budget: Budget): string[] {
  const out: string[] = [];
  for (const w of waves) {
    const failed = w.clusters.filter((c) => c.nodes.some((n) => halted.has(n))).map((c) => c.cluster);
    const allowed = budgetClusters(budget, w.clusters.length);
    if (failed.length > allowed) {
      out.push(`wave ${w.name}: ${failed.length} of ${w.clusters.length} cluster(s) halted (${failed.join(", ")}), failure budget ${typeof budget === "number" ? budget : `${budget} = ${allowed}`}`);
    }
  }
  return out;
}

/**
 * Watches one running update. `failed(machine)` is called for every machine step the engine
 * reports failed; it returns the budget problems the first time the machines that will halt
 * (failed attempts so far + this one > retries) plus those already halted exceed a wave's budget,
 * and null otherwise (before, and after it tripped once). Machines outside the stage's waves
 * are ignored (they cannot run in this stage's update).
 */
export class BudgetWatch {
  private readonly halting = new Set<string>();
  private readonly inRange: Set<string>;
  private tripped = false;

  constructor(
    private readonly waves: readonly PlanWave[],
    private readonly halted: ReadonlySet<string>,
    private readonly budget: Budget,
    /** Retries a machine gets after its first failed attempt (0: the first failure halts it). */
    private readonly retries: number,
    /** Failed attempts of a machine recorded before this update (the journal's count). */
    private readonly attemptsBefore: (machine: string) => number,
  ) {
    this.inRange = new Set(waves.flatMap((w) => w.clusters.flatMap((c) => c.nodes)));
  }

  failed(machine: string): string[] | null {
    if (this.tripped || !this.inRange.has(machine) || this.halting.has(machine)) return null;
    if (this.attemptsBefore(machine) + 1 <= this.retries) return null; // it will be retried
    this.halting.add(machine);
    const problems = budgetProblems(this.waves, new Set([...this.halted, ...this.halting]), this.budget);
    if (!problems.length) return null;
    this.tripped = true;
    return problems;
  }

  /** Machines that failed in this update with no retry left. */
  get exhausted(): ReadonlySet<string> {
    return this.halting;
  }
}
