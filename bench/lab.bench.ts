/**
 * The main job on the lab, measured: `scripts/lab-rollout.sh` patches all 24 machines through
 * `pulumi up -s lab` to the next build (the mirror has builds 1-3: the lab stack alternates 2 and
 * 3, putting machines one build back with the agent first). `npm run bench -- lab`.
 *
 * Reports the makespan (first patch start to last healthcheck end, engine clock) against the
 * critical-path lower bound: waves run in sequence and a cluster's nodes one after another, so no
 * schedule beats the sum over waves of the slowest cluster's summed node times. The bound is
 * built from MACHINE-SIDE times only (issue 7 §3), per node: the agent's patch duration, then
 * from the moment the agent scheduled the reboot (`/var/lib/smith/reboot-scheduled`'s mtime) to
 * the moment sshd of the next boot started (`/run/sshd.pid`'s mtime) — the reboot delay, the
 * shutdown and boot to sshd — then one run of the agent's healthcheck, timed on the machine.
 * What the makespan adds over it is smith's and the engine's (waiting, SSH dials, checkpoint
 * writes). The engine-clock bound (a node's patch start to its healthcheck end) and wave
 * barriers are reported too, and the state's size per machine. Root, the lab and the Pulumi toolchain with the command
 * provider are needed; without them the benchmark reports why and measures nothing.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadInventory } from "../src/inventory/load";
import { planRollout } from "../src/plan/planner";
import { loadWaves } from "../src/waves/load";
import { ensureLab, labExec, labSkipReason } from "../test/support/lab";
import { exportStack, resetMachines } from "../test/support/lab-stack";
import { commandProviderUnavailableReason, pulumiUnavailableReason, REPO_ROOT, runPulumi } from "../test/support/pulumi";
import { clusterOrderProblems, criticalPathSeconds, nodeRunsFromState, nodeWindowsFromEvents } from "../test/support/rollout";
import type { BenchResult } from "./run";

const STACK = "lab";

function runScript(build: string, eventLog: string): Promise<{ code: number; seconds: number; output: string }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(REPO_ROOT, "scripts", "lab-rollout.sh"), "--build", build], {
      cwd: REPO_ROOT,
      env: { ...process.env, SMITH_EVENT_LOG: eventLog },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const take = (d: Buffer) => {
      output += d.toString();
      // Progress lines only: the step headers and results, so a long run shows where it is.
      for (const l of d.toString().split("\n")) if (/^\[\d+\/\d+\]/.test(l)) process.stderr.write(`bench lab: ${l}\n`);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, seconds: (Date.now() - t0) / 1000, output }));
  });
}

/** The lab stack's current smith:build, or null when the stack does not exist yet. */
async function currentBuild(): Promise<string | null> {
  const r = await runPulumi(["config", "get", "-s", STACK, "smith:build"], { cwd: REPO_ROOT });
  return r.code === 0 ? r.stdout.trim() : null;
}

/** Machine-side seconds of one node: patch + (reboot scheduled → sshd of the next boot) + health. */
async function machineSeconds(name: string, role: string, patchMs: number, rebooted: boolean): Promise<number | undefined> {
  const cmd = [
    "date -r /var/lib/smith/reboot-scheduled +%s.%N 2>/dev/null || echo none",
    "date -r /run/sshd.pid +%s.%N",
    `s=$(date +%s%N); /usr/local/lib/smith/smith-agent health --role '${role}' >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))`,
  ].join("; ");
  const r = await labExec(name, cmd);
  const [scheduled, sshdUp, healthMs] = r.stdout.trim().split("\n");
  if (r.code !== 0 || healthMs === undefined) return undefined;
  const reboot = rebooted && scheduled !== "none" ? Math.max(0, Number(sshdUp) - Number(scheduled)) : 0;
  return patchMs / 1000 + reboot + Number(healthMs) / 1000;
}

/** Resources and state bytes (as `pulumi stack export` prints them) per machine. */
function stateCost(exported: unknown, machines: number): { resourcesPerMachine: number; bytesPerMachine: number; total: number } {
  const resources = ((exported as { deployment?: { resources?: { type: string }[] } }).deployment?.resources ?? []) as { type: string }[];
  const perMachine = resources.filter((r) => r.type === "smith:fleet:NodePatch" || r.type.startsWith("command:remote:"));
  const bytes = perMachine.reduce((sum, r) => sum + JSON.stringify(r).length, 0);
  return { resourcesPerMachine: perMachine.length / Math.max(1, machines), bytesPerMachine: bytes / Math.max(1, machines), total: JSON.stringify(exported).length };
}

export async function run(): Promise<BenchResult[]> {
  const why = (process.getuid?.() === 0 ? null : "not root") ?? labSkipReason() ?? pulumiUnavailableReason() ?? commandProviderUnavailableReason();
  if (why) return [{ name: "lab rollout (skipped)", value: 0, unit: "s", note: why }];

  const lab = await ensureLab();
  // Builds 1-3 exist: go to 3 from 2, else to 2 from 1. Machines are put one build back first,
  // so every node really patches (and reboots), whatever earlier runs left.
  const target = (await currentBuild()) === "2" ? "3" : "2";
  const from = String(Number(target) - 1);
  const reset = await resetMachines(lab, from);
  process.stderr.write(`bench lab: ${reset.length} machine(s) put back at build ${from}; patching to ${target}\n`);

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "smith-bench-lab-"));
  const events = path.join(scratch, "events.jsonl");
  try {
    const r = await runScript(target, events);
    if (r.code !== 0) {
      const tailLines = r.output.trimEnd().split("\n").slice(-25).join("\n");
      throw new Error(`scripts/lab-rollout.sh --build ${target} exited ${r.code}:\n${tailLines}`);
    }
    const windows = nodeWindowsFromEvents(fs.readFileSync(events, "utf8"));
    const exported = await exportStack(STACK);
    const runs = nodeRunsFromState(exported);
    const machines = await loadInventory([lab.inventoryPath]);
    const plan = planRollout(machines, loadWaves(path.join(REPO_ROOT, "waves", "lab.yaml")), target);
    const problems = clusterOrderProblems(plan, runs, target, windows);
    if (problems.length) throw new Error(`rollout broke the one-node-per-cluster order:\n${problems.join("\n")}`);

    const ws = [...windows.values()];
    const makespan = Math.max(...ws.map((w) => w.end)) - Math.min(...ws.map((w) => w.start));
    const bound = criticalPathSeconds(plan, (n) => {
      const w = windows.get(n);
      return w ? w.end - w.start : undefined;
    });
    const byName = new Map(machines.map((m) => [m.name, m]));
    const machineTimes = new Map<string, number>();
    await Promise.all(
      [...runs.values()].map(async (x) => {
        if (x.patch?.build !== target) return;
        const t = await machineSeconds(x.name, byName.get(x.name)?.role ?? "", x.patch.durationMs, x.reboot?.rebooting === true);
        if (t !== undefined) machineTimes.set(x.name, t);
      }),
    );
    const machineBound = criticalPathSeconds(plan, (n) => machineTimes.get(n));
    const cost = stateCost(exported, runs.size);
    const patchBound = criticalPathSeconds(plan, (n) => {
      const p = runs.get(n)?.patch;
      return p?.build === target ? p.durationMs / 1000 : undefined;
    });
    // Idle time at wave boundaries: the next wave's first patch after this wave's last healthcheck.
    let barriers = 0;
    const spans = plan.waves
      .map((w) => w.clusters.flatMap((c) => c.nodes).flatMap((n) => (windows.has(n) ? [windows.get(n)!] : [])))
      .filter((x) => x.length > 0)
      .map((x) => ({ start: Math.min(...x.map((w) => w.start)), end: Math.max(...x.map((w) => w.end)) }));
    for (let i = 1; i < spans.length; i++) barriers += Math.max(0, spans[i]!.start - spans[i - 1]!.end);
    for (const w of plan.waves) {
      for (const c of w.clusters) {
        const cells = c.nodes.map((n) => `${n.slice(c.cluster.length + 1) || n} ${(windows.get(n)?.end ?? NaN) - (windows.get(n)?.start ?? NaN)}s/${((runs.get(n)?.patch?.durationMs ?? NaN) / 1000).toFixed(1)}s`);
        process.stderr.write(`bench lab: ${w.name} ${c.cluster}: ${cells.join(", ")}  (node/patch)\n`);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const patchS = [...runs.values()].filter((x) => x.patch?.build === target).map((x) => x.patch!.durationMs / 1000);
    const upLine = /pulumi up -s \S+ \(build \d+\): ok, ([0-9.]+)s/.exec(r.output);
    const path_ = bound.perWave.map((w) => `${w.wave}:${w.cluster} ${w.seconds}s`).join(" + ");
    const note = `${ws.length}/${machines.length} nodes patched to ${target}`;
    const machinePath = machineBound.perWave.map((w) => `${w.wave}:${w.cluster} ${w.seconds.toFixed(1)}s`).join(" + ");
    return [
      { name: "lab rollout: makespan (first patch → last healthcheck)", value: makespan, unit: "s", note },
      { name: "lab rollout: lower bound from machine-side times", value: machineBound.total, unit: "s", note: `patch + reboot (scheduled → sshd up) + health: ${machinePath}` },
      { name: "lab rollout: makespan / machine-side lower bound", value: makespan / Math.max(1, machineBound.total), unit: "x", note: "target ≤ 1.15 (issue 7 §3)" },
      { name: "lab rollout: node time on the machine, mean", value: mean([...machineTimes.values()]), unit: "s", note: "patch + reboot + health, machine clocks" },
      { name: "lab rollout: critical-path bound from engine node windows", value: bound.total, unit: "s", note: path_ },
      { name: "lab rollout: makespan / engine-window bound", value: makespan / Math.max(1, bound.total), unit: "x", note: "1.0 = no gaps between dependent nodes" },
      { name: "lab rollout: resources per machine in state", value: cost.resourcesPerMachine, unit: "", note: "NodePatch + its commands" },
      { name: "lab rollout: state bytes per machine", value: Math.round(cost.bytesPerMachine), unit: "B", note: `pulumi stack export, whole state ${cost.total} B` },
      { name: "lab rollout: wave barriers (idle between waves)", value: barriers, unit: "s", note: `${spans.length} waves` },
      { name: "lab rollout: lower bound from agent patch time only", value: patchBound.total, unit: "s", note: "the rest of a node's time is the reboot and health wait" },
      { name: "lab rollout: node time, mean (patch → healthcheck end)", value: mean(ws.map((w) => w.end - w.start)), unit: "s", note: "engine clock, 1 s resolution" },
      { name: "lab rollout: agent patch time, mean", value: mean(patchS), unit: "s", note: "apt update + dist-upgrade of 3 packages" },
      { name: "lab rollout: pulumi up wall time", value: upLine ? Number(upLine[1]) : NaN, unit: "s", note: "program start, checkpoint writes included" },
      { name: "lab rollout: scripts/lab-rollout.sh wall time", value: r.seconds, unit: "s", note: "all steps, toolchain and lab already installed" },
    ];
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
