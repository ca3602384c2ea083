import type { Plan } from "../types";
import { count, describeGate, machineCount, plannedCount, shortNames, unassignedByReason } from "./summary";

/**
 * What a pull request shows: a summary table, a mermaid diagram of waves and gates, then the
 * clusters and nodes of each wave (folded) and the unassigned machines with their reasons.
 */
export function renderMarkdown(plan: Plan): string {
  const out: string[] = [];
  out.push(`## smith plan for build ${plan.build}`, "");
  out.push(
    `${count(plan.waves.length, "wave")}, ${count(plannedCount(plan), "machine")} planned, ${plan.unassigned.length} unassigned. ` +
      "Waves run in order; clusters within a wave run in parallel; nodes within a cluster one at a time.",
    "",
  );
  out.push("| # | wave | gate | clusters | machines |", "|--:|------|------|---------:|---------:|");
  plan.waves.forEach((w, i) => {
    out.push(`| ${i + 1} | \`${w.name}\` | ${describeGate(w.gate)} | ${w.clusters.length} | ${machineCount(w)} |`);
  });
  out.push("", "```mermaid", "flowchart TD");
  let prev: string | undefined;
  plan.waves.forEach((w, i) => {
    const id = `w${i + 1}`;
    if (w.gate) {
      const gid = `g${i + 1}`;
      out.push(`  ${gid}{{"${mermaidText(describeGate(w.gate))}"}}`);
      if (prev) out.push(`  ${prev} --> ${gid}`);
      prev = gid;
    }
    out.push(`  ${id}["${mermaidText(w.name)}<br/>${count(w.clusters.length, "cluster")}, ${count(machineCount(w), "machine")}"]`);
    if (prev) out.push(`  ${prev} --> ${id}`);
    prev = id;
  });
  out.push("```", "");
  for (const w of plan.waves) {
    out.push(`<details><summary><code>${w.name}</code>: ${count(machineCount(w), "machine")} in ${count(w.clusters.length, "cluster")}</summary>`, "");
    out.push("| cluster | nodes in order (without the `<cluster>-` prefix) |", "|---------|------------------|");
    for (const c of w.clusters) {
      out.push(`| \`${c.cluster}\` | ${c.concurrency ? `(${c.concurrency} at a time) ` : ""}${shortNames(c.cluster, c.nodes).join(", ")} |`);
    }
    out.push("", "</details>", "");
  }
  const groups = unassignedByReason(plan);
  if (groups.length) {
    out.push("### Unassigned", "", "| machines | reason |", "|---------:|--------|");
    for (const g of groups) out.push(`| ${g.names.length} | ${g.reason} |`);
    out.push("", `<details><summary>${plan.unassigned.length} unassigned machines</summary>`, "");
    for (const u of plan.unassigned) out.push(`- \`${u.name}\`: ${u.reason}`);
    out.push("", "</details>", "");
  }
  return out.join("\n");
}

/** Mermaid labels are quoted strings: keep them free of quotes and markup. */
function mermaidText(s: string): string {
  return s.replace(/["<>]/g, "");
}
