import type { WaveFile } from "../waves/schema";

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

/** Runs `pulumi up` of `stack` with `smith:untilWave` = `step`. */
export type StepRunner = (stack: string, step: string) => Promise<StepResult>;

export interface LockstepResult {
  /** Steps that finished in every shard. */
  completed: string[];
  /** The step that failed in at least one shard (later steps were started nowhere). */
  failed?: { step: string; stacks: { stack: string; summary: string }[] };
}

export interface LockstepOptions {
  stacks: readonly string[];
  steps: readonly string[];
  run: StepRunner;
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
