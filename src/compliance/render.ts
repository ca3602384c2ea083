import Table from "cli-table3";
import { csvLine } from "../audit/csv";
import type { MachineCompliance } from "./evaluate";
import type { Policy } from "./policy";

export const COMPLIANCE_FORMATS = ["table", "csv", "json", "markdown"] as const;
export type ComplianceFormat = (typeof COMPLIANCE_FORMATS)[number];

export interface ComplianceReport {
  generatedAt: string;
  stacks: string[];
  manifests: string;
  newest: string | null;
  policy: Policy;
  machines: MachineCompliance[];
  exitCode: 0 | 1 | 2;
}

/** Worst first, then by stack and machine: what needs doing is at the top. */
const ORDER = { overdue: 0, unknown: 1, "due-soon": 2, ok: 3, current: 4 } as const;

export function sortRows(rows: MachineCompliance[]): MachineCompliance[] {
  return [...rows].sort(
    (a, b) =>
      Number(!a.inInventory) - Number(!b.inInventory) ||
      ORDER[a.status] - ORDER[b.status] ||
      (a.due && b.due ? Date.parse(a.due) - Date.parse(b.due) : a.due ? -1 : b.due ? 1 : 0) ||
      (a.stack < b.stack ? -1 : a.stack > b.stack ? 1 : 0) ||
      (a.machine < b.machine ? -1 : a.machine > b.machine ? 1 : 0),
  );
}

export function renderCompliance(r: ComplianceReport, format: ComplianceFormat): string {
  switch (format) {
    case "json":
      return JSON.stringify(r, null, 2);
    case "csv":
      return [csvLine(["stack", "machine", "build", "since", "newest", "status", "due", "flags", "live_build", "reason"]), ...r.machines.map((m) => csvLine(cells(m)))].join("\n");
    case "markdown":
      return markdown(r);
    case "table":
      return table(r);
  }
}

function liveBuild(m: MachineCompliance): string {
  if (!m.live) return "";
  return "error" in m.live ? "unreachable" : (m.live.build ?? "none");
}

function cells(m: MachineCompliance): string[] {
  return [m.stack, m.machine, m.build ?? "never patched", m.since ?? "", m.newest ?? "", m.status, m.due ?? "", m.flags.join(" "), liveBuild(m), m.reason];
}

/** Counts per status and flag, e.g. `2 overdue, 1 due-soon, 3 current; 1 vanished`. */
export function summaryLine(r: ComplianceReport): string {
  const counts = new Map<string, number>();
  for (const m of r.machines.filter((x) => x.inInventory)) counts.set(m.status, (counts.get(m.status) ?? 0) + 1);
  const flags = new Map<string, number>();
  for (const m of r.machines) for (const f of m.flags) flags.set(f, (flags.get(f) ?? 0) + 1);
  const s = Object.keys(ORDER).filter((k) => counts.has(k)).map((k) => `${counts.get(k)} ${k}`).join(", ") || "no machine";
  const f = [...flags].map(([k, n]) => `${n} ${k}`).join(", ");
  return `newest build ${r.newest ?? "none"}: ${s}${f ? `; ${f}` : ""} (exit ${r.exitCode})`;
}

function table(r: ComplianceReport): string {
  if (!r.machines.length) return `nothing yet: no machine in ${r.stacks.join(", ")}`;
  const live = r.machines.some((m) => m.live);
  const multi = r.stacks.length > 1;
  const t = new Table({
    head: [...(multi ? ["stack"] : []), "machine", "build", "since", "status", "due", "flags", ...(live ? ["live"] : []), "why"],
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: [...(multi ? [null] : []), null, null, null, null, null, null, ...(live ? [null] : []), 60],
  });
  for (const m of r.machines) {
    t.push([...(multi ? [m.stack] : []), m.machine, m.build ?? "-", m.since ?? "-", m.status, m.due ?? "-", m.flags.join(" "), ...(live ? [liveBuild(m)] : []), m.reason]);
  }
  return `${t.toString()}\n${summaryLine(r)}`;
}

function markdown(r: ComplianceReport): string {
  const out = [`## smith compliance: ${r.stacks.map((s) => `\`${s}\``).join(", ")}`, "", `${summaryLine(r)}. Generated ${r.generatedAt}; manifests from ${r.manifests}.`, ""];
  if (!r.machines.length) return [...out, `nothing yet: no machine in ${r.stacks.join(", ")}`].join("\n");
  out.push("| stack | machine | build | since | status | due | flags | why |", "|---|---|---:|---|---|---|---|---|");
  for (const m of r.machines) {
    out.push(`| ${m.stack} | \`${m.machine}\` | ${m.build ?? "-"} | ${m.since ?? "-"} | **${m.status}** | ${m.due ?? "-"} | ${m.flags.join(" ")} | ${m.reason.replace(/\|/g, "\\|")} |`);
  }
  return out.join("\n");
}
