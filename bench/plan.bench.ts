/**
 * Planner speed on a 10,000-machine / 1,000-cluster fleet (target: well under 1 s per plan).
 * `npm run bench -- plan`. Figures are medians of several runs after a warm-up.
 */
import * as path from "path";
import { performance } from "perf_hooks";
import { stringify } from "yaml";
import { generateFleet } from "../src/inventory/generate";
import { parseInventory } from "../src/inventory/load";
import { planRollout } from "../src/plan/planner";
import { renderPlan } from "../src/plan/render";
import { loadWaves } from "../src/waves/load";
import type { BenchResult } from "./run";

const MACHINES = 10_000;
const CLUSTERS = 1_000;
const RUNS = 7;

function median(fn: () => unknown): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

export async function run(): Promise<BenchResult[]> {
  const fleet = generateFleet({ machines: MACHINES, clusters: CLUSTERS, seed: 10 });
  const shape = `${MACHINES} machines, ${CLUSTERS} clusters`;
  const results: BenchResult[] = [];
  for (const file of ["production.yaml", "buildTestDevToStage.yaml"]) {
    const waves = loadWaves(path.join(__dirname, "..", "waves", file));
    let planned = 0;
    const ms = median(() => {
      const plan = planRollout(fleet, waves, "4242");
      planned = MACHINES - plan.unassigned.length;
    });
    results.push({ name: `plan ${file}`, value: ms, unit: "ms", note: `${shape}; ${planned} planned` });
    results.push({ name: `plan ${file} per machine`, value: ms / MACHINES, unit: "ms" });
  }
  const waves = loadWaves(path.join(__dirname, "..", "waves", "production.yaml"));
  const plan = planRollout(fleet, waves, "4242");
  results.push({ name: "render json+table+markdown", value: median(() => ["json", "table", "markdown"].forEach((f) => renderPlan(plan, f as "json"))), unit: "ms", note: shape });
  const text = stringify({ machines: fleet });
  results.push({ name: "parse+validate inventory YAML", value: median(() => parseInventory(text, "bench.yaml")), unit: "ms", note: `${shape}; ${(text.length / 1e6).toFixed(1)} MB` });
  return results;
}
