import { loadStackInfo, StackInfo } from "./context";
import type { DriverFactory, PreviewResult } from "./driver";
import { approvalOf } from "./gate-stages";
import { asRollout } from "./outputs";
import { stageRanges } from "./records";
import type { RolloutContext } from "./rollout-context";
import { PipelineFile, pipelineStacks, stageKind } from "./schema";

/**
 * `smith rollout --dry-run`: what would run next, stage by stage, changing nothing (no config
 * write, no update). A stack already at build N gets a real `pulumi preview`; a stack at another
 * build is described from the plan (a preview would need the build set in its config first).
 */
export async function dryRun(p: PipelineFile, build: string, drivers: DriverFactory, projectDir: string, now: () => Date): Promise<string[]> {
  const infos = new Map<string, StackInfo>();
  for (const s of pipelineStacks(p)) infos.set(s, await loadStackInfo(await drivers(s), build, p, projectDir));
  const ranges = stageRanges(p, infos);
  const ctx = { build, drivers } as unknown as RolloutContext;
  const out: string[] = [];
  const previews = new Map<string, PreviewResult>();
  for (const stage of p.stages) {
    const kind = stageKind(stage);
    if (stage.verify) out.push(`${stage.name} (verify): would check builds/${build}/dists/smith/Release (Label smith-build-${build}) on the mirrors of ${stage.verify.stacks.join(", ")}`);
    if (stage.approval) {
      const a = await approvalOf(ctx, stage.approval.stack, stage.approval.wave);
      out.push(`${stage.name} (approval): ${a.approved ? `open (${a.by ?? `${stage.approval.wave}@${build}`})` : `closed: npx smith approve --stack ${stage.approval.stack} --wave ${stage.approval.wave} --build ${build}`}`);
    }
    if (stage.soak) {
      const r = asRollout((await (await drivers(stage.soak.stack)).outputs()).rollout);
      const opens = r?.build === build && r.complete && r.finishedAt ? new Date(Date.parse(r.finishedAt) + stage.soak.hours * 3_600_000) : null;
      out.push(`${stage.name} (soak ${stage.soak.hours} h on ${stage.soak.stack}): ${opens ? (opens <= now() ? "elapsed" : `opens at ${opens.toISOString()}`) : `${stage.soak.stack} has not completed build ${build} yet`}`);
    }
    if (stage.run) {
      for (const r of ranges.filter((x) => x.stage === stage.name)) {
        const info = infos.get(r.stack)!;
        const machines = r.waves.reduce((s, w) => s + w.clusters.reduce((c, cl) => c + cl.nodes.length, 0), 0);
        const waves = r.waves.map((w) => w.name).join(", ") || "none";
        if (info.raw.build?.value !== build) {
          out.push(`${stage.name} (${kind}) ${r.stack}: would set smith:build ${build} (now ${info.raw.build?.value ?? "unset"}) and patch ${machines} machine(s) in waves ${waves}`);
          continue;
        }
        // One preview per stack: an update runs every open wave of it at once.
        let pv = previews.get(r.stack);
        if (!pv) previews.set(r.stack, (pv = await info.driver.preview()));
        const changes = Object.entries(pv.changes).filter(([op, n]) => n > 0 && op !== "same").map(([op, n]) => `${op} ${n}`).join(", ") || "no changes";
        out.push(`${stage.name} (${kind}) ${r.stack}: preview: ${changes}; ${machines} machine(s) in waves ${waves}`);
        for (const m of pv.messages.filter((x) => /HELD|halted/.test(x))) out.push(`    ${m}`);
      }
    }
  }
  return out;
}
