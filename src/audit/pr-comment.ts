import { count, describeGate, machineCount, plannedCount, shortNames } from "../plan/render/summary";
import type { Plan } from "../plan/types";
import { changeLine, PreviewSummary } from "./preview";

/** A stack's part of the PR comment: its plan, its gates as decided now, its preview. */
export interface StackPreview {
  stack: string;
  plan: Plan;
  /** Per plan wave (same order): held and why, as the program decides it. */
  gates: { wave: string; held: boolean; reason?: string }[];
  preview: PreviewSummary | { failed: string };
}

const SHOWN = 30;

function names(list: readonly string[]): string {
  const shown = list.slice(0, SHOWN).map((n) => `\`${n}\``).join(", ");
  return list.length > SHOWN ? `${shown} and ${list.length - SHOWN} more` : shown;
}

const mermaidText = (s: string) => s.replace(/["<>]/g, "");

function gateCell(w: Plan["waves"][number], g: StackPreview["gates"][number] | undefined): string {
  if (!w.gate && !g?.held) return "none";
  const what = w.gate ? describeGate(w.gate) : "none";
  if (!g?.held) return `${what}: **open**`;
  return `${what}: **closed** (${(g.reason ?? "held").replace(/\|/g, "\\|")})`;
}

function stackSection(s: StackPreview): string[] {
  const out = [`### Stack \`${s.stack}\`: build ${s.plan.build}`, ""];
  const held = s.gates.filter((g) => g.held).length;
  out.push(
    `${count(s.plan.waves.length, "wave")}, ${count(plannedCount(s.plan), "machine")} planned, ${s.plan.unassigned.length} unassigned; ` +
      (held ? `${count(held, "wave")} held.` : "every gate open."),
    "",
  );
  out.push("| # | wave | gate | clusters | machines |", "|--:|------|------|---------:|---------:|");
  s.plan.waves.forEach((w, i) => out.push(`| ${i + 1} | \`${w.name}\` | ${gateCell(w, s.gates[i])} | ${w.clusters.length} | ${machineCount(w)} |`));
  out.push("", "```mermaid", "flowchart LR");
  let prev: string | undefined;
  s.plan.waves.forEach((w, i) => {
    const g = s.gates[i];
    if (w.gate || g?.held) {
      const gid = `g${i + 1}`;
      out.push(`  ${gid}{{"${mermaidText(w.gate ? describeGate(w.gate) : "held")}: ${g?.held ? "closed" : "open"}"}}`);
      if (prev) out.push(`  ${prev} --> ${gid}`);
      prev = gid;
    }
    out.push(`  w${i + 1}["${mermaidText(w.name)}<br/>${count(w.clusters.length, "cluster")}, ${count(machineCount(w), "machine")}"]`);
    if (prev) out.push(`  ${prev} --> w${i + 1}`);
    prev = `w${i + 1}`;
  });
  out.push("```", "");
  out.push(`<details><summary>Clusters and machines in patch order</summary>`, "", "| wave | cluster | nodes in order |", "|---|---|---|");
  for (const w of s.plan.waves) for (const c of w.clusters) out.push(`| \`${w.name}\` | \`${c.cluster}\` | ${shortNames(c.cluster, c.nodes).join(", ")} |`);
  out.push("", "</details>", "");

  out.push("#### `pulumi preview`", "");
  if ("failed" in s.preview) {
    out.push(`**preview failed**: ${s.preview.failed}`, "");
    return out;
  }
  const p = s.preview;
  out.push(`Resources: ${changeLine(p.changes)}.`, "");
  out.push(p.patched.length ? `**Will patch ${count(p.patched.length, "machine")}**: ${names(p.patched)}.` : "**No machine will be patched.**", "");
  if (p.dropped.length) out.push(`Leaving the stack (nothing runs on them; they stay in the audit history): ${names(p.dropped)}.`, "");
  for (const e of p.errors) out.push(`> **error**: ${e}`);
  for (const w of p.warnings) out.push(`> warning: ${w}`);
  if (p.errors.length || p.warnings.length) out.push("");
  return out;
}

/** The whole comment (without the marker, which upsertComment adds). */
export function renderPrComment(stacks: readonly StackPreview[], footer?: string): string {
  const out = ["## smith: what this change will do", ""];
  for (const s of stacks) out.push(...stackSection(s));
  if (footer) out.push(`<sub>${footer}</sub>`);
  return out.join("\n").trimEnd() + "\n";
}
