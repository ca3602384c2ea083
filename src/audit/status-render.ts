import Table from "cli-table3";
import type { FleetStatus } from "./status";

export const STATUS_FORMATS = ["table", "json", "markdown"] as const;
export type StatusFormat = (typeof STATUS_FORMATS)[number];

/** `3 at 3, 1 at 2, 1 none`, target build first. */
export function buildCounts(builds: Record<string, number>, target: string): string {
  return Object.entries(builds)
    .sort(([a], [b]) => (a === target ? -1 : b === target ? 1 : Number(b) - Number(a)))
    .map(([b, n]) => (b === "none" ? `${n} never patched` : `${n} at ${b}`))
    .join(", ");
}

function state(s: FleetStatus["clusters"][number]): string {
  const parts = [];
  if (s.held) parts.push(`HELD: ${s.held}`);
  if (s.failedAt) parts.push(`FAILED at ${s.failedAt}`);
  if (s.unhealthy.length) parts.push(`unhealthy: ${s.unhealthy.join(", ")}`);
  return parts.join("; ") || "ok";
}

function liveCell(s: FleetStatus["clusters"][number]): string {
  if (!s.live) return "";
  const parts = [`${s.live.agree} agree`];
  if (s.live.drift.length) parts.push(`drift: ${s.live.drift.join(", ")}`);
  if (s.live.unreachable.length) parts.push(`unreachable: ${s.live.unreachable.join(", ")}`);
  return parts.join("; ");
}

function header(s: FleetStatus): string {
  const u = s.lastUpdate;
  return `stack ${s.stack}, target build ${s.build}; last update ${u ? `${u.id} ${u.result} (${u.endTime ?? u.startTime})` : "none yet"}`;
}

export function renderStatus(list: readonly FleetStatus[], format: StatusFormat): string {
  if (format === "json") return JSON.stringify(list, null, 2);
  const out: string[] = [];
  for (const s of list) {
    const live = s.clusters.some((c) => c.live);
    const tail = [
      s.notPlanned.length ? `not in the plan any more (left the inventory or every wave): ${s.notPlanned.join(", ")}` : "",
      s.unassigned.length ? `in no wave (${s.unassigned.length}, never patched by this stack): ${s.unassigned.slice(0, 10).map((u) => u.name).join(", ")}${s.unassigned.length > 10 ? ", …" : ""}` : "",
    ]
      .filter(Boolean)
      .join("\n");
    if (format === "markdown") {
      out.push(`### ${header(s)}`, "", `| wave | cluster | machines | builds | state |${live ? " live |" : ""}`, `|---|---|---:|---|---|${live ? "---|" : ""}`);
      for (const c of s.clusters) out.push(`| ${c.wave} | ${c.cluster} | ${c.machines} | ${buildCounts(c.builds, s.build)} | ${state(c)} |${live ? ` ${liveCell(c)} |` : ""}`);
      if (tail) out.push("", tail);
      out.push("");
      continue;
    }
    const t = new Table({ head: ["wave", "cluster", "n", "builds", "state", ...(live ? ["live"] : [])], style: { head: [], border: [] } });
    for (const c of s.clusters) t.push([c.wave, c.cluster, String(c.machines), buildCounts(c.builds, s.build), state(c), ...(live ? [liveCell(c)] : [])]);
    out.push(header(s), t.toString(), ...(tail ? [tail] : []), "");
  }
  return out.join("\n").trimEnd();
}
