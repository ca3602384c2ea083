import { Option } from "commander";
import { filterEvents, patchEvents } from "../../src/audit/events";
import { AUDIT_FORMATS, AuditFormat, renderAudit } from "../../src/audit/render";
import { buildAuditReport } from "../../src/audit/report";
import { defaultContext, parseDateFlag, parseStackFlag, readRecords, ReportContext } from "../../src/audit/context";
import type { RegisterCommand } from "./index";

interface AuditFlags {
  stack: string[];
  since?: string;
  until?: string;
  machine?: string;
  format: AuditFormat;
}

/** Runs `smith audit` against a context; returns what it prints. Exported for tests. */
export async function auditCommand(ctx: ReportContext, flags: AuditFlags, now = new Date()): Promise<string> {
  const since = parseDateFlag("--since", flags.since);
  const until = parseDateFlag("--until", flags.until);
  const records = await readRecords(ctx.history, flags.stack);
  const events = filterEvents(records.flatMap(patchEvents), { since, until, machine: flags.machine });
  events.sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt) || (a.stack < b.stack ? -1 : a.stack > b.stack ? 1 : a.machine < b.machine ? -1 : 1));
  const filter = { ...(since ? { since: since.toISOString() } : {}), ...(until ? { until: until.toISOString() } : {}), ...(flags.machine ? { machine: flags.machine } : {}) };
  return renderAudit(buildAuditReport(records, events, filter, now), flags.format);
}

/** `smith audit`: every patch event of the stacks' update history. */
export const registerAudit: RegisterCommand = (program) => {
  program
    .command("audit")
    .description("Every patch event in the stacks' Pulumi update history: machine, build, packages from→to, times, reboot, result, update and who ran it.")
    .requiredOption("--stack <name>", "stack (repeat for several)", parseStackFlag)
    .option("--since <date>", "only events that finished at or after this date (ISO 8601)")
    .option("--until <date>", "only events that started at or before this date (ISO 8601)")
    .option("--machine <glob>", "only machines whose name matches (*, ?, [..])")
    .addOption(new Option("--format <format>", "output format (markdown: the one-page evidence summary)").choices([...AUDIT_FORMATS]).default("table"))
    .action(async (flags: AuditFlags) => {
      process.stdout.write((await auditCommand(defaultContext(), flags)) + "\n");
    });
};
