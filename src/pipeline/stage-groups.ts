import type { PlanWave } from "../plan/types";
import { fileWave, stageWaves } from "./context";
import type { RolloutContext, StageOutcome } from "./rollout-context";
import { runStage } from "./run-stage";
import type { Stage } from "./schema";

/**
 * Consecutive run stages of one and the same stack, nothing between them (e.g. main, haproxy01,
 * haproxy02 after the decision), run as ONE update up to the last one's wave: each `pulumi up`
 * costs an engine start and stop (~25 s on the lab), and nothing the pipeline does between such
 * stages needs the boundary — gates inside them are the stack's own (a held wave still stops the
 * update there), a failure stops the waves after it (they depend on its cluster's chain), and the
 * failure budget covers the merged waves. Each stage still gets its own outcome.
 */

/** The stages from `index` that run as one update (just that stage when it cannot be merged). */
export function stageGroup(stages: readonly Stage[], index: number, until: string | undefined, untilWaveSupported: boolean): Stage[] {
  const first = stages[index]!;
  const group = [first];
  const stack = first.run?.stacks.length === 1 ? first.run.stacks[0] : undefined;
  if (!untilWaveSupported || stack === undefined || first.name === until) return group;
  for (let i = index + 1; i < stages.length; i++) {
    const s = stages[i]!;
    if (s.run?.stacks.length !== 1 || s.run.stacks[0] !== stack) break;
    group.push(s);
    if (s.name === until) break;
  }
  return group;
}

/**
 * Runs a group as one update and splits the outcome: when the update went through every stage
 * is done; otherwise the stage whose waves hold the wave the outcome names (over budget, held by
 * a gate) takes it, the stages before it are done, and the rest did not run (fewer outcomes than
 * stages). An outcome naming no wave (an engine failure) goes to the first stage.
 */
export async function runStageGroup(group: readonly Stage[], ctx: RolloutContext): Promise<StageOutcome[]> {
  if (group.length === 1) return [await runStage(group[0]!, ctx)];
  const stack = group[0]!.run!.stacks[0]!;
  const info = await ctx.info(stack);
  const ranges: PlanWave[][] = [];
  let from = ctx.lastWave.get(stack);
  for (const s of group) {
    const waves = stageWaves(info.plan, ctx.pipeline.source, from, s.run!.untilWave);
    ranges.push(waves);
    if (waves.length) from = fileWave(waves[waves.length - 1]!);
  }
  const last = group[group.length - 1]!;
  const merged: Stage = { ...group[0]!, run: { stacks: [stack], ...(last.run!.untilWave !== undefined ? { untilWave: last.run!.untilWave } : {}) } };
  const out = await runStage(merged, ctx);
  const together = `one update with stages ${group.map((s) => s.name).join(", ")}`;
  const describe = (waves: PlanWave[]) => `${stack}: ${waves.map((w) => w.name).join(", ") || "no wave"} (${together})`;
  if (out.state === "done") {
    const nothing = / \(nothing to run\)$/.test(out.detail);
    return ranges.map((waves) => (nothing ? out : { state: "done", detail: describe(waves) }));
  }
  // The stage whose waves hold the wave the outcome names (budget, held wave); else the first.
  const named = /\bwave ([A-Za-z0-9._/-]+)/.exec(out.detail)?.[1];
  const at = Math.max(0, named === undefined ? 0 : ranges.findIndex((waves) => waves.some((w) => w.name === named || fileWave(w) === named)));
  return [...ranges.slice(0, at).map((waves): StageOutcome => ({ state: "done", detail: describe(waves) })), out];
}
