import { isApproved } from "../../src/config/stack-config";
import type { Plan, PlanWave } from "../../src/plan/types";

/**
 * Wave gates, decided once per program run from plain data (config and stack outputs read
 * before any resource is registered), so a preview shows exactly what `up` will do.
 */

/** The `rollout` stack output (see stacks/outputs.ts); other stacks' soak gates read it. */
export interface RolloutOutput {
  build: string;
  /** Every wave ran for `build` (nothing held) and every node passed its healthcheck. */
  complete: boolean;
  /** Latest node finish time of `build` (ISO 8601), null before any node finished. */
  finishedAt: string | null;
  nodes: number;
  held: string[];
  /** Machines `smith rollout` halted for this build (smith:halted): they and the rest of their cluster wait. */
  halted?: string[];
}

export interface GateInputs {
  build: string;
  /** `smith:approvals`. */
  approvals: readonly string[];
  /** The `rollout` output of every stack a soak gate names; undefined when it has none. */
  soakRollouts: ReadonlyMap<string, unknown>;
  now: Date;
  /** Org used in messages, to name the stack the way StackReference does. */
  stackOrg: string;
  project: string;
}

export interface WaveDecision {
  wave: string;
  held: boolean;
  /** Why the wave is held, one line; undefined when it runs. */
  reason?: string;
}

/**
 * Decides every wave in plan order. A held wave holds all later waves too: waves are a
 * sequence, and patching past a closed gate would defeat it.
 */
export function decideWaves(plan: Plan, g: GateInputs): WaveDecision[] {
  const out: WaveDecision[] = [];
  let blocker: string | undefined;
  for (const w of plan.waves) {
    if (blocker !== undefined) {
      out.push({ wave: w.name, held: true, reason: `earlier wave ${blocker} is held` });
      continue;
    }
    const reason = gateReason(w, g);
    if (reason !== undefined) blocker = w.name;
    out.push({ wave: w.name, held: reason !== undefined, reason });
  }
  return out;
}

/** Why this wave's own gate is closed, or undefined when it is open. */
export function gateReason(w: PlanWave, g: GateInputs): string | undefined {
  if (!w.gate) return undefined;
  const reasons: string[] = [];
  if (w.gate.approval && !isApproved(g.approvals, g.build, w.name, w.phase?.wave)) {
    reasons.push(`approval gate: smith:approvals has no ${w.name}@${g.build}${w.phase ? ` (or ${w.phase.wave}@${g.build})` : ""}`);
  }
  if (w.gate.soak) {
    const r = soakReason(w.gate.soak, g);
    if (r) reasons.push(r);
  }
  return reasons.length ? reasons.join("; ") : undefined;
}

function soakReason(soak: { hours: number; stack: string }, g: GateInputs): string | undefined {
  const ref = `${g.stackOrg}/${g.project}/${soak.stack}`;
  const prefix = `soak gate (${soak.hours}h on ${ref})`;
  const r = asRollout(g.soakRollouts.get(soak.stack));
  if (!r) return `${prefix}: ${ref} has no rollout output yet`;
  if (r.build !== g.build) return `${prefix}: ${ref} is at build ${r.build}, not ${g.build}`;
  if (!r.complete) return `${prefix}: ${ref} has not completed build ${g.build}${r.held.length ? ` (held: ${r.held.join(", ")})` : ""}`;
  const finished = r.finishedAt ? Date.parse(r.finishedAt) : NaN;
  if (Number.isNaN(finished)) return `${prefix}: ${ref} reports no finish time for build ${g.build}`;
  const hours = (g.now.getTime() - finished) / 3_600_000;
  if (hours < soak.hours) {
    return `${prefix}: ${ref} finished build ${g.build} at ${r.finishedAt}, ${hours.toFixed(1)}h ago; opens at ${new Date(finished + soak.hours * 3_600_000).toISOString()}`;
  }
  return undefined;
}

/** Validates a rollout output read from another stack; anything malformed counts as absent. */
export function asRollout(v: unknown): RolloutOutput | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.build !== "string" || typeof o.complete !== "boolean") return undefined;
  return {
    build: o.build,
    complete: o.complete,
    finishedAt: typeof o.finishedAt === "string" ? o.finishedAt : null,
    nodes: typeof o.nodes === "number" ? o.nodes : 0,
    held: Array.isArray(o.held) ? o.held.filter((x): x is string => typeof x === "string") : [],
  };
}
