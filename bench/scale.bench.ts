/**
 * `npm run bench -- scale`: `pulumi up` of the real program over a simulated fleet (`smith sim`,
 * one process, in-memory machines speaking the agent contract over SSH) of 500 / 1,000 / 2,000 /
 * 5,000 machines: clusters of 5 (3 masters + a haproxy pair), four regions, the production waves
 * with their gates removed (the sim has no dev stack to soak and nobody approves).
 *
 * Per size: wall time of `pulumi up`; makespan (first patch start → last healthcheck end, engine
 * clock) against the critical-path lower bound (sum over waves of the slowest cluster's summed
 * node windows) and against the sim's intrinsic bound (same path, each node only its configured
 * patch + reboot delay + downtime); engine overhead = wall − intrinsic bound, total and per
 * machine; CPU seconds of the pulumi process tree (GNU time: waited-for children included);
 * peak RSS of each process (VmHWM sampled from /proc every 2 s, so a process living < 2 s is
 * missed); state size; bytes the pulumi CLI wrote (wchar, event log subtracted); and the growth
 * exponent of the overhead between consecutive sizes (log(o2/o1) / log(n2/n1): 1.0 = linear).
 * Checks every machine reached the build (sim state) and that no two machines of a cluster were
 * in flight at once (engine events). SMITH_SCALE_SIZES=200,500 picks sizes;
 * SMITH_SCALE_PATCH_SECONDS / SMITH_SCALE_REBOOT_SECONDS the sim's timings.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseInventory } from "../src/inventory/load";
import { labNetwork } from "../src/lab/lab";
import { planRollout } from "../src/plan/planner";
import { pulumiEnv } from "../src/pulumi/env";
import { downSim, statusSim, upSim } from "../src/sim/control";
import { simPaths, type SimPaths } from "../src/sim/files";
import { automationStepRunner } from "../src/shard/automation";
import { lockstepSteps, runLockstep, runTogether } from "../src/shard/lockstep";
import { shardFleet } from "../src/shard/shard";
import { parseDocument } from "yaml";
import { loadWaves } from "../src/waves/load";
import { commandProviderUnavailableReason, pulumiUnavailableReason, REPO_ROOT } from "../test/support/pulumi";
import { clusterOrderProblems, criticalPathSeconds, nodeRunsFromState, nodeWindowsFromEvents, waveLockstepProblems } from "../test/support/rollout";
import type { BenchResult } from "./run";

const STACK = "lab-scale";
const BUILD = "2";
const SIZES = (process.env.SMITH_SCALE_SIZES ?? "500,1000,2000,5000").split(",").map(Number);
const PATCH_S = Number(process.env.SMITH_SCALE_PATCH_SECONDS ?? 5);
const REBOOT_S = Number(process.env.SMITH_SCALE_REBOOT_SECONDS ?? 3);
/** The agent's default reboot delay (stack config leaves it unset). */
const REBOOT_DELAY_S = 5;
/** > 0: split the fleet into shard stacks of about this many machines, run in lockstep. */
const SHARD_SIZE = Number(process.env.SMITH_SCALE_SHARD_SIZE ?? 0);
/** How shards keep their waves in lockstep: `barrier` (one up per shard, smith:lockstepDir) or `steps` (an up per wave, smith:untilWave). */
const LOCKSTEP = process.env.SMITH_SCALE_LOCKSTEP ?? "barrier";

function pulumiSync(args: string[], env: NodeJS.ProcessEnv): { code: number; stdout: string; stderr: string } {
  const r = spawnSync("pulumi", args, { cwd: REPO_ROOT, env, encoding: "utf8", maxBuffer: 1 << 30 });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** Descendants of `root` (pids), from /proc's ppid links. */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) if (pp === p) (out.push(c), walk(c));
  };
  walk(root);
  return out;
}

function procField(pid: number, file: string, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(fs.readFileSync(`/proc/${pid}/${file}`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function comm(pid: number): string {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    const exe = path.basename(cmd[0] ?? "?");
    if (exe === "node") return cmd.some((a) => a.includes("language-host") || a.includes("run.js") || a.includes("@pulumi")) ? "node (program)" : "node";
    return exe;
  } catch {
    return "?";
  }
}

interface Peak {
  rssKb: Map<string, number>;
  /** Bytes written by each pulumi CLI process (max wchar seen), summed. */
  pulumiWchar: number;
  /** CPU seconds of every sampled process but the sim (last utime+stime seen), summed. */
  cpu: number;
  /** The same per process kind (pulumi CLI, program, provider, barrier steps, the runner). */
  cpuByKind: Map<string, number>;
}

const TICK = 100; // USER_HZ on Linux

/** Samples peak RSS per process kind under `root` (the sim apart) until stopped. */
function sampler(root: number, simPid: number): { stop(): Peak } {
  const rssKb = new Map<string, number>();
  const wchar = new Map<number, number>();
  const cpu = new Map<number, number>();
  const kinds = new Map<number, string>();
  const tick = () => {
    for (const pid of [root, ...descendants(root)]) {
      if (pid === simPid) continue;
      const hwm = procField(pid, "status", "VmHWM");
      const kind = comm(pid);
      if (hwm !== undefined) rssKb.set(kind, Math.max(rssKb.get(kind) ?? 0, hwm));
      if (kind === "pulumi") wchar.set(pid, Math.max(wchar.get(pid) ?? 0, procField(pid, "io", "wchar") ?? 0));
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        cpu.set(pid, (Number(f[11]) + Number(f[12])) / TICK);
        kinds.set(pid, pid === process.pid ? "runner (this process)" : kind);
      } catch {
        // gone
      }
    }
    const simHwm = procField(simPid, "status", "VmHWM");
    if (simHwm !== undefined) rssKb.set("smith sim", Math.max(rssKb.get("smith sim") ?? 0, simHwm));
  };
  const timer = setInterval(tick, 2000);
  tick();
  const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  return {
    stop() {
      clearInterval(timer);
      const cpuByKind = new Map<string, number>();
      for (const [pid, c] of cpu) cpuByKind.set(kinds.get(pid)!, (cpuByKind.get(kinds.get(pid)!) ?? 0) + c);
      // The runner itself (the Automation API when sharded) is reported on its own, not in the tree's total.
      return { rssKb, pulumiWchar: sum(wchar), cpu: sum(cpu) - (cpu.get(process.pid) ?? 0), cpuByKind };
    },
  };
}

interface SizeResult {
  n: number;
  wall: number;
  cpu: number;
  intrinsic: number;
  results: BenchResult[];
}

async function one(n: number): Promise<SizeResult> {
  // --event-log exists only with PULUMI_DEBUG_COMMANDS set.
  const env = { ...pulumiEnv(REPO_ROOT, process.env, STACK), PULUMI_DEBUG_COMMANDS: "true" };
  const p = simPaths(REPO_ROOT, path.join(REPO_ROOT, ".smith", "sim-bench"));
  await downSim(p);
  pulumiSync(["stack", "rm", "-s", STACK, "--yes", "--force"], env);
  const init = pulumiSync(["stack", "init", STACK], env);
  if (init.code !== 0) throw new Error(`pulumi stack init ${STACK}: ${init.stderr.trim()}`);
  const up = await upSim(p, {
    shape: { machines: n, clusters: Math.round(n / 5), regions: 4, layout: "fleet" },
    network: labNetwork(),
    behaviour: { patchSeconds: PATCH_S, rebootSeconds: REBOOT_S },
    hostKeys: "machine",
    stack: STACK,
    build: BUILD,
    waves: null,
  });
  process.stderr.write(`bench scale: ${n} sim machines up in ${up.seconds.toFixed(1)} s (pid ${up.state.pid})\n`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "smith-bench-scale-"));
  const events = path.join(scratch, "events.jsonl");
  try {
    const t0 = Date.now();
    if (SHARD_SIZE > 0) return await sharded(n, p, env, events, up.state.pid, t0);
    const child = spawn("/usr/bin/time", ["-f", "TIME %e %U %S", "pulumi", "up", "-s", STACK, "--yes", "--non-interactive", "--skip-preview", "--continue-on-error", "--event-log", events], {
      cwd: REPO_ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const s = sampler(child.pid!, up.state.pid);
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20000)));
    child.stderr.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20000)));
    const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? 1)));
    const peak = s.stop();
    const wall = (Date.now() - t0) / 1000;
    const time = /TIME ([0-9.]+) ([0-9.]+) ([0-9.]+)/.exec(out);
    const cpu = time ? Number(time[2]) + Number(time[3]) : NaN;
    process.stderr.write(`bench scale: ${n}: pulumi up exited ${code} after ${wall.toFixed(0)} s\n`);
    if (!fs.existsSync(events)) throw new Error(`pulumi up wrote no event log:\n${out.slice(-3000)}`);

    return { n, wall, cpu, ...(await figures({ n, p, env, events, stacks: [STACK], wall, cpu, peak, code, note: "one stack" })) };
  } finally {
    await downSim(p);
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** The shard stacks of the sim's inventory, each with the base stack's config plus its shard, run in lockstep. */
async function sharded(n: number, p: SimPaths, env: NodeJS.ProcessEnv, events: string, simPid: number, t0: number): Promise<SizeResult> {
  const inventory = parseInventory(fs.readFileSync(p.inventory, "utf8"), p.inventory);
  const shards = shardFleet(inventory, { size: SHARD_SIZE, by: "region" }).map((s) => s.name);
  const base = fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`), "utf8");
  const lockDir = path.join(REPO_ROOT, ".smith", "sim-bench-lockstep");
  fs.rmSync(lockDir, { recursive: true, force: true });
  const stacks: string[] = [];
  for (const shard of shards) {
    const stack = `${STACK}-${shard}`;
    // A killed earlier bench leaves its throwaway stacks locked: the lock goes with them.
    fs.rmSync(path.join(REPO_ROOT, ".smith", "state", ".pulumi", "locks", "organization", "smith", stack), { recursive: true, force: true });
    pulumiSync(["stack", "rm", "-s", stack, "--yes", "--force"], env);
    const init = pulumiSync(["stack", "init", stack], env);
    if (init.code !== 0) throw new Error(`pulumi stack init ${stack}: ${init.stderr.trim()}`);
    const doc = parseDocument(base);
    doc.setIn(["config", "smith:shard"], shard);
    doc.setIn(["config", "smith:shardSize"], String(SHARD_SIZE));
    if (LOCKSTEP === "barrier") doc.setIn(["config", "smith:lockstepDir"], path.relative(REPO_ROOT, lockDir));
    fs.writeFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), doc.toString());
    stacks.push(stack);
  }
  const t1 = Date.now();
  const s = sampler(process.pid, simPid);
  const fd = fs.openSync(events, "w");
  const run = automationStepRunner({ workDir: REPO_ROOT, env, onEvent: (_stack, e) => fs.writeSync(fd, JSON.stringify(e) + "\n") });
  const log = (l: string) => process.stderr.write(`bench scale: ${n}: lockstep ${l}\n`);
  let failed: string | undefined;
  let how: string;
  if (LOCKSTEP === "barrier") {
    const r = await runTogether({ shards: shards.map((shard, i) => ({ stack: stacks[i]!, shard })), run: (stack) => run(stack, undefined), dir: lockDir, build: BUILD, log });
    failed = r.failed.length ? r.failed.map((x) => x.summary).join("; ") : undefined;
    how = "one up each, wave barriers";
  } else {
    const r = await runLockstep({ stacks, steps: lockstepSteps(loadWaves(p.waves)), run, log });
    failed = r.failed ? `at ${r.failed.step}: ${r.failed.stacks.map((x) => x.summary).join("; ")}` : undefined;
    how = `${r.completed.length} untilWave steps`;
  }
  fs.closeSync(fd);
  const peak = s.stop();
  const wall = (Date.now() - t1) / 1000;
  const note = `${stacks.length} shard stacks of ≤${SHARD_SIZE} in lockstep (${how}${failed ? `; FAILED ${failed}` : ""}); setup ${((t1 - t0) / 1000).toFixed(0)} s`;
  return { n, wall, cpu: peak.cpu, ...(await figures({ n, p, env, events, stacks, wall, cpu: peak.cpu, peak, code: failed ? 1 : 0, note })) };
}

async function figures(a: { n: number; p: SimPaths; env: NodeJS.ProcessEnv; events: string; stacks: string[]; wall: number; cpu: number; peak: Peak; code: number; note: string }): Promise<{ intrinsic: number; results: BenchResult[] }> {
  const { n, p, env, events, wall, cpu, peak, code } = a;
  {
    const status = await statusSim(p);
    const atBuild = status.machines.filter((m) => m.build === BUILD).length;
    const runs = new Map(a.stacks.flatMap((st) => [...nodeRunsFromState(JSON.parse(pulumiSync(["stack", "export", "-s", st], env).stdout || "{}"))]));
    const inventory = parseInventory(fs.readFileSync(p.inventory, "utf8"), p.inventory);
    const plan = planRollout(inventory, loadWaves(p.waves), BUILD);
    const eventText = fs.readFileSync(events, "utf8");
    const windows = nodeWindowsFromEvents(eventText);
    const order = clusterOrderProblems(plan, runs, BUILD, windows);
    const lockstep = waveLockstepProblems(plan, windows);
    const ws = [...windows.values()];
    const makespan = ws.length ? Math.max(...ws.map((w) => w.end)) - Math.min(...ws.map((w) => w.start)) : NaN;
    const bound = criticalPathSeconds(plan, (x) => (windows.has(x) ? windows.get(x)!.end - windows.get(x)!.start : undefined)).total;
    const intrinsic = criticalPathSeconds(plan, () => PATCH_S + REBOOT_DELAY_S + REBOOT_S).total;
    const stateBytes = a.stacks.reduce((sum, st) => {
      const f = path.join(REPO_ROOT, ".smith", "state", ".pulumi", "stacks", "smith", `${st}.json`);
      return sum + (fs.existsSync(f) ? fs.statSync(f).size : NaN);
    }, 0);
    const written = peak.pulumiWchar - fs.statSync(events).size;
    const load = os.loadavg()[0]!.toFixed(1);
    const tag = `${n} machines`;
    const results: BenchResult[] = [
      { name: `scale ${n}: pulumi up wall time`, value: wall, unit: "s", note: `exit ${code}; ${a.note}; load ${load} on ${os.cpus().length} cores` },
      { name: `scale ${n}: machines at build ${BUILD}`, value: atBuild, unit: "machines", note: `of ${n}` },
      { name: `scale ${n}: cluster order violations (engine events)`, value: order.length, unit: "", note: order[0] ?? "none" },
      { name: `scale ${n}: wave order violations across stacks (engine events)`, value: lockstep.length, unit: "", note: lockstep[0] ?? "none" },
      { name: `scale ${n}: makespan (first patch → last health)`, value: makespan, unit: "s", note: `${ws.length} node windows` },
      { name: `scale ${n}: critical-path lower bound (node windows)`, value: bound, unit: "s", note: `makespan/bound ${(makespan / bound).toFixed(2)}x` },
      { name: `scale ${n}: intrinsic bound (sim timings)`, value: intrinsic, unit: "s", note: `node = ${PATCH_S}+${REBOOT_DELAY_S}+${REBOOT_S} s; makespan/intrinsic ${(makespan / intrinsic).toFixed(2)}x` },
      { name: `scale ${n}: engine overhead (wall − intrinsic)`, value: wall - intrinsic, unit: "s", note: `${(((wall - intrinsic) / n) * 1000).toFixed(0)} ms per machine` },
      { name: `scale ${n}: CPU of pulumi tree (user+sys)`, value: cpu, unit: "s", note: `${((cpu / n) * 1000).toFixed(0)} ms per machine` },
      { name: `scale ${n}: state size`, value: stateBytes / 1e6, unit: "MB", note: tag },
      { name: `scale ${n}: bytes written by pulumi CLI`, value: written / 1e6, unit: "MB", note: "wchar minus event log; state checkpoints + history" },
      ...[...peak.cpuByKind].map(([k, v]) => ({ name: `scale ${n}: CPU ${k}`, value: v, unit: "s", note: `${((v / n) * 1000).toFixed(0)} ms per machine; sampled every 2 s (a process living < 2 s is missed)` })),
      ...[...peak.rssKb].map(([k, v]) => ({ name: `scale ${n}: peak RSS ${k}`, value: v / 1024, unit: "MB", note: `${tag}; max over processes of that kind` })),
    ];
    return { intrinsic, results };
  }
}

export async function run(): Promise<BenchResult[]> {
  const why = pulumiUnavailableReason() ?? commandProviderUnavailableReason();
  if (why) return [{ name: "scale (skipped)", value: 0, unit: "s", note: why }];
  const out: BenchResult[] = [];
  const sizes: SizeResult[] = [];
  for (const n of SIZES) {
    const r = await one(n);
    sizes.push(r);
    out.push(...r.results);
    for (const x of r.results) process.stderr.write(`bench scale: ${x.name} = ${x.value} ${x.unit} ${x.note ?? ""}\n`);
  }
  const exp = (a: SizeResult, b: SizeResult, f: (s: SizeResult) => number) => Math.log(f(b) / f(a)) / Math.log(b.n / a.n);
  for (let i = 1; i < sizes.length; i++) {
    const [a, b] = [sizes[i - 1]!, sizes[i]!];
    out.push({ name: `scale growth exponent ${a.n}→${b.n}: engine overhead`, value: exp(a, b, (s) => s.wall - s.intrinsic), unit: "", note: "1.0 = linear; target ≤ 1.1 (1,000→5,000)" });
    out.push({ name: `scale growth exponent ${a.n}→${b.n}: CPU`, value: exp(a, b, (s) => s.cpu), unit: "", note: "load-independent" });
  }
  return out;
}
