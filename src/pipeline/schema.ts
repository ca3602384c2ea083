import { z } from "zod";
import { SAFE_TOKEN } from "../inventory/schema";

/**
 * Pipeline files (`waves/pipeline*.yaml`): the weekly process as data, an ordered list of stages.
 * Each stage is exactly one of: `verify` (the build is published and verified on the mirrors),
 * `run` (stacks rolled out up to a wave), `soak` (wait until a stack's rollout of the build is
 * old enough; with `review`, a hard stop while any failure of the build is unresolved) or
 * `approval` (a person's decision, recorded in the stack's config). See docs/pipeline.md.
 */

const Token = z.string().regex(SAFE_TOKEN, { message: "must be letters, digits, '.', '_' or '-'" });

/** `3` clusters or `"25%"` of a wave's clusters that may halt before the pipeline stops. */
export const BudgetSchema = z.union(
  [z.number().int().min(0), z.string().regex(/^(100|[1-9]?[0-9](\.[0-9]+)?)%$/, { message: "budget must be a count or a percentage like '10%'" })],
  { error: "budget must be a count of clusters or a percentage like '10%'" },
);
export type Budget = z.infer<typeof BudgetSchema>;

export const RetrySchema = z
  .object({
    /** Re-runs of a failed node's whole patch → reboot → health sequence. Defaults to 2. */
    count: z.number().int().min(0).max(20).default(2),
    /** Seconds before the first retry; doubles with every further one. Defaults to 30. */
    backoffSeconds: z.number().min(0).max(3600).default(30),
  })
  .strict();

const RunSchema = z
  .object({
    /** Stacks of this stage; several (shards) move in lockstep, wave by wave. */
    stacks: z.array(Token).min(1, { message: "a run stage needs at least one stack" }),
    /**
     * The last wave (of the stacks' wave file) this stage runs; a phased wave includes all its
     * phases. Defaults to every wave.
     */
    untilWave: Token.optional(),
  })
  .strict();

const SoakSchema = z
  .object({
    hours: z.number().positive(),
    /** The stack whose `rollout` output (build, complete, finishedAt) starts the clock. */
    stack: Token,
    /** Hard stop: list every failure of this build so far and stop while any is unresolved. */
    review: z.boolean().default(false),
  })
  .strict();

const ApprovalSchema = z
  .object({
    stack: Token,
    /** The wave (of that stack's wave file) the decision opens: `smith:approvals` gets `<wave>@<build>`. */
    wave: Token,
  })
  .strict();

const VerifySchema = z
  .object({
    /** Stacks whose `smith:repoUrl` must serve `builds/<N>/Release` labelled `smith-build-<N>`. */
    stacks: z.array(Token).min(1, { message: "verify needs at least one stack" }),
  })
  .strict();

export const StageSchema = z
  .object({
    name: Token,
    description: z.string().optional(),
    verify: VerifySchema.optional(),
    run: RunSchema.optional(),
    soak: SoakSchema.optional(),
    approval: ApprovalSchema.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const kinds = (["verify", "run", "soak", "approval"] as const).filter((k) => s[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({ code: "custom", path: [], message: `a stage is exactly one of verify, run, soak, approval (got ${kinds.length ? kinds.join(" and ") : "none"})`, input: s.name });
    }
  });
export type Stage = z.infer<typeof StageSchema>;

export const PipelineFileSchema = z
  .object({
    description: z.string().optional(),
    /** Per-node retries (a stack's `smith:retries` / `smith:retryBackoffSeconds` override them). */
    retries: RetrySchema.default({ count: 2, backoffSeconds: 30 }),
    /** Clusters of one wave that may halt before the pipeline stops (`smith:failureBudget` overrides). Defaults to 0. */
    failureBudget: BudgetSchema.default(0),
    stages: z.array(StageSchema).min(1, { message: "a pipeline needs at least one stage" }),
  })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.stages.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: "custom", path: ["stages", i, "name"], message: "duplicate stage name", input: s.name });
      seen.add(s.name);
    });
  });

export type PipelineFile = z.infer<typeof PipelineFileSchema> & { source: string };

/** The kind of a validated stage. */
export type StageKind = "verify" | "run" | "soak" | "approval";
export function stageKind(s: Stage): StageKind {
  if (s.verify) return "verify";
  if (s.run) return "run";
  if (s.soak) return "soak";
  return "approval";
}

/** Clusters a wave of `clusters` may halt: a count, or a percentage rounded down. */
export function budgetClusters(b: Budget, clusters: number): number {
  if (typeof b === "number") return b;
  return Math.floor((parseFloat(b) / 100) * clusters);
}

/** Every stack any stage names, in first-mention order. */
export function pipelineStacks(p: PipelineFile): string[] {
  const out: string[] = [];
  const add = (s: string) => {
    if (!out.includes(s)) out.push(s);
  };
  for (const s of p.stages) {
    s.verify?.stacks.forEach(add);
    s.run?.stacks.forEach(add);
    if (s.soak) add(s.soak.stack);
    if (s.approval) add(s.approval.stack);
  }
  return out;
}
