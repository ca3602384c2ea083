import type { Plan, PlanGate, PlanWave } from "../types";

/** One line describing a gate, shared by the table and markdown renderers. */
export function describeGate(gate: PlanGate | null): string {
  if (!gate) return "none";
  const parts: string[] = [];
  if (gate.soak) parts.push(`soak ${gate.soak.hours}h after stack ${gate.soak.stack}`);
  if (gate.approval) parts.push("approval");
  return parts.join(" + ");
}

export function machineCount(w: PlanWave): number {
  return w.clusters.reduce((n, c) => n + c.nodes.length, 0);
}

export function plannedCount(plan: Plan): number {
  return plan.waves.reduce((n, w) => n + machineCount(w), 0);
}

/** Unassigned machines grouped by reason, largest group first (then by reason text). */
export function unassignedByReason(plan: Plan): { reason: string; names: string[] }[] {
  const by = new Map<string, string[]>();
  for (const u of plan.unassigned) {
    const list = by.get(u.reason);
    if (list) list.push(u.name);
    else by.set(u.reason, [u.name]);
  }
  return [...by.entries()]
    .map(([reason, names]) => ({ reason, names }))
    .sort((a, b) => b.names.length - a.names.length || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
}

/** `1 machine`, `3 machines`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** Node names without their `<cluster>-` prefix: the cluster is already named next to them. */
export function shortNames(cluster: string, nodes: string[]): string[] {
  const prefix = `${cluster}-`;
  // Keep the full name when the rest would be a bare number (`dev-syd01-test-01` → not `01`).
  return nodes.map((n) => (n.startsWith(prefix) && /^[A-Za-z]/.test(n.slice(prefix.length)) ? n.slice(prefix.length) : n));
}
