import Table from "cli-table3";
import type { Plan } from "../types";
import { count, describeGate, machineCount, plannedCount, shortNames, unassignedByReason } from "./summary";

const UNASSIGNED_SHOWN = 8;

/** The terminal view: one row per cluster, in patch order, then the unassigned machines. */
export function renderTable(plan: Plan): string {
  const table = new Table({
    head: ["wave", "gate", "cluster", "n", "nodes in order (<cluster>- prefix left out)"],
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: [null, null, null, null, 70],
  });
  for (const w of plan.waves) {
    const gate = describeGate(w.gate);
    const par = w.clusters.length > 1 ? `${w.clusters.length} clusters in parallel` : "1 cluster";
    w.clusters.forEach((c, i) => {
      table.push([
        i === 0 ? `${w.name}\n(${count(machineCount(w), "machine")}, ${par})` : "",
        i === 0 ? gate : "",
        c.cluster,
        String(c.nodes.length),
        (c.concurrency ? `[${c.concurrency} at a time] ` : "") + shortNames(c.cluster, c.nodes).join(", "),
      ]);
    });
  }
  const lines = [
    `build ${plan.build}: ${count(plan.waves.length, "wave")}, ${count(plannedCount(plan), "machine")} planned, ${plan.unassigned.length} unassigned`,
  ];
  if (plan.waves.length) lines.push(table.toString());
  // Plain lines, not a table: reasons are long and must stay greppable; names are cut short
  // because hundreds of out-of-scope machines would bury the plan (`--format json` has them all).
  for (const g of unassignedByReason(plan)) {
    const shown = g.names.slice(0, UNASSIGNED_SHOWN).join(", ");
    const more = g.names.length > UNASSIGNED_SHOWN ? ` … and ${g.names.length - UNASSIGNED_SHOWN} more` : "";
    lines.push(`unassigned (${g.names.length}): ${g.reason}: ${shown}${more}`);
  }
  return lines.join("\n");
}

