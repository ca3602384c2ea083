/**
 * The Pulumi program evaluated under mocks (no engine, no SSH): config → inventory → waves →
 * plan → PatchWave/ClusterRollout/NodePatch → outputs, for 1,000 and 5,000 machines.
 * `npm run bench -- program`. Reports ms per machine and resources registered; the cost is
 * dominated by the Pulumi SDK's per-resource work (each machine is 5 resources).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { performance } from "perf_hooks";
import { stringify } from "yaml";
import { generateFleet } from "../src/inventory/generate";
import { installMocks } from "../test/unit/components.mocks";
import type { BenchResult } from "./run";

/** `SMITH_BENCH_PROGRAM_SIZES=200,400` for a quick run. */
const SIZES = (process.env.SMITH_BENCH_PROGRAM_SIZES ?? "1000,5000").split(",").map(Number);
const WAVES = `
waves:
  - name: canary
    select: { role: test }
    optional: true
  - name: rest
`;

export async function run(): Promise<BenchResult[]> {
  const rec = installMocks({ stack: "bench", record: false });
  const pulumi = await import("@pulumi/pulumi");
  const { main } = await import("../stacks/program");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-bench-"));
  const results: BenchResult[] = [];
  try {
    fs.writeFileSync(path.join(dir, "waves.yaml"), WAVES);
    fs.writeFileSync(path.join(dir, "key"), "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n-----END OPENSSH PRIVATE KEY-----\n");
    for (const n of SIZES) {
      const fleet = generateFleet({ machines: n, clusters: Math.max(1, Math.round(n / 10)), seed: n });
      fs.writeFileSync(path.join(dir, `inv-${n}.yaml`), stringify({ machines: fleet }));
      pulumi.runtime.setAllConfig(
        {
          "smith:build": "42",
          "smith:inventory": `inv-${n}.yaml`,
          "smith:waves": "waves.yaml",
          "smith:repoUrl": "http://127.0.0.1:1/apt",
          "smith:sshPrivateKeyPath": "key",
        },
        [],
      );
      rec.reset();
      // Peak heap while the program runs (a before/after difference depends on GC timing).
      let peakHeap = process.memoryUsage().heapUsed;
      const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 200);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const outputs = await main({ projectDir: dir });
      // Resolving `nodes` waits for every NodePatch: all registrations are done then.
      await new Promise((resolve) => (outputs.nodes as import("@pulumi/pulumi").Output<unknown>).apply(resolve));
      await rec.settle();
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      clearInterval(sampler);
      const heapMb = Math.max(peakHeap, process.memoryUsage().heapUsed) / 1e6;
      const shape = `${n} machines, ${rec.count()} resources`;
      results.push({ name: `program ${n} machines: per machine`, value: ms / n, unit: "ms", note: shape });
      // CPU time too: on a shared machine wall time also measures the neighbours.
      results.push({ name: `program ${n} machines: CPU per machine`, value: cpuMs / n, unit: "ms", note: "user+system, all threads" });
      results.push({ name: `program ${n} machines: total`, value: ms / 1000, unit: "s", note: `peak heap ${heapMb.toFixed(0)} MB` });
      process.stderr.write(`bench: program ${n}: ${(ms / 1000).toFixed(1)} s, ${rec.count()} resources\n`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
