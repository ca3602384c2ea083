import { decodeList } from "../config/stack-config";
import { labelFor } from "../packages/layout";
import { releaseIsBuild, releaseUrl } from "./latest";
import { asRollout } from "./outputs";
import { iso, RolloutContext, StageOutcome } from "./rollout-context";
import type { Stage } from "./schema";

/**
 * The stages that run nothing on machines: verify the build, wait out a soak (with an optional
 * review of failures), and a decision (approval). Each reads only the stacks (config, outputs),
 * so a restarted rollout picks up exactly where the stacks are: a soak's clock is the soaked
 * stack's `rollout.finishedAt`, never the time this process started.
 */

/** The build's Release file on every stack's mirror says `Label: smith-build-<N>` (contract 1). */
export async function verifyStage(stage: Stage, ctx: RolloutContext): Promise<StageOutcome> {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const stack of stage.verify!.stacks) {
    const info = await ctx.info(stack);
    const base = info.config.repoUrl.replace(/\/+$/, "");
    if (seen.has(base)) continue;
    seen.add(base);
    const url = releaseUrl(base, ctx.build);
    try {
      const r = await ctx.fetchText(url);
      if (r.status !== 200) problems.push(`${url}: HTTP ${r.status}`);
      else if (!releaseIsBuild(r.text, ctx.build)) problems.push(`${url}: Label is ${/^Label:\s*(.+?)\s*$/m.exec(r.text)?.[1] ?? "missing"}, not ${labelFor(ctx.build)}`);
    } catch (err) {
      problems.push(`${url}: ${(err as Error).message}`);
    }
  }
  if (problems.length) return { state: "failed", detail: `build ${ctx.build} is not published on every mirror: ${problems.join("; ")}` };
  return { state: "done", detail: `build ${ctx.build} published on ${[...seen].join(", ")}` };
}

/** `<wave>@<build>` in the stack's `smith:approvals`, and who recorded it (`smith:approvedBy`). */
export async function approvalOf(ctx: RolloutContext, stack: string, wave: string): Promise<{ approved: boolean; by?: string }> {
  const raw = await (await ctx.drivers(stack)).config();
  const approvals = decodeList(raw.approvals?.value ?? "[]") ?? [];
  const entry = `${wave}@${ctx.build}`;
  const by = (decodeList(raw.approvedBy?.value ?? "[]") ?? []).filter((a) => a.startsWith(`${entry} `)).pop();
  return { approved: approvals.includes(entry), ...(by ? { by } : {}) };
}

export async function approvalStage(stage: Stage, ctx: RolloutContext): Promise<StageOutcome> {
  const { stack, wave } = stage.approval!;
  const a = await approvalOf(ctx, stack, wave);
  if (a.approved) return { state: "done", detail: a.by ? `approved: ${a.by}` : `approved (${wave}@${ctx.build} in smith:approvals of ${stack})` };
  const command = `npx smith approve --stack ${stack} --wave ${wave} --build ${ctx.build}`;
  ctx.progress({ ts: iso(ctx.now()), type: "decision", stage: stage.name, stack, wave, command });
  return { state: "waiting", detail: `decision checkpoint: build ${ctx.build} waits for a person to open wave ${wave} of ${stack}: ${command}` };
}

/** Lines describing every failure of this build in the stages before `stage` (open or resolved incidents). */
export function reviewLines(ctx: RolloutContext, stage: string): string[] {
  const before = new Set(ctx.pipeline.stages.slice(0, ctx.pipeline.stages.findIndex((s) => s.name === stage)).map((s) => s.name));
  return Object.values(ctx.journal.data.incidents)
    .filter((r) => r.incident.build === ctx.build && before.has(r.incident.stage))
    .map((r) => `${r.state === "open" ? "OPEN" : "resolved"} ${r.incident.key}: ${r.incident.step} failed after ${r.incident.attempts} attempt(s): ${r.incident.error}${r.resolvedAt ? ` (resolved ${r.resolvedAt})` : ""}`);
}

export async function soakStage(stage: Stage, ctx: RolloutContext): Promise<StageOutcome> {
  const soak = stage.soak!;
  for (;;) {
    const r = asRollout((await (await ctx.drivers(soak.stack)).outputs()).rollout);
    if (!r || r.build !== ctx.build || !r.complete || !r.finishedAt) {
      return { state: "stopped", detail: `soak: ${soak.stack} has not completed build ${ctx.build} (rollout output: ${r ? `build ${r.build}, complete ${r.complete}` : "none"})` };
    }
    if (soak.review) {
      const lines = reviewLines(ctx, stage.name);
      for (const l of lines) ctx.progress({ ts: iso(ctx.now()), type: "info", message: `review (${stage.name}): ${l}` });
      const open = lines.filter((l) => l.startsWith("OPEN"));
      if (open.length && !(await approvalOf(ctx, soak.stack, stage.name)).approved) {
        return {
          state: "stopped",
          detail: `hard stop: ${open.length} unresolved failure(s) of build ${ctx.build}; fix them and run again with --retry-halted, or accept them: npx smith approve --stack ${soak.stack} --wave ${stage.name} --build ${ctx.build}`,
        };
      }
    }
    const opens = Date.parse(r.finishedAt) + soak.hours * 3_600_000;
    const remaining = opens - ctx.now().getTime();
    if (remaining <= 0) return { state: "done", detail: `${soak.stack} finished build ${ctx.build} at ${r.finishedAt}; soaked ${soak.hours} h` };
    ctx.progress({ ts: iso(ctx.now()), type: "soak", stage: stage.name, stack: soak.stack, opensAt: new Date(opens).toISOString(), remainingSeconds: remaining / 1000 });
    if (!ctx.wait) return { state: "waiting", detail: `soak of ${soak.stack} opens at ${new Date(opens).toISOString()}; run the same command again then` };
    await ctx.sleep(Math.min(remaining, 60_000) + 50);
  }
}
