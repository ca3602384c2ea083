import * as fs from "fs";
import * as path from "path";
import { renderChangeMarkdown } from "../change/markdown";
import type { ChangeRecord, StageRecord } from "../change/record";
import type { ChangeSink } from "../change/sink";
import { UserError } from "../errors";
import { Escalator } from "../escalation/escalator";
import type { EscalationSink } from "../escalation/incident";
import { loadStackInfo, StackInfo } from "./context";
import type { DriverFactory, StateResource } from "./driver";
import { approvalStage, soakStage, verifyStage } from "./gate-stages";
import { Journal } from "./journal";
import { acquireRolloutLock } from "./lock";
import type { ProgressEvent, ProgressSink } from "./progress";
import { machineRecords, stageRanges } from "./records";
import { iso, RolloutContext, StageOutcome } from "./rollout-context";
import { runStageGroup, stageGroup } from "./stage-groups";
import { PipelineFile, pipelineStacks, stageKind } from "./schema";
import { NodeWindows } from "./timing";

export interface RolloutOptions {
  build: string;
  /** Stop after this stage. */
  until?: string;
  /** Wait out soaks. Defaults to true. */
  wait?: boolean;
  /** Clear `smith:halted` of this build first, so halted machines are tried again. */
  retryHalted?: boolean;
}

export interface RolloutDeps {
  drivers: DriverFactory;
  projectDir: string;
  /** Where journals and change records go: `<dir>/<pipeline>/`. */
  stateDir: string;
  progress: ProgressSink;
  /** Escalation sinks of a stack, from its config (webhook URL secret). */
  sinksFor(info: StackInfo): EscalationSink[];
  changeSinks: ChangeSink[];
  fetchText(url: string): Promise<{ status: number; text: string }>;
  untilWaveSupported: boolean;
  now?: () => Date;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
}

export interface RolloutResult {
  result: ChangeRecord["result"];
  /** 0 completed (or --until reached), 1 stopped or failed, 3 waiting for a soak or a decision. */
  exitCode: number;
  message: string;
  record: ChangeRecord;
  files: { json: string; markdown: string };
  timing: { makespanSeconds: number; lowerBoundSeconds: number; soakSeconds: number } | null;
}

export function pipelineName(p: PipelineFile): string {
  return path.basename(p.source).replace(/\.ya?ml$/, "");
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new Error("interrupted"));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(new Error("interrupted"));
    });
  });

/** `smith rollout`: every stage in order, from wherever the stacks are, to the end or the first stop. */
export async function runRollout(p: PipelineFile, o: RolloutOptions, deps: RolloutDeps): Promise<RolloutResult> {
  if (o.until !== undefined && !p.stages.some((s) => s.name === o.until)) {
    throw new UserError(`flag --until: no stage ${JSON.stringify(o.until)} in ${p.source} (stages: ${p.stages.map((s) => s.name).join(", ")})`);
  }
  const name = pipelineName(p);
  const lock = acquireRolloutLock(path.join(deps.stateDir, name), o.build);
  try {
    return await rollout(p, o, deps, name, lock.tookOverFrom);
  } finally {
    lock.release();
  }
}

async function rollout(p: PipelineFile, o: RolloutOptions, deps: RolloutDeps, name: string, tookOverFrom: string | null): Promise<RolloutResult> {
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? defaultSleep;
  const journal = Journal.open(deps.stateDir, name, o.build, now());
  journal.data.runs.push({ startedAt: iso(now()), pid: process.pid });
  journal.save();

  const sinks = new Map<string, EscalationSink[]>();
  const infos = new Map<string, StackInfo>();
  const info = async (stack: string) => {
    const i = await loadStackInfo(await deps.drivers(stack), o.build, p, deps.projectDir);
    infos.set(stack, i);
    if (!sinks.has(stack)) sinks.set(stack, deps.sinksFor(i));
    return i;
  };
  const windows = new NodeWindows();
  const soaked = new Set<string>();
  const progress = (e: ProgressEvent) => {
    windows.observe(e);
    if (e.type === "soak") soaked.add(e.stage);
    deps.progress(e);
  };
  const escalator = new Escalator(journal, (i) => sinks.get(i.stack) ?? [], (l) => progress({ ts: iso(now()), type: "info", message: l }));
  const ctx: RolloutContext = {
    pipeline: p,
    build: o.build,
    projectDir: deps.projectDir,
    drivers: deps.drivers,
    journal,
    escalator,
    progress,
    now,
    sleep: (ms) => sleep(ms, deps.signal),
    ...(deps.signal ? { signal: deps.signal } : {}),
    wait: o.wait ?? true,
    untilWaveSupported: deps.untilWaveSupported,
    info,
    lastWave: new Map(),
    fetchText: deps.fetchText,
  };

  progress({ ts: iso(now()), type: "rollout", state: "start", pipeline: name, build: o.build });
  if (tookOverFrom !== null) progress({ ts: iso(now()), type: "info", message: `resuming after smith rollout ${tookOverFrom} ended without finishing (killed?)` });
  for (const stack of pipelineStacks(p)) await info(stack); // validates every stack's config before anything runs
  if (o.retryHalted) await clearHalts(ctx, [...infos.values()]);
  await escalator.flush(); // anything a killed run recorded but did not send

  const stages = (journal.data.stages ??= {});
  let result: ChangeRecord["result"] = "completed";
  let message = `build ${o.build}: every stage of ${p.source} done`;
  const record = () => buildRecord(p, o.build, journal, stages, result, infos, deps.drivers, now);
  let change = await openChange(deps.changeSinks, journal, record, (l) => progress({ ts: iso(now()), type: "info", message: l }));

  // Outcomes of run stages that ran in one update with an earlier one (stage-groups.ts).
  const merged = new Map<string, { out: StageOutcome; startedAt: string }>();
  for (const [index, stage] of p.stages.entries()) {
    const kind = stageKind(stage);
    const ahead = merged.get(stage.name);
    const startedAt = ahead?.startedAt ?? iso(now());
    progress({ ts: iso(now()), type: "stage", stage: stage.name, kind, state: "start" });
    let out: StageOutcome;
    try {
      if (ahead) out = ahead.out;
      else if (kind === "run") {
        const group = stageGroup(p.stages, index, o.until, ctx.untilWaveSupported);
        const outs = await runStageGroup(group, ctx);
        outs.forEach((x, k) => merged.set(group[k]!.name, { out: x, startedAt }));
        out = outs[0]!;
      } else out = kind === "verify" ? await verifyStage(stage, ctx) : kind === "soak" ? await soakStage(stage, ctx) : await approvalStage(stage, ctx);
    } catch (err) {
      if (err instanceof UserError) throw err;
      out = { state: "failed", detail: (err as Error).message.split("\n")[0]! };
    }
    const before = stages[stage.name];
    // A stage done in an earlier run keeps its times and detail; a re-check that finds nothing to do is not news.
    if (!(before?.result === "done" && out.state === "done" && / \(nothing to run\)$/.test(out.detail))) {
      stages[stage.name] = {
        name: stage.name,
        kind,
        result: out.state === "done" ? "done" : out.state,
        startedAt: before?.startedAt ?? startedAt,
        finishedAt: out.state === "done" ? iso(now()) : null,
        detail: out.detail,
      };
    }
    journal.save();
    progress({ ts: iso(now()), type: "stage", stage: stage.name, kind, state: out.state, detail: out.detail });
    await noteChange(deps.changeSinks, change, `stage ${stage.name} (${kind}): ${out.state}: ${out.detail}`, (l) => progress({ ts: iso(now()), type: "info", message: l }));
    if (out.state === "waiting") {
      result = "waiting";
      message = `stage ${stage.name}: ${out.detail}`;
      break;
    }
    if (out.state === "stopped" || out.state === "failed") {
      result = out.state;
      message = `stage ${stage.name}: ${out.detail}`;
      break;
    }
    if (stage.name === o.until) {
      message = `build ${o.build}: stages up to ${stage.name} done (--until)`;
      break;
    }
  }

  const final = await record();
  const files = writeRecord(deps.stateDir, name, final);
  if (result !== "waiting") {
    change = change ?? (await openChange(deps.changeSinks, journal, async () => final, () => undefined));
    for (const s of deps.changeSinks) {
      if (!change || change.sink !== s.name) continue;
      await s.close(change.ref, final).catch((err: Error) => progress({ ts: iso(now()), type: "info", message: `change sink ${s.name}: close failed: ${err.message}` }));
    }
  }
  progress({ ts: iso(now()), type: "rollout", state: "end", pipeline: name, build: o.build, result, message });
  // Soaks count towards the bound only when this run waited one out.
  const soakSeconds = p.stages.reduce((s, st) => s + (st.soak && soaked.has(st.name) ? st.soak.hours * 3600 : 0), 0);
  return {
    result,
    exitCode: result === "completed" ? 0 : result === "waiting" ? 3 : 1,
    message,
    record: final,
    files,
    timing: windows.timing(stageRanges(p, infos), soakSeconds),
  };
}

async function clearHalts(ctx: RolloutContext, infos: StackInfo[]): Promise<void> {
  for (const i of infos) {
    const keep = i.config.halted.filter((h) => !h.endsWith(`@${ctx.build}`));
    if (keep.length === i.config.halted.length) continue;
    await i.driver.setList("halted", keep);
    for (const m of i.halted) delete ctx.journal.data.attempts[`${i.stack}/${m}`];
    ctx.journal.save();
    ctx.progress({ ts: iso(ctx.now()), type: "info", message: `${i.stack}: --retry-halted: ${[...i.halted].join(", ")} will be tried again` });
  }
}

async function buildRecord(
  p: PipelineFile,
  build: string,
  journal: Journal,
  stages: Record<string, StageRecord>,
  result: ChangeRecord["result"],
  infos: ReadonlyMap<string, StackInfo>,
  drivers: DriverFactory,
  now: () => Date,
): Promise<ChangeRecord> {
  const state = new Map<string, StateResource[]>();
  const held = new Map<string, Set<string>>();
  for (const stack of infos.keys()) {
    const d = await drivers(stack);
    state.set(stack, await d.resources());
    const waves = (await d.outputs()).waves;
    held.set(stack, new Set(Array.isArray(waves) ? (waves as { name: string; held: boolean }[]).filter((w) => w.held).map((w) => w.name) : []));
  }
  return {
    schema: "smith.change-record/v1",
    pipeline: p.source,
    build,
    startedAt: journal.data.startedAt,
    updatedAt: iso(now()),
    result,
    stages: p.stages.map((s) => stages[s.name] ?? { name: s.name, kind: stageKind(s), result: "pending", startedAt: null, finishedAt: null, detail: "" }),
    machines: machineRecords(stageRanges(p, infos), infos, state, held, journal, build),
    incidents: Object.values(journal.data.incidents)
      .filter((r) => r.incident.build === build)
      .map((r) => ({
        key: r.incident.key,
        machine: r.incident.machine,
        stack: r.incident.stack,
        step: r.incident.step,
        error: r.incident.error,
        state: r.state,
        openedAt: r.incident.openedAt,
        ...(r.resolvedAt ? { resolvedAt: r.resolvedAt } : {}),
        attempts: r.incident.attempts,
      })),
  };
}

function writeRecord(stateDir: string, name: string, r: ChangeRecord): { json: string; markdown: string } {
  const dir = path.join(stateDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `change-${r.build}.json`);
  const markdown = path.join(dir, `change-${r.build}.md`);
  fs.writeFileSync(json, JSON.stringify(r, null, 2) + "\n");
  fs.writeFileSync(markdown, renderChangeMarkdown(r));
  return { json, markdown };
}

/** Opens the change request once per rollout; the record (the stacks' state: CLI calls) is read only when one is opened. */
async function openChange(sinks: ChangeSink[], journal: Journal, r: () => Promise<ChangeRecord>, warn: (l: string) => void): Promise<{ sink: string; ref: string } | undefined> {
  if (journal.data.change || sinks.length === 0) return journal.data.change;
  const rec = await r();
  for (const s of sinks) {
    try {
      journal.data.change = { sink: s.name, ref: await s.open(rec) };
      journal.save();
      return journal.data.change;
    } catch (err) {
      warn(`change sink ${s.name}: open failed (tried again next stage): ${(err as Error).message}`);
    }
  }
  return undefined;
}

async function noteChange(sinks: ChangeSink[], change: { sink: string; ref: string } | undefined, text: string, warn: (l: string) => void): Promise<void> {
  if (!change) return;
  for (const s of sinks) {
    if (s.name !== change.sink) continue;
    await s.note(change.ref, text).catch((err: Error) => warn(`change sink ${s.name}: work note failed: ${err.message}`));
  }
}
