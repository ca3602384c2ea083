import Table from "cli-table3";
import type { ChangedPackage } from "../agent/report";
import { csvLine } from "./csv";
import type { PatchEvent } from "./events";
import type { AuditReport } from "./report";

export const AUDIT_FORMATS = ["table", "csv", "json", "markdown"] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

export function renderAudit(r: AuditReport, format: AuditFormat): string {
  switch (format) {
    case "json":
      return JSON.stringify(r, null, 2);
    case "csv":
      return renderCsv(r);
    case "markdown":
      return renderEvidence(r);
    case "table":
      return renderTable(r);
  }
}

/** `name from→to`; a new package `name →to`, a removed one `name from→(removed)`. */
export function packageChange(p: ChangedPackage): string {
  return `${p.name} ${p.from ?? ""}→${p.to ?? "(removed)"}`;
}

function packagesCell(e: PatchEvent, sep: string): string {
  if (e.noop) return "(already at build)";
  const more = e.changedCount > e.packages.length ? `${sep}… ${e.changedCount - e.packages.length} more` : "";
  return e.packages.map(packageChange).join(sep) + more;
}

const yesNo = (b: boolean | null) => (b === null ? "?" : b ? "yes" : "no");

function nothingYet(r: AuditReport): string {
  const where = r.sources.map((s) => `${s.stack} (${s.updates} update${s.updates === 1 ? "" : "s"})`).join(", ");
  return `nothing yet: no patch events in ${where}${describeFilter(r) ? ` ${describeFilter(r)}` : ""}`;
}

function describeFilter(r: AuditReport): string {
  const parts = [];
  if (r.filter.since) parts.push(`since ${r.filter.since}`);
  if (r.filter.until) parts.push(`until ${r.filter.until}`);
  if (r.filter.machine) parts.push(`for machines ${r.filter.machine}`);
  return parts.join(", ");
}

function renderTable(r: AuditReport): string {
  if (!r.events.length) return nothingYet(r);
  const multi = r.sources.length > 1;
  const t = new Table({
    head: [...(multi ? ["stack"] : []), "machine", "build", "packages", "started", "finished", "rebooted", "result", "update", "by"],
    style: { head: [], border: [] },
  });
  for (const e of r.events) {
    t.push([...(multi ? [e.stack] : []), e.machine, `${e.previous ?? "-"}→${e.build}`, packagesCell(e, "\n"), e.startedAt, e.finishedAt, yesNo(e.rebooted), e.result, `${e.updateId} (${e.updateResult})`, e.ranBy]);
  }
  return `${t.toString()}\n${r.events.length} patch event(s) on ${new Set(r.events.map((e) => `${e.stack}/${e.machine}`)).size} machine(s)`;
}

export const CSV_HEADER = ["stack", "machine", "build", "previous", "noop", "package", "from", "to", "started", "finished", "rebooted", "result", "update", "update_result", "ran_by"];

/** One row per package change (an event without changes: one row with empty package columns). */
function renderCsv(r: AuditReport): string {
  const lines = [csvLine(CSV_HEADER)];
  for (const e of r.events) {
    const base = [e.stack, e.machine, e.build, e.previous ?? "", String(e.noop)];
    const tail = [e.startedAt, e.finishedAt, e.rebooted === null ? "" : String(e.rebooted), e.result, e.updateId, e.updateResult, e.ranBy];
    const pkgs = e.packages.length ? e.packages : [null];
    for (const p of pkgs) lines.push(csvLine([...base, p?.name ?? "", p?.from ?? "", p?.to ?? "", ...tail]));
  }
  return lines.join("\n");
}

const md = (s: string) => s.replace(/\|/g, "\\|");

/**
 * The one-page evidence summary for an audit request: scope and sources, totals, every update
 * (who, when, build, result), every machine's latest patch, then all events folded.
 */
function renderEvidence(r: AuditReport): string {
  const out: string[] = [];
  const stacks = r.sources.map((s) => `\`${s.stack}\``).join(", ");
  out.push(`# Patch evidence: ${stacks}`, "");
  out.push(`Generated ${r.generatedAt} from the Pulumi state history (${r.sources.map((s) => `${s.stack}: ${s.source}, ${s.updates} update(s)`).join("; ")}).`);
  if (describeFilter(r)) out.push(`Scope: ${describeFilter(r)}.`);
  out.push("");
  if (!r.events.length) {
    out.push(`**${nothingYet(r)}**`);
    return out.join("\n");
  }
  const machines = latestPerMachine(r.events);
  const gone = machines.filter((e) => !(r.current[e.stack] ?? []).includes(e.machine));
  const ok = r.updates.filter((u) => u.result === "succeeded").length;
  out.push("| | |", "|---|---|");
  out.push(`| period | ${r.events[0]!.startedAt} – ${r.events[r.events.length - 1]!.finishedAt} |`);
  out.push(`| updates | ${r.updates.length} (${ok} succeeded, ${r.updates.length - ok} other) |`);
  out.push(`| patch events | ${r.events.length} (${r.events.filter((e) => e.result === "healthy").length} healthy afterwards, ${r.events.filter((e) => e.noop).length} no-op) |`);
  out.push(`| machines | ${machines.length}${gone.length ? ` (${gone.length} no longer in their stack: ${gone.map((e) => `\`${e.machine}\``).join(", ")})` : ""} |`);
  out.push(`| reboots | ${r.events.filter((e) => e.rebooted).length} |`);
  out.push(`| package changes | ${r.events.reduce((n, e) => n + e.changedCount, 0)} |`, "");
  out.push("## Updates", "", "| update | stack | started | finished | by | build | approvals | result | patched |", "|---|---|---|---|---|---:|---|---|---:|");
  for (const u of r.updates) {
    out.push(`| \`${u.id}\` | ${u.stack} | ${u.startTime} | ${u.endTime ?? "-"} | ${md(u.ranBy)} | ${u.build ?? "-"} | ${md(u.approvals.join("; ")) || "-"} | ${u.result} | ${u.patched} |`);
  }
  // Grouped, so the page stays one page for a fleet of hundreds; the per-machine rows are folded.
  const groups = new Map<string, PatchEvent[]>();
  for (const e of machines) {
    const k = `${e.stack}\u0000${e.build}\u0000${e.result}`;
    groups.set(k, [...(groups.get(k) ?? []), e]);
  }
  out.push("", "## Machines by their latest patch", "", "| stack | build | result | machines | last finished |", "|---|---:|---|---:|---|");
  for (const list of groups.values()) {
    const last = list.reduce((a, b) => (Date.parse(b.finishedAt) > Date.parse(a.finishedAt) ? b : a));
    out.push(`| ${list[0]!.stack} | ${list[0]!.build} | ${list[0]!.result} | ${list.length} | ${last.finishedAt} |`);
  }
  const attention = machines.filter((e) => e.result !== "healthy");
  if (attention.length) out.push("", `Not healthy after their latest patch: ${attention.map((e) => `\`${e.machine}\` (${e.result})`).join(", ")}.`);
  out.push("", `<details><summary>Every machine's latest patch (${machines.length})</summary>`, "");
  out.push("| machine | stack | build | finished | packages | rebooted | result | update |", "|---|---|---:|---|---|---|---|---|");
  for (const e of machines) {
    const note = (r.current[e.stack] ?? []).includes(e.machine) ? "" : " (removed)";
    out.push(`| \`${e.machine}\`${note} | ${e.stack} | ${e.build} | ${e.finishedAt} | ${md(packagesCell(e, ", "))} | ${yesNo(e.rebooted)} | ${e.result} | \`${e.updateId}\` |`);
  }
  out.push("", "</details>");
  out.push("", `<details><summary>All ${r.events.length} patch events</summary>`, "");
  out.push("| machine | stack | build | packages | started | finished | rebooted | result | update |", "|---|---|---|---|---|---|---|---|---|");
  for (const e of r.events) {
    out.push(`| \`${e.machine}\` | ${e.stack} | ${e.previous ?? "-"}→${e.build} | ${md(packagesCell(e, ", "))} | ${e.startedAt} | ${e.finishedAt} | ${yesNo(e.rebooted)} | ${e.result} | \`${e.updateId}\` |`);
  }
  out.push("", "</details>");
  return out.join("\n");
}

/** Each machine's most recent event (per stack), by machine name. */
export function latestPerMachine(events: readonly PatchEvent[]): PatchEvent[] {
  const last = new Map<string, PatchEvent>();
  for (const e of events) {
    const k = `${e.stack}\u0000${e.machine}`;
    const prev = last.get(k);
    if (!prev || Date.parse(e.finishedAt) >= Date.parse(prev.finishedAt)) last.set(k, e);
  }
  return [...last.values()].sort((a, b) => (a.machine < b.machine ? -1 : a.machine > b.machine ? 1 : a.stack < b.stack ? -1 : 1));
}
