import type { Plan } from "../types";

/** The `--format json` contract (src/plan/types.ts), with keys in a fixed order. */
export function renderJson(plan: Plan): string {
  return JSON.stringify(
    {
      build: plan.build,
      waves: plan.waves.map((w) => ({
        name: w.name,
        gate: w.gate,
        ...(w.phase ? { phase: w.phase } : {}),
        clusters: w.clusters,
      })),
      unassigned: plan.unassigned,
    },
    null,
    2,
  );
}
