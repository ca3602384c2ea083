import { parseHealthReport, parsePatchReport, parseRebootReport } from "../agent/report";
import type { MachineRecord } from "../change/record";
import type { PlanWave } from "../plan/types";
import { heldBehindHalts, StackInfo, stageWaves } from "./context";
import type { StateResource } from "./driver";
import type { Journal } from "./journal";
import type { PipelineFile } from "./schema";

/** Which plan waves of which stack each run stage covers, in pipeline order. */
export function stageRanges(p: PipelineFile, infos: ReadonlyMap<string, StackInfo>): { stage: string; stack: string; waves: PlanWave[] }[] {
  const last = new Map<string, string | undefined>();
  const out: { stage: string; stack: string; waves: PlanWave[] }[] = [];
  for (const s of p.stages) {
    if (!s.run) continue;
    for (const stack of s.run.stacks) {
      const info = infos.get(stack);
      if (!info) continue;
      const waves = stageWaves(info.plan, p.source, last.get(stack), s.run.untilWave);
      if (waves.length) last.set(stack, waves[waves.length - 1]!.phase?.wave ?? waves[waves.length - 1]!.name);
      out.push({ stage: s.name, stack, waves });
    }
  }
  return out;
}

function reports(resources: readonly StateResource[]): Map<string, { patch?: ReturnType<typeof parsePatchReport>; rebooting?: boolean; healthy?: boolean }> {
  const out = new Map<string, { patch?: ReturnType<typeof parsePatchReport>; rebooting?: boolean; healthy?: boolean }>();
  for (const r of resources) {
    const m = /::([^:]+)-(patch|reboot|health)$/.exec(r.urn);
    const stdout = r.outputs?.stdout;
    if (!m || r.type !== "command:remote:Command" || typeof stdout !== "string") continue;
    const e = out.get(m[1]!) ?? {};
    try {
      if (m[2] === "patch") e.patch = parsePatchReport(stdout);
      else if (m[2] === "reboot") e.rebooting = parseRebootReport(stdout).rebooting;
      else e.healthy = parseHealthReport(stdout).healthy;
    } catch {
      // no readable report: counts as absent
    }
    out.set(m[1]!, e);
  }
  return out;
}

/** Every planned machine of the pipeline's run stages, as the stacks' state records it now. */
export function machineRecords(
  ranges: { stage: string; stack: string; waves: PlanWave[] }[],
  infos: ReadonlyMap<string, StackInfo>,
  state: ReadonlyMap<string, StateResource[]>,
  heldWaves: ReadonlyMap<string, Set<string>>,
  journal: Journal,
  build: string,
): MachineRecord[] {
  const out: MachineRecord[] = [];
  for (const r of ranges) {
    const info = infos.get(r.stack)!;
    const rep = reports(state.get(r.stack) ?? []);
    const behind = heldBehindHalts(info.plan.waves, info.halted);
    for (const w of r.waves) {
      for (const c of w.clusters) {
        for (const n of c.nodes) {
          const x = rep.get(n) ?? {};
          const p = x.patch;
          const key = `${r.stack}/${n}`;
          const incident = journal.data.incidents[`${r.stack}/${n}/${build}`];
          const atBuild = p?.build === build && x.healthy === true;
          let result: MachineRecord["result"];
          if (info.halted.has(n)) result = "halted";
          else if (behind.has(n)) result = "held";
          else if (atBuild) result = p!.noop && !journal.data.patchStarts?.[key] ? "unchanged" : "patched";
          else if (incident?.state === "open") result = "failed";
          else if (heldWaves.get(r.stack)?.has(w.name)) result = "held";
          else result = "pending";
          out.push({
            stack: r.stack,
            stage: r.stage,
            wave: w.name,
            cluster: c.cluster,
            machine: n,
            build: p?.build ?? null,
            previous: p?.previous ?? null,
            packages: p?.changed ?? [],
            startedAt: p?.startedAt ?? null,
            finishedAt: p?.finishedAt ?? null,
            rebooted: x.rebooting === true,
            result,
            attempts: journal.data.attempts[key] ?? 0,
            ...(incident && (result === "failed" || result === "halted") ? { error: `${incident.incident.step}: ${incident.incident.error}` } : {}),
          });
        }
      }
    }
  }
  return out;
}
