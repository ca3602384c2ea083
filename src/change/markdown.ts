import { ChangeRecord, countResults } from "./record";

const cell = (s: string | number | boolean | null | undefined) => String(s ?? "–").replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The change record as Markdown: summary, stages, machines (with packages), incidents. */
export function renderChangeMarkdown(r: ChangeRecord): string {
  const c = countResults(r.machines);
  const lines = [
    `# Change record: build ${r.build} (${r.pipeline})`,
    "",
    `- Result: **${r.result}**`,
    `- Started: ${r.startedAt}; last update: ${r.updatedAt}`,
    `- Machines: ${r.machines.length} (patched ${c.patched}, unchanged ${c.unchanged}, failed ${c.failed}, halted ${c.halted}, held ${c.held}, pending ${c.pending})`,
    "",
    "## Stages",
    "",
    "| stage | kind | result | started | finished | detail |",
    "|---|---|---|---|---|---|",
    ...r.stages.map((s) => `| ${cell(s.name)} | ${s.kind} | ${s.result} | ${cell(s.startedAt)} | ${cell(s.finishedAt)} | ${cell(s.detail)} |`),
    "",
    "## Machines",
    "",
    "| machine | stack | stage | wave | cluster | build | result | started | finished | reboot | packages |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...r.machines.map(
      (m) =>
        `| ${cell(m.machine)} | ${cell(m.stack)} | ${cell(m.stage)} | ${cell(m.wave)} | ${cell(m.cluster)} | ${cell(m.previous && m.build !== m.previous ? `${m.previous} → ${m.build}` : m.build)} | ${m.result}${m.error ? `: ${cell(m.error)}` : ""} | ${cell(m.startedAt)} | ${cell(m.finishedAt)} | ${m.rebooted ? "yes" : "no"} | ${cell(m.packages.map((p) => `${p.name} ${p.from ?? "–"} → ${p.to ?? "–"}`).join(", ") || "–")} |`,
    ),
    "",
    "## Incidents",
    "",
    ...(r.incidents.length
      ? ["| incident | step | state | opened | resolved | attempts | error |", "|---|---|---|---|---|---|---|", ...r.incidents.map((i) => `| ${cell(i.key)} | ${i.step} | ${i.state} | ${i.openedAt} | ${cell(i.resolvedAt)} | ${i.attempts} | ${cell(i.error)} |`)]
      : ["None."]),
    "",
  ];
  return lines.join("\n");
}
