/**
 * Reading a finished rollout back for the end-to-end test and the lab benchmark: what each node's
 * agent reported (from the stack's state), when the engine ran each node's steps (from
 * `pulumi up --event-log`), and the checks the rollout must pass against its plan (one node per
 * cluster at a time, in plan order; waves in order). The checks are pure and return problems as
 * lines, so a failing test names every violation at once.
 */
import type { HealthReport, PatchReport, RebootReport } from "../../src/agent/report";
import { lastJsonLine, parseHealthReport, parsePatchReport, parseRebootReport, RebootReportSchema } from "../../src/agent/report";
import type { Plan } from "../../src/plan/types";

/** One machine's last run as the state records it: each step's agent JSON line, when present. */
export interface NodeRun {
  name: string;
  patch?: PatchReport;
  reboot?: RebootReport;
  health?: HealthReport;
}

interface StateResource {
  urn: string;
  type: string;
  outputs?: Record<string, unknown>;
}

const STEP = /::([^:]+)-(patch|reboot|health)$/;

/** Per machine, from `pulumi stack export` JSON: the agent's report of each step the state holds. */
export function nodeRunsFromState(exported: unknown): Map<string, NodeRun> {
  const resources = ((exported as { deployment?: { resources?: StateResource[] } }).deployment?.resources ?? []) as StateResource[];
  const runs = new Map<string, NodeRun>();
  for (const r of resources) {
    if (r.type !== "command:remote:Command") continue;
    const m = STEP.exec(r.urn);
    if (!m) continue;
    const [, name, step] = m as unknown as [string, string, "patch" | "reboot" | "health"];
    const stdout = typeof r.outputs?.stdout === "string" ? r.outputs.stdout : "";
    const run = runs.get(name) ?? { name };
    try {
      if (step === "patch") {
        run.patch = parsePatchReport(stdout);
        // The patch step schedules the reboot itself (`rebooting`, `bootId` on its line); an older
        // state has a separate `<node>-reboot` resource instead.
        const reboot = RebootReportSchema.safeParse(lastJsonLine(stdout, "patch report"));
        if (reboot.success && !run.reboot) run.reboot = reboot.data;
      } else if (step === "reboot") run.reboot = parseRebootReport(stdout);
      else run.health = parseHealthReport(stdout);
    } catch {
      // A step without a readable report (secret-wrapped or failed) counts as absent.
    }
    runs.set(name, run);
  }
  return runs;
}

/** When the engine started a node's patch and finished its healthcheck (unix seconds, as events carry). */
export interface NodeWindow {
  name: string;
  start: number;
  end: number;
}

interface EngineEvent {
  timestamp?: number;
  resourcePreEvent?: { metadata?: { urn?: string; op?: string } };
  resOutputsEvent?: { metadata?: { urn?: string; op?: string } };
}

/** Operations that run a command; "same" (nothing to do) and deletes of replaced resources do not. */
const RUNS = new Set(["create", "create-replacement", "update", "replace"]);

/**
 * Per machine, from the `--event-log` file (one JSON event per line): the window from the start
 * of its patch step to the end of its healthcheck step, for nodes whose commands ran.
 */
export function nodeWindowsFromEvents(eventLog: string): Map<string, NodeWindow> {
  const starts = new Map<string, number>();
  const ends = new Map<string, number>();
  for (const line of eventLog.split("\n")) {
    if (!line.trim().startsWith("{")) continue;
    let e: EngineEvent;
    try {
      e = JSON.parse(line) as EngineEvent;
    } catch {
      continue; // a line cut short by a killed CLI
    }
    const pre = e.resourcePreEvent?.metadata;
    const out = e.resOutputsEvent?.metadata;
    const meta = pre ?? out;
    if (!meta?.urn || !RUNS.has(meta.op ?? "") || e.timestamp === undefined) continue;
    const m = STEP.exec(meta.urn);
    if (!m) continue;
    const [, name, step] = m;
    if (pre && step === "patch" && !starts.has(name!)) starts.set(name!, e.timestamp);
    if (out && step === "health") ends.set(name!, Math.max(ends.get(name!) ?? 0, e.timestamp));
  }
  const out = new Map<string, NodeWindow>();
  for (const [name, start] of starts) {
    const end = ends.get(name);
    if (end !== undefined) out.set(name, { name, start, end });
  }
  return out;
}

/** Machines whose patch step the engine has started (running or done), from the event log so far. */
export function patchesStarted(eventLog: string): Set<string> {
  const out = new Set<string>();
  for (const line of eventLog.split("\n")) {
    if (!line.includes('"resourcePreEvent"')) continue;
    try {
      const meta = (JSON.parse(line) as EngineEvent).resourcePreEvent?.metadata;
      const m = meta?.urn && RUNS.has(meta.op ?? "") ? STEP.exec(meta.urn) : null;
      if (m && m[2] === "patch") out.add(m[1]!);
    } catch {
      // a line cut short
    }
  }
  return out;
}

const ms = (iso: string) => Date.parse(iso);

/**
 * One node at a time per cluster, in plan order: within every cluster of every wave, each node's
 * patch started after the previous node's patch finished (agent clock, ms) and, when windows are
 * given, after the previous node's healthcheck ended (engine clock, s). Only nodes patched in this
 * run (`build`, not a no-op) are compared.
 */
export function clusterOrderProblems(plan: Plan, runs: Map<string, NodeRun>, build: string, windows?: Map<string, NodeWindow>): string[] {
  const problems: string[] = [];
  for (const w of plan.waves) {
    for (const c of w.clusters) {
      const done = c.nodes.filter((n) => runs.get(n)?.patch?.build === build && runs.get(n)?.patch?.noop === false);
      for (let i = 1; i < done.length; i++) {
        const a = runs.get(done[i - 1]!)!.patch!;
        const b = runs.get(done[i]!)!.patch!;
        if (ms(b.startedAt) < ms(a.finishedAt)) {
          problems.push(`${c.cluster}: ${done[i]} patch started ${b.startedAt}, before ${done[i - 1]} (earlier in plan order) finished ${a.finishedAt}`);
        }
        const wa = windows?.get(done[i - 1]!);
        const wb = windows?.get(done[i]!);
        if (wa && wb && wb.start < wa.end) {
          problems.push(`${c.cluster}: ${done[i]} started at ${wb.start}, before ${done[i - 1]}'s healthcheck ended at ${wa.end}`);
        }
      }
    }
  }
  return problems;
}

/**
 * One node at a time per cluster, from the engine's windows alone (patch start → health end),
 * for runs where the agent had nothing to install (no-op patches): no two nodes of a cluster
 * overlap, and they run in plan order.
 */
export function chainOverlapProblems(plan: Plan, windows: Map<string, NodeWindow>): string[] {
  const problems: string[] = [];
  for (const w of plan.waves) {
    for (const c of w.clusters) {
      const ran = c.nodes.filter((n) => windows.has(n));
      for (let i = 1; i < ran.length; i++) {
        const a = windows.get(ran[i - 1]!)!;
        const b = windows.get(ran[i]!)!;
        if (b.start < a.end) problems.push(`${c.cluster}: ${ran[i]} started at ${b.start}, before ${ran[i - 1]}'s healthcheck ended at ${a.end}`);
      }
    }
  }
  return problems;
}

/**
 * Waves in lockstep, from the engine's windows of every stack (shards included): no node of wave
 * k+1 started before the last node of wave k ended, in any stack. `plan` is the whole fleet's.
 */
export function waveLockstepProblems(plan: Plan, windows: Map<string, NodeWindow>): string[] {
  const problems: string[] = [];
  let prev: { wave: string; end: number; node: string } | undefined;
  for (const w of plan.waves) {
    const ws = w.clusters.flatMap((c) => c.nodes).flatMap((n) => (windows.has(n) ? [windows.get(n)!] : []));
    if (!ws.length) continue;
    const first = ws.reduce((a, b) => (b.start < a.start ? b : a));
    if (prev && first.start < prev.end) problems.push(`${w.name}: ${first.name} started at ${first.start}, before ${prev.node} of ${prev.wave} ended at ${prev.end}`);
    const last = ws.reduce((a, b) => (b.end > a.end ? b : a));
    prev = { wave: w.name, end: last.end, node: last.name };
  }
  return problems;
}

/** Waves in order: every node of wave k finished before any node of wave k+1 started (agent clock). */
export function waveOrderProblems(plan: Plan, runs: Map<string, NodeRun>, build: string): string[] {
  const problems: string[] = [];
  let prev: { wave: string; node: string; finished: number } | undefined;
  for (const w of plan.waves) {
    const patched = w.clusters.flatMap((c) => c.nodes).filter((n) => runs.get(n)?.patch?.build === build && runs.get(n)?.patch?.noop === false);
    if (!patched.length) continue;
    const first = patched.reduce((a, b) => (ms(runs.get(b)!.patch!.startedAt) < ms(runs.get(a)!.patch!.startedAt) ? b : a));
    const firstStart = ms(runs.get(first)!.patch!.startedAt);
    if (prev && firstStart < prev.finished) {
      problems.push(`wave ${w.name}: ${first} started ${runs.get(first)!.patch!.startedAt}, before ${prev.node} of wave ${prev.wave} finished`);
    }
    const last = patched.reduce((a, b) => (ms(runs.get(b)!.patch!.finishedAt) > ms(runs.get(a)!.patch!.finishedAt) ? b : a));
    prev = { wave: w.name, node: last, finished: ms(runs.get(last)!.patch!.finishedAt) };
  }
  return problems;
}

/**
 * The critical-path lower bound of a rollout: waves run one after another and a cluster's nodes
 * one after another, so no schedule beats the sum over waves of the slowest cluster's summed node
 * durations. Nodes without a duration count 0.
 */
export function criticalPathSeconds(plan: Plan, durationS: (node: string) => number | undefined): { total: number; perWave: { wave: string; cluster: string; seconds: number }[] } {
  const perWave = plan.waves.map((w) => {
    let best = { cluster: "-", seconds: 0 };
    for (const c of w.clusters) {
      const s = c.nodes.reduce((sum, n) => sum + (durationS(n) ?? 0), 0);
      if (s > best.seconds) best = { cluster: c.cluster, seconds: s };
    }
    return { wave: w.name, ...best };
  });
  return { total: perWave.reduce((s, w) => s + w.seconds, 0), perWave };
}
