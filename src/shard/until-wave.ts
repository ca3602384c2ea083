import { UserError } from "../errors";

/**
 * `smith:untilWave` (contract 5): run the waves up to and including this one, hold every later
 * wave with reason "untilWave". The lockstep runner (src/shard/lockstep.ts) and the pipeline
 * raise it wave by wave across shard stacks, so a wave starts in any shard only when it finished
 * in all. A phased wave's name (`haproxy01`) covers all its phases; a phase
 * (`haproxy01/phase-2`) stops after that phase.
 */

export interface Decision {
  wave: string;
  held: boolean;
  reason?: string;
}

export const UNTIL_WAVE_REASON = "untilWave";

function split(wave: string): { base: string; phase: number } {
  const m = /^(.*)\/phase-([1-9][0-9]*)$/.exec(wave);
  return m ? { base: m[1]!, phase: Number(m[2]) } : { base: wave, phase: Infinity };
}

/**
 * Whether plan wave `wave` may run under `untilWave`, given the wave file's wave names in order
 * (`fileOrder`: a shard's plan may lack waves that select none of its machines, so the order comes
 * from the wave file, the same in every shard).
 */
export function runsUntil(wave: string, untilWave: string, fileOrder: readonly string[]): boolean {
  const w = split(wave);
  const u = split(untilWave);
  const wi = fileOrder.indexOf(w.base);
  const ui = fileOrder.indexOf(u.base);
  if (ui < 0) throw new UserError(`config: smith:untilWave: no wave ${JSON.stringify(untilWave)} in the wave file (waves: ${fileOrder.join(", ")})`);
  return wi < ui || (wi === ui && w.phase <= u.phase);
}

/** Decisions with every wave after `untilWave` held; already-held waves keep their own reason. */
export function applyUntilWave<D extends Decision>(decisions: readonly D[], untilWave: string | undefined, fileOrder: readonly string[]): D[] {
  if (untilWave === undefined) return [...decisions];
  return decisions.map((d) => (d.held || runsUntil(d.wave, untilWave, fileOrder) ? d : { ...d, held: true, reason: UNTIL_WAVE_REASON }));
}
