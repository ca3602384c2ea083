import { Option } from "commander";
import { patchEvents } from "../../src/audit/events";
import { defaultContext, parseDateFlag, parseStackFlag, readRecords, ReportContext } from "../../src/audit/context";
import { readStackSettings } from "../../src/audit/stack-settings";
import { complianceExitCode, evaluateMachine, MachineFacts } from "../../src/compliance/evaluate";
import { machineFacts } from "../../src/compliance/facts";
import { liveStatus, stackPrivateKey } from "../../src/compliance/live";
import { manifestSource } from "../../src/compliance/manifests";
import { DEFAULT_POLICY, loadPolicy } from "../../src/compliance/policy";
import { COMPLIANCE_FORMATS, ComplianceFormat, ComplianceReport, renderCompliance, sortRows } from "../../src/compliance/render";
import { UserError } from "../../src/errors";
import { loadInventory } from "../../src/inventory/load";
import { managedMachines } from "../../src/compliance/managed";
import { loadWaves } from "../../src/waves/load";
import type { RegisterCommand } from "./index";

interface ComplianceFlags {
  stack: string[];
  policy?: string;
  manifests?: string;
  now?: string;
  format: ComplianceFormat;
  live?: boolean;
  concurrency: string;
}

/** Runs `smith compliance`; returns the report (its exitCode is the command's). Exported for tests. */
export async function complianceCommand(ctx: ReportContext, flags: ComplianceFlags): Promise<ComplianceReport> {
  const now = parseDateFlag("--now", flags.now) ?? new Date();
  const concurrency = Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UserError(`flag --concurrency: must be a positive integer (got ${JSON.stringify(flags.concurrency)})`);
  const policy = flags.policy ? loadPolicy(flags.policy) : DEFAULT_POLICY;
  const records = await readRecords(ctx.history, flags.stack);
  const facts: MachineFacts[] = [];
  const repoUrls = new Set<string>();
  for (const record of records) {
    const config = await readStackSettings(ctx.runner, record.stack, ctx.projectDir);
    repoUrls.add(config.repoUrl);
    // A stack answers for the machines its waves take; the rest of a shared inventory belongs to
    // other stacks (dev's inventory lists production too) and would be judged twice.
    const inventory = managedMachines(await loadInventory(config.inventory), loadWaves(config.waves));
    const stackFacts = machineFacts(record, patchEvents(record), inventory.map((m) => m.name));
    if (flags.live) {
      const key = await stackPrivateKey(ctx.runner, record.stack, config);
      const live = await liveStatus(inventory, config, key, concurrency);
      for (const f of stackFacts) {
        const s = live.get(f.machine);
        if (s) f.live = s.ok ? { build: s.status!.build } : { error: s.error ?? "status failed" };
      }
    }
    facts.push(...stackFacts);
  }
  if (!flags.manifests && repoUrls.size > 1) {
    throw new UserError(`flag --manifests: the stacks use different repositories (${[...repoUrls].join(", ")}); say which builds to compare against`);
  }
  const source = manifestSource(flags.manifests ?? `${[...repoUrls][0]!.replace(/\/+$/, "")}/builds`);
  const builds = facts.flatMap((f) => (f.build && /^[0-9]+$/.test(f.build) ? [Number(f.build)] : []));
  const manifests = await source.load(builds.length ? Math.min(...builds) : 1, builds);
  if (manifests.size === 0) throw new UserError(`--manifests: no build manifest (<N>/manifest.json) in ${source.describe()}: nothing to compare against`);
  const rows = sortRows(facts.map((f) => evaluateMachine(f, manifests, policy, now)));
  const newest = manifests.size ? String(Math.max(...manifests.keys())) : null;
  return { generatedAt: now.toISOString(), stacks: records.map((r) => r.stack), manifests: source.describe(), newest, policy, machines: rows, exitCode: complianceExitCode(rows) };
}

/** `smith compliance`: per machine, its build and due date against the newest build and a policy. */
export const registerCompliance: RegisterCommand = (program) => {
  program
    .command("compliance")
    .description("Per machine: build, since when, due date per policy; exit 0 ok, 1 due within the window, 2 overdue or unknown.")
    .requiredOption("--stack <name>", "stack (repeat for several)", parseStackFlag)
    .option("--policy <file>", "policy YAML (deadlines by severity); default: the same as examples/policy.yaml")
    .option("--manifests <dir|url|file>", "builds directory or URL holding <N>/manifest.json, or a builds config (its publishDir); default: <smith:repoUrl>/builds")
    .option("--now <date>", "evaluate as of this date (ISO 8601); default: now")
    .option("--live", "confirm each machine's build with the agent's status over SSH and report drift")
    .option("--concurrency <n>", "machines queried at once with --live", "16")
    .addOption(new Option("--format <format>", "output format").choices([...COMPLIANCE_FORMATS]).default("table"))
    .action(async (flags: ComplianceFlags) => {
      const report = await complianceCommand(defaultContext(), flags);
      process.stdout.write(renderCompliance(report, flags.format) + "\n");
      process.exitCode = report.exitCode;
    });
};
