import { incidentKey, logTail } from "../escalation/incident";
import type { PlanWave } from "../plan/types";
import { asRollout } from "./outputs";
import { budgetProblems, BudgetWatch } from "./budget";
import { fileWave, heldBehindHalts, StackInfo, stageWaves } from "./context";
import { errorSummary, PipelineEngineEvent, Step } from "./events";
import { iso, RolloutContext, StageOutcome } from "./rollout-context";
import type { Stage } from "./schema";

/** Engine-level failures (killed CLI, lock) restarted automatically before the stage fails. */
const ENGINE_RESTARTS = 3;

/**
 * A run stage: its stacks (shards) go wave by wave in lockstep when stacks support
 * `smith:untilWave`, each wave an `up` of every stack in parallel; otherwise one `up` each.
 * Failed nodes are retried (their whole patch → reboot → health), then halted; a wave whose
 * halted clusters exceed the failure budget stops the pipeline.
 */
export async function runStage(stage: Stage, ctx: RolloutContext): Promise<StageOutcome> {
  const run = stage.run!;
  const infos = await Promise.all(run.stacks.map((s) => ctx.info(s)));
  const ranges = new Map(infos.map((i) => [i.stack, stageWaves(i.plan, ctx.pipeline.source, ctx.lastWave.get(i.stack), run.untilWave)]));
  for (const i of infos) if (i.config.build !== ctx.build || i.raw.build?.value !== ctx.build) await i.driver.setConfig("build", ctx.build);

  if (await allDone(infos, ranges, ctx)) {
    for (const i of infos) ctx.lastWave.set(i.stack, lastFileWave(ranges.get(i.stack)!) ?? ctx.lastWave.get(i.stack));
    return { state: "done", detail: `already at build ${ctx.build}: ${infos.map((i) => i.stack).join(", ")} (nothing to run)` };
  }

  // Shards (several stacks) go wave by wave in lockstep; a single stack runs to the stage's end in
  // one update. Either way smith:untilWave bounds the update at the stage's last wave.
  const steps = !ctx.untilWaveSupported ? [undefined] : infos.length > 1 ? lockstepWaves(ranges) : [lastFileWave(ranges.get(infos[0]!.stack)!)].filter((w): w is string => w !== undefined);
  for (const step of steps) {
    if (step !== undefined) for (const i of infos) await i.driver.setConfig("untilWave", step);
    const results = await Promise.all(infos.map((i) => upWithRetries(stage.name, i, ranges.get(i.stack)!, ctx)));
    const problems = results.flatMap((r) => r.problems);
    if (problems.length) return { state: "stopped", detail: problems.join("; ") };
    const errors = results.flatMap((r) => (r.error ? [r.error] : []));
    if (errors.length) return { state: "failed", detail: errors.join("; ") };
  }
  for (const i of infos) ctx.lastWave.set(i.stack, lastFileWave(ranges.get(i.stack)!) ?? ctx.lastWave.get(i.stack));
  return heldInRange(await Promise.all(run.stacks.map((s) => ctx.info(s))), ranges, ctx, stage.name);
}

function lastFileWave(waves: PlanWave[]): string | undefined {
  return waves.length ? fileWave(waves[waves.length - 1]!) : undefined;
}

/** Wave-file waves of the stage, in order, over all stacks (shards share one wave file). */
function lockstepWaves(ranges: Map<string, PlanWave[]>): string[] {
  const out: string[] = [];
  for (const waves of ranges.values()) for (const w of waves) if (!out.includes(fileWave(w))) out.push(fileWave(w));
  return out;
}

/**
 * Nothing to do when the stack's outputs say: build N, every wave of the range ran, every
 * planned machine of the range (except halted clusters) is at N, and no machine the stack
 * records has left the inventory (a removed machine is dropped by the next up).
 */
async function allDone(infos: StackInfo[], ranges: Map<string, PlanWave[]>, ctx: RolloutContext): Promise<boolean> {
  for (const i of infos) {
    const out = await i.driver.outputs();
    if (out.build !== ctx.build) return false;
    const waves = Array.isArray(out.waves) ? (out.waves as { name: string; held: boolean; reason?: string }[]) : [];
    const nodes = (out.nodes ?? {}) as Record<string, { build?: string }>;
    const range = ranges.get(i.stack)!;
    const behind = heldBehindHalts(i.plan.waves, i.halted);
    for (const w of range) {
      const o = waves.find((x) => x.name === w.name);
      if (!o || o.held) return false;
      for (const c of w.clusters) for (const n of c.nodes) if (!behind.has(n) && nodes[n]?.build !== ctx.build) return false;
    }
    const planned = new Set(i.where.keys());
    if (Object.keys(nodes).some((n) => !planned.has(n))) return false;
    if ((await i.driver.pendingOperations()) > 0) return false;
  }
  return true;
}

interface UpOutcome {
  problems: string[];
  error?: string;
}

/**
 * `up` of one stack until it succeeds, its failures are retried and halted, or the budget is spent.
 *
 * The budget is checked before every `up` (a run resumed over budget starts nothing) and while
 * it runs: when a failed machine with no retry left takes its wave over budget, the update is
 * cancelled gracefully (the driver's signal: one SIGINT to `pulumi`, which lets the steps in
 * flight finish and starts nothing new), its failures are recorded and halted as usual, and the
 * stage stops.
 */
async function upWithRetries(stage: string, info0: StackInfo, range: PlanWave[], ctx: RolloutContext): Promise<UpOutcome> {
  let info = info0;
  let replace: string[] = [];
  let run = 0;
  let engineRestarts = 0;
  const over = budgetProblems(range, info.halted, info.budget);
  if (over.length) return { problems: over.map((p) => `${info.stack}: ${p} (already halted: fix them, then --retry-halted, or raise smith:failureBudget)`) };
  for (;;) {
    if (ctx.signal?.aborted) throw new Error("interrupted");
    run++;
    const lock = await info.driver.settleLock((l) => ctx.progress({ ts: iso(ctx.now()), type: "info", message: l }));
    if (lock) ctx.progress({ ts: iso(ctx.now()), type: "info", message: lock });
    const pending = await info.driver.pendingOperations();
    if (pending) {
      ctx.progress({ ts: iso(ctx.now()), type: "info", message: `${info.stack}: ${pending} operation(s) a killed update left pending; this up re-runs them (a repeated patch is an agent no-op)` });
    }
    ctx.progress({ ts: iso(ctx.now()), type: "up", stage, stack: info.stack, state: "start", attempt: run, ...(replace.length ? { detail: `re-running ${replace.length} resource(s)` } : {}) });
    const failed = new Map<string, { step: Step; message: string }>();
    const healthy = new Set<string>();
    const watch = new BudgetWatch(range, info.halted, info.budget, info.retries, (m) => ctx.journal.data.attempts[`${info.stack}/${m}`] ?? 0);
    const cancel = new AbortController();
    let tripped: string[] | null = null;
    const onEvent = (e: PipelineEngineEvent) => {
      handleEvent(e, stage, info, ctx, failed, healthy);
      if (e.kind !== "failed" || tripped) return;
      tripped = watch.failed(e.machine);
      if (!tripped) return;
      ctx.progress({ ts: iso(ctx.now()), type: "budget", stage, stack: info.stack, problems: tripped, machine: e.machine });
      cancel.abort(); // graceful: in-flight steps finish, nothing new starts
    };
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, cancel.signal]) : cancel.signal;
    const res = await info.driver.up({ replace, onEvent, signal });
    if (ctx.signal?.aborted) throw new Error("interrupted");
    ctx.progress({ ts: iso(ctx.now()), type: "up", stage, stack: info.stack, state: res.ok ? "done" : "failed", attempt: run, changes: res.changes, ...(tripped ? { detail: "cancelled: failure budget exceeded" } : res.engineError ? { detail: res.engineError } : {}) });

    for (const m of healthy) await ctx.escalator.recovered(incidentKey(info.stack, m, ctx.build), iso(ctx.now()));
    if (res.engineError && failed.size === 0 && !tripped) {
      if (++engineRestarts > ENGINE_RESTARTS) return { problems: [], error: `${info.stack}: pulumi up failed ${engineRestarts} times: ${res.engineError}` };
      continue; // a killed engine or a transient error: settle the lock and run again
    }

    const toRetry: string[] = [];
    const exhausted: string[] = [];
    for (const [machine, f] of failed) {
      const key = `${info.stack}/${machine}`;
      const attempts = (ctx.journal.data.attempts[key] ?? 0) + 1;
      ctx.journal.data.attempts[key] = attempts;
      ctx.journal.save();
      const w = info.where.get(machine);
      const incident = {
        key: incidentKey(info.stack, machine, ctx.build),
        stage,
        stack: info.stack,
        machine,
        cluster: w?.cluster ?? "?",
        wave: w?.wave ?? "?",
        build: ctx.build,
        step: f.step === "agent" ? "patch" : f.step,
        error: errorSummary(f.message),
        logTail: logTail(f.message),
        attempts,
        openedAt: iso(ctx.now()),
      };
      if (await ctx.escalator.failed(incident)) ctx.progress({ ts: iso(ctx.now()), type: "incident", action: "trigger", key: incident.key, machine, step: incident.step, error: incident.error });
      (attempts <= info.retries ? toRetry : exhausted).push(machine);
    }
    if (exhausted.length) {
      const entries = new Set(info.config.halted);
      for (const m of exhausted) {
        entries.add(`${m}@${ctx.build}`);
        const w = info.where.get(m);
        ctx.progress({ ts: iso(ctx.now()), type: "halt", stage, stack: info.stack, machine: m, cluster: w?.cluster ?? "?", wave: w?.wave ?? "?" });
      }
      await info.driver.setList("halted", [...entries].sort());
    }
    info = await ctx.info(info.stack);
    const problems = budgetProblems(range, info.halted, info.budget);
    const found: string[] = problems.length ? problems : (tripped ?? []);
    if (found.length) {
      const cut = tripped ? "; update cancelled: steps in flight finished, nothing new started" : "";
      return { problems: found.map((p) => `${info.stack}: ${p}${cut}`) };
    }
    if (res.ok && failed.size === 0) return { problems: [] };

    if (toRetry.length) {
      const maxAttempt = Math.max(...toRetry.map((m) => ctx.journal.data.attempts[`${info.stack}/${m}`] ?? 1));
      const backoff = info.backoffSeconds * 2 ** (maxAttempt - 1);
      ctx.progress({ ts: iso(ctx.now()), type: "retry", stage, stack: info.stack, machines: toRetry, attempt: maxAttempt + 1, backoffSeconds: backoff });
      await ctx.sleep(backoff * 1000);
      const urns = (await info.driver.resources()).map((r) => r.urn);
      replace = urns.filter((u) => toRetry.some((m) => new RegExp(`::${escapeRe(m)}-(patch|reboot|health)$`).test(u)));
      continue;
    }
    replace = [];
    if (exhausted.length) continue; // the halted clusters now wait; the rest of the fleet goes on
    return { problems: [], error: `${info.stack}: pulumi up failed without a failed machine (see the events log)` };
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function handleEvent(e: PipelineEngineEvent, stage: string, info: StackInfo, ctx: RolloutContext, failed: Map<string, { step: Step; message: string }>, healthy: Set<string>): void {
  if (e.kind === "error") {
    if (e.machine) {
      const f = failed.get(e.machine);
      failed.set(e.machine, { step: (e.step ?? f?.step ?? "patch") as Step, message: f?.message ? `${f.message}\n${e.message}` : e.message });
    }
    return;
  }
  const w = info.where.get(e.machine) ?? { wave: "?", cluster: "?" };
  if (e.kind === "failed") {
    const f = failed.get(e.machine);
    failed.set(e.machine, { step: e.step, message: f?.message ?? "" });
  }
  if (e.kind === "done" && e.step === "health") healthy.add(e.machine);
  if (e.kind === "start" && e.step === "patch") {
    const key = `${info.stack}/${e.machine}`;
    const starts = (ctx.journal.data.patchStarts ??= {});
    if (!starts[key]) {
      starts[key] = new Date(e.at).toISOString();
      ctx.journal.save();
    }
  }
  ctx.progress({
    ts: new Date(e.at).toISOString(),
    type: "node",
    stage,
    stack: info.stack,
    wave: w.wave,
    cluster: w.cluster,
    machine: e.machine,
    step: e.step,
    state: e.kind,
    op: e.op,
    ...(e.kind === "failed" ? { error: errorSummary(failed.get(e.machine)?.message || "failed") } : {}),
  });
}

/**
 * After the ups: waves of the range still held by a gate. An approval gate stops the pipeline
 * with the command that opens it; a soak gate is waited out (or reported with --no-wait).
 */
async function heldInRange(infos: StackInfo[], ranges: Map<string, PlanWave[]>, ctx: RolloutContext, stage: string): Promise<StageOutcome> {
  for (const i of infos) {
    const out = await i.driver.outputs();
    if (out.build !== ctx.build) return { state: "failed", detail: `${i.stack}: outputs are not at build ${ctx.build} after the update (a failed update writes none)` };
    const waves = Array.isArray(out.waves) ? (out.waves as { name: string; held: boolean; reason?: string }[]) : [];
    for (const w of ranges.get(i.stack)!) {
      const o = waves.find((x) => x.name === w.name);
      if (!o?.held) continue;
      if (w.gate?.approval && /approval gate/.test(o.reason ?? "")) {
        const wave = w.phase?.wave ?? w.name;
        const command = `npx smith approve --stack ${i.stack} --wave ${wave} --build ${ctx.build}`;
        ctx.progress({ ts: iso(ctx.now()), type: "decision", stage, stack: i.stack, wave, command });
        return { state: "waiting", detail: `wave ${w.name} of ${i.stack} waits for approval: ${command}` };
      }
      if (w.gate?.soak && /soak gate/.test(o.reason ?? "")) {
        const other = asRollout((await (await ctx.drivers(w.gate.soak.stack)).outputs()).rollout);
        const opens = other?.finishedAt && other.build === ctx.build && other.complete ? Date.parse(other.finishedAt) + w.gate.soak.hours * 3_600_000 : NaN;
        return { state: "waiting", detail: `wave ${w.name} of ${i.stack}: ${o.reason}${Number.isNaN(opens) ? "" : ` (opens ${new Date(opens).toISOString()})`}` };
      }
      if (!/untilWave|earlier wave/.test(o.reason ?? "")) return { state: "stopped", detail: `wave ${w.name} of ${i.stack} is held: ${o.reason}` };
    }
  }
  return { state: "done", detail: `${infos.map((i) => `${i.stack}: ${ranges.get(i.stack)!.map((w) => w.name).join(", ")}`).join("; ")}` };
}
