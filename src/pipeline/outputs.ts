/**
 * The `rollout` stack output (contract 4) as the pipeline reads it: only what soaks need. A
 * malformed or missing output counts as "not rolled out".
 */
export interface RolloutState {
  build: string;
  complete: boolean;
  finishedAt: string | null;
}

export function asRollout(v: unknown): RolloutState | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const { build, complete, finishedAt } = v as Record<string, unknown>;
  if (typeof build !== "string" || typeof complete !== "boolean") return undefined;
  return { build, complete, finishedAt: typeof finishedAt === "string" ? finishedAt : null };
}
