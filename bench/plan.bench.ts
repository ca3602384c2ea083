/**
 * Planner speed on a 10,000-machine / 1,000-cluster fleet (target: well under 1 s per plan).
 * `npm run bench -- plan`. Figures are medians of several runs after a warm-up.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
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
  results.push(...wholeCli(text));
  return results;
}

/**
 * The whole CLI as a user runs it: `node bin/smith.js plan` of the 10,000-machine inventory, a new
 * process each time (startup, transpile cache, YAML, plan, render). Median of RUNS after one run
 * that fills the transpile cache. CPU (user+sys, from GNU time) is reported beside wall time
 * because on a shared box the wall time mostly measures the neighbours.
 */
function wholeCli(text: string): BenchResult[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-bench-plan-"));
  try {
    const inv = path.join(dir, "inventory.yaml");
    fs.writeFileSync(inv, text);
    const root = path.join(__dirname, "..");
    const out: BenchResult[] = [];
    for (const format of ["table", "json"]) {
      const runs: { wall: number; cpu: number }[] = [];
      for (let i = 0; i <= RUNS; i++) {
        const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S", process.execPath, path.join(root, "bin", "smith.js"), "plan", "--inventory", inv, "--waves", path.join(root, "waves", "production.yaml"), "--build", "42", "--format", format], { encoding: "utf8", maxBuffer: 64 << 20 });
        if (r.status !== 0) throw new Error(`smith plan exited ${r.status}: ${r.stderr.slice(-500)}`);
        const [wall, user, sys] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number) as [number, number, number];
        if (i > 0) runs.push({ wall, cpu: user + sys });
      }
      const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      out.push({ name: `smith plan CLI --format ${format} (whole process)`, value: med(runs.map((x) => x.wall)), unit: "s", note: `${MACHINES} machines YAML; wall, median of ${RUNS}; os load ${os.loadavg()[0]!.toFixed(1)}` });
      out.push({ name: `smith plan CLI --format ${format} CPU (user+sys)`, value: med(runs.map((x) => x.cpu)), unit: "s", note: "target < 1 s" });
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
