import { z } from "zod";
import { mulberry32 } from "../inventory/generate";

/**
 * What a simulated machine's agent costs and how often it fails. Durations in seconds; rates are
 * probabilities in [0, 1], drawn once per machine (a faulty machine stays faulty, like a real one
 * with a broken package or a dead NIC) from the sim's seed, so a run is reproducible.
 */
export const SimBehaviourSchema = z
  .object({
    /** Mean wall time of a `patch` that installs something. */
    patchSeconds: z.number().nonnegative().default(5),
    /** Wall time of a no-op `patch` (same build again). */
    noopSeconds: z.number().nonnegative().default(0.2),
    /** How long a rebooting machine is down (endpoint closed), after the agent's `--delay`. */
    rebootSeconds: z.number().nonnegative().default(3),
    /** Each duration is multiplied by a uniform factor in [1 − jitter, 1 + jitter]. */
    jitter: z.number().min(0).max(1).default(0.2),
    /** Share of machines whose every `patch` fails with exit 5 (apt failed after retries). */
    patchFailureRate: z.number().min(0).max(1).default(0),
    /** Share of machines whose `health` reports a failing check (exit 6). */
    unhealthyRate: z.number().min(0).max(1).default(0),
    /** Share of machines whose endpoint never accepts connections. */
    unreachableRate: z.number().min(0).max(1).default(0),
    /** Share of patches that need a reboot (the kernel package changed). */
    rebootRate: z.number().min(0).max(1).default(1),
    /** Highest build the sim's repository publishes; a later one is "build missing" (exit 7). */
    maxBuild: z.number().int().positive().default(1_000_000),
    /** The build every machine starts at (null: never patched by smith). */
    initialBuild: z.string().nullable().default("1"),
    /** Seed of every random draw (faults, jitter). */
    seed: z.number().int().default(1),
  })
  .strict();

export type SimBehaviour = z.infer<typeof SimBehaviourSchema>;
export type SimBehaviourInput = z.input<typeof SimBehaviourSchema>;

export function simBehaviour(input: SimBehaviourInput = {}): SimBehaviour {
  return SimBehaviourSchema.parse(input);
}

/** The generator's seedable random numbers: faults and jitter of a sim are reproducible. */
export const seededRandom = mulberry32;

/** A stable 32-bit seed for one machine of a sim: the sim's seed mixed with the machine's name. */
export function machineSeed(simSeed: number, name: string): number {
  let h = (simSeed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
