/**
 * `pulumi preview --json` reduced to what a reviewer asks: how many resources change how, which
 * machines get patched, which leave the stack, and the warnings (held waves say why).
 */

export interface PreviewJson {
  steps?: { op: string; urn: string }[];
  changeSummary?: Record<string, number>;
  diagnostics?: { message?: string; severity?: string; urn?: string }[];
}

export interface PreviewSummary {
  changes: Record<string, number>;
  /** Machines whose patch command runs (create, replace, update). */
  patched: string[];
  /** Machines whose resources are deleted: they left the plan (inventory or waves). */
  dropped: string[];
  warnings: string[];
  errors: string[];
}

const NODE_STEP = /::([^:]+)-(agent|patch|reboot|health)$/;
const RUNS = new Set(["create", "replace", "create-replacement", "update"]);

export function summarizePreview(p: PreviewJson): PreviewSummary {
  const patched = new Set<string>();
  const dropped = new Set<string>();
  for (const s of p.steps ?? []) {
    const m = NODE_STEP.exec(s.urn);
    if (!m) continue;
    if (m[2] === "patch" && RUNS.has(s.op)) patched.add(m[1]!);
    if (s.op === "delete" && m[2] === "patch") dropped.add(m[1]!);
  }
  const diag = (sev: string) =>
    (p.diagnostics ?? [])
      .filter((d) => d.severity === sev && d.message)
      .map((d) => d.message!.trim().replace(/\s+/g, " "));
  return { changes: p.changeSummary ?? {}, patched: [...patched].sort(), dropped: [...dropped].sort(), warnings: [...new Set(diag("warning"))], errors: [...new Set(diag("error"))] };
}

const OPS: [string, string][] = [
  ["create", "to create"],
  ["update", "to update"],
  ["replace", "to replace"],
  ["delete", "to delete"],
  ["same", "unchanged"],
];

/** `4 to create, 72 to replace, 97 unchanged`. */
export function changeLine(changes: Record<string, number>): string {
  const known = OPS.filter(([op]) => changes[op]).map(([op, label]) => `${changes[op]} ${label}`);
  const other = Object.entries(changes)
    .filter(([op, n]) => n && !OPS.some(([k]) => k === op))
    .map(([op, n]) => `${n} ${op}`);
  return [...known, ...other].join(", ") || "no changes";
}
