import type { WaveFile } from "../waves/schema";
import { abortBarriers, clearAbort } from "./barrier";

/**
 * Lockstep across shard stacks: the waves run one at a time, each in every shard in parallel,
 * and the next starts only when the current one finished in ALL shards. The mechanism is stack
 * config only (`smith:untilWave`, contract 5): every step is an ordinary `pulumi up` of one
 * stack, so an engineer can run any shard by hand (docs/scale.md), and a crash of the runner
 * loses nothing (re-running repeats completed steps as no-ops).
 *
 * Pure scheduling here; `automationStepRunner` (automation.ts) binds a step to the Automation API.
 * The pipeline (src/pipeline) reuses `runLockstep` with its own step runner.
 */

/** The lockstep steps of a wave file: each wave, a phased wave as its phases `<wave>/phase-<i>`. */
export function lockstepSteps(waves: WaveFile): string[] {
  return waves.waves.flatMap((w) => (w.phases ? w.phases.map((_, i) => `${w.name}/phase-${i + 1}`) : [w.name]));
}

export interface StepResult {
  ok: boolean;
  /** One line: why it failed, or what it did. */
  summary: string;
}

/** Runs `pulumi up` of `stack` with `smith:untilWave` = `step` (every wave when undefined). */
export type StepRunner = (stack: string, step: string | undefined) => Promise<StepResult>;

export interface LockstepResult {
  /** Steps that finished in every shard. */
  completed: string[];
  /** The step that failed in at least one shard (later steps were started nowhere). */
  failed?: { step: string; stacks: { stack: string; summary: string }[] };
}

export interface LockstepOptions {
  stacks: readonly string[];
  steps: readonly string[];
  run: (stack: string, step: string) => Promise<StepResult>;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Shards run at once; defaults to all of them. */
  parallel?: number;
}

/** Runs `fn` over `items` with at most `n` at a time, keeping results in input order. */
export async function pool<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  return out;
}

export async function runLockstep(o: LockstepOptions): Promise<LockstepResult> {
  const log = o.log ?? (() => {});
  const completed: string[] = [];
  for (const step of o.steps) {
    const t0 = Date.now();
    log(`step ${step}: starting in ${o.stacks.length} shard(s)`);
    const results = await pool(o.stacks, o.parallel ?? o.stacks.length, async (stack) => {
      try {
        return { stack, ...(await o.run(stack, step)) };
      } catch (e) {
        return { stack, ok: false, summary: (e as Error).message.split("\n")[0]! };
      }
    });
    const bad = results.filter((r) => !r.ok);
    if (bad.length) {
      log(`step ${step}: FAILED in ${bad.map((b) => b.stack).join(", ")}; later steps start nowhere`);
      return { completed, failed: { step, stacks: bad.map((b) => ({ stack: b.stack, summary: b.summary })) } };
    }
    completed.push(step);
    log(`step ${step}: done in every shard (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  return { completed };
}

export interface TogetherOptions {
  /** Every shard stack of the fleet with its shard name (`smith:shard`). */
  shards: readonly { stack: string; shard: string }[];
  /** `pulumi up` of one stack, every wave (no `smith:untilWave`): its barriers keep it in lockstep. */
  run: (stack: string) => Promise<StepResult>;
  /** `smith:lockstepDir` of the shard stacks, and the build they roll out. */
  dir: string;
  build: string;
  log?: (line: string) => void;
}

/**
 * Lockstep through wave barriers (barrier.ts): ONE `pulumi up` per shard stack, all at once; the
 * stacks' `lockstep-<wave>` steps hold each wave until it finished in every shard. A shard whose
 * update fails aborts the barriers of the build, so the others stop at their next barrier
 * instead of waiting for it until the timeout. Running it again (after a crash or a fix) clears
 * the abort first; finished waves are unchanged resources, so every shard resumes where it stopped.
 */
export async function runTogether(o: TogetherOptions): Promise<{ failed: { stack: string; summary: string }[] }> {
  const log = o.log ?? (() => {});
  clearAbort(o.dir, o.build);
  log(`${o.shards.length} shard stack(s) start; waves in lockstep through ${o.dir}`);
  const results = await Promise.all(
    o.shards.map(async ({ stack, shard }) => {
      let r: StepResult;
      try {
        r = await o.run(stack);
      } catch (e) {
        r = { ok: false, summary: (e as Error).message.split("\n")[0]! };
      }
      if (!r.ok) {
        abortBarriers(o.dir, o.build, shard, r.summary);
        log(`${stack}: FAILED (${r.summary}); the other shards stop at their next barrier`);
      } else log(`${stack}: done`);
      return { stack, ...r };
    }),
  );
  return { failed: results.filter((r) => !r.ok).map((r) => ({ stack: r.stack, summary: r.summary })) };
}
