import { z } from "zod";
import { SAFE_TOKEN } from "../inventory/schema";

/**
 * Wave files (`waves/*.yaml`): the runbook as data. See docs/waves.md for the syntax and its
 * meaning; this schema is the single source of the types.
 */

/** A glob: `*` any run of characters, `?` one character, `[abc]`, `[0-9]`, `[!x]` classes. */
const Pattern = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .pipe(z.string().regex(/^\S+$/, { message: "pattern must be non-empty without spaces" }));
const Patterns = z.union([Pattern, z.array(Pattern).min(1, { message: "list must not be empty" })]);

/**
 * One field's condition: a pattern, a list of patterns (any of them), or `{in, not}` where a
 * value must match `in` (when given) and none of `not`.
 */
export const MatcherSchema = z.union(
  [
    Patterns,
    z
      .object({ in: Patterns.optional(), not: Patterns.optional() })
      .strict()
      .refine((m) => m.in !== undefined || m.not !== undefined, { message: "give 'in' and/or 'not'" }),
  ],
  { error: "must be a pattern, a list of patterns, or {in: …, not: …}" },
);
export type Matcher = z.infer<typeof MatcherSchema>;

/** All given fields must match (AND); an empty selector matches every machine. */
export const SelectorSchema = z
  .object({
    environment: MatcherSchema.optional(),
    region: MatcherSchema.optional(),
    cluster: MatcherSchema.optional(),
    role: MatcherSchema.optional(),
    name: MatcherSchema.optional(),
    labels: z
      .record(z.string().regex(SAFE_TOKEN, { message: "label key must be letters, digits, '.', '_' or '-'" }), MatcherSchema)
      .optional(),
  })
  .strict();
export type Selector = z.infer<typeof SelectorSchema>;

export const SampleSchema = z
  .object({
    /** Machines picked in each environment, from those the wave selects. */
    perEnvironment: z.number().int().min(1).max(10_000),
    /** Machines always part of the sample; they count towards `perEnvironment`. */
    always: SelectorSchema.optional(),
  })
  .strict();
export type Sample = z.infer<typeof SampleSchema>;

/** One phase's share of the wave's clusters: `"10%"`, a count of clusters, or `"rest"`. */
const PHASE_HELP = "phase must be a percentage like '10%', a number of clusters, or 'rest'";
export const PhaseSchema = z.union(
  [z.literal("rest"), z.string().regex(/^(100|[1-9]?[0-9](\.[0-9]+)?)%$/, { message: PHASE_HELP }), z.number().int().min(1, { message: PHASE_HELP }).max(100_000, { message: PHASE_HELP })],
  { error: PHASE_HELP },
);
export type Phase = z.infer<typeof PhaseSchema>;

/** Upper bound of a soak gate, in hours (90 days). */
export const MAX_SOAK_HOURS = 2160;

export const GateSchema = z
  .object({
    /** A person approves this wave for this build (stack config `smith:approvals`). */
    approval: z.boolean().optional(),
    /** Minimum time since another stack finished this build without failures. */
    soak: z
      .object({
        /** Bounded: a typo like 24000 would hold the fleet for years without a word. At most 90 days. */
        hours: z.number().positive().max(MAX_SOAK_HOURS, { message: `soak hours must be at most ${MAX_SOAK_HOURS} (90 days)` }),
        stack: z.string().regex(SAFE_TOKEN, { message: "stack must be letters, digits, '.', '_' or '-'" }),
      })
      .strict()
      .optional(),
  })
  .strict();
export type Gate = z.infer<typeof GateSchema>;

export const WaveSchema = z
  .object({
    name: z.string().regex(SAFE_TOKEN, { message: "wave name must be letters, digits, '.', '_' or '-'" }),
    description: z.string().optional(),
    /** Which machines this wave takes, of those in scope and not taken by an earlier wave. Defaults to all. */
    select: SelectorSchema.optional(),
    sample: SampleSchema.optional(),
    phases: z.array(PhaseSchema).min(2, { message: "phases needs at least two entries, the last one 'rest'" }).optional(),
    gate: GateSchema.optional(),
    /** Machines of one cluster patched at the same time. Defaults to 1. */
    concurrency: z.number().int().min(1).max(1000).optional(),
    /** Allow this wave to select no machine (otherwise that is an error). */
    optional: z.boolean().optional(),
  })
  .strict()
  .superRefine((w, ctx) => {
    if (!w.phases) return;
    const last = w.phases.length - 1;
    w.phases.forEach((p, i) => {
      if (p === "rest" && i !== last) ctx.addIssue({ code: "custom", path: ["phases", i], message: "'rest' must be the last phase", input: p });
    });
    if (w.phases[last] !== "rest") {
      ctx.addIssue({ code: "custom", path: ["phases", last], message: "the last phase must be 'rest' (it takes the clusters left)", input: w.phases[last] });
      return;
    }
    const explicit = w.phases.slice(0, last).filter((p) => p !== "rest");
    if (new Set(explicit.map((p) => typeof p)).size > 1) {
      ctx.addIssue({ code: "custom", path: ["phases"], message: "use either percentages or cluster counts, not both", input: w.phases });
      return;
    }
    const sizes = explicit.map((p) => (typeof p === "number" ? p : parseFloat(p)));
    for (let i = 1; i < sizes.length; i++) {
      if (sizes[i] < sizes[i - 1]) {
        ctx.addIssue({ code: "custom", path: ["phases", i], message: "phases must not shrink: each is at least as large as the one before", input: explicit[i] });
      }
    }
    if (typeof explicit[0] === "string" && sizes.reduce((a, b) => a + b, 0) >= 100) {
      ctx.addIssue({ code: "custom", path: ["phases"], message: "percentages before 'rest' must add up to less than 100%", input: w.phases });
    }
  });
export type Wave = z.infer<typeof WaveSchema>;

export const WaveFileSchema = z
  .object({
    description: z.string().optional(),
    /** Machines outside the scope are listed as unassigned, naming the field that excludes them. */
    scope: SelectorSchema.optional(),
    waves: z.array(WaveSchema).min(1, { message: "a wave file needs at least one wave" }),
  })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.waves.forEach((w, i) => {
      if (seen.has(w.name)) ctx.addIssue({ code: "custom", path: ["waves", i, "name"], message: "duplicate wave name", input: w.name });
      seen.add(w.name);
    });
  });

/** A parsed wave file; `source` is the path it came from, used in plan messages and errors. */
export type WaveFile = z.infer<typeof WaveFileSchema> & { source?: string };
