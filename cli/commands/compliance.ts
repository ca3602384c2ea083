import { Option } from "commander";
import { patchEvents } from "../../src/audit/events";
import { defaultContext, parseDateFlag, parseStackFlag, readRecords, ReportContext } from "../../src/audit/context";
import { readStackSettings } from "../../src/audit/stack-settings";
import { alertTarget, FAIL_ON, FailOn, failOnExitCode, sendComplianceAlert } from "../../src/compliance/alert";
import { complianceExitCode, evaluateMachine, MachineFacts } from "../../src/compliance/evaluate";
import { machineFacts } from "../../src/compliance/facts";
import { liveStatus, stackPrivateKey } from "../../src/compliance/live";
import { manifestSource } from "../../src/compliance/manifests";
import { DEFAULT_POLICY, loadPolicy } from "../../src/compliance/policy";
import { COMPLIANCE_FORMATS, ComplianceFormat, ComplianceReport, renderCompliance, sortRows } from "../../src/compliance/render";
import { UserError } from "../../src/errors";
import { loadPipeline } from "../../src/pipeline/load";
import { pipelineStacks } from "../../src/pipeline/schema";
import { loadInventory } from "../../src/inventory/load";
import { managedMachines } from "../../src/compliance/managed";
import { loadWaves } from "../../src/waves/load";
import type { RegisterCommand } from "./index";

interface ComplianceFlags {
  stack?: string[];
  /** Pipeline files: every stack they name is checked too (the platform's jobs pass their shards' files). */
  pipeline?: string[];
  policy?: string;
  manifests?: string;
  now?: string;
  format: ComplianceFormat;
  live?: boolean;
  concurrency: string;
  /** Which result fails the run; default due-soon (exit 1 due soon, 2 overdue or unknown). */
  failOn?: FailOn;
  /** POST to env SMITH_ESCALATION_WEBHOOK when the run fails. */
  alert?: boolean;
}

/**
 * Runs `smith compliance`; returns the report (its exitCode is the command's, after --fail-on).
 * With --alert, the webhook is checked before any work and posted to once the run fails.
 * Exported for tests.
 */
export async function complianceCommand(
  ctx: ReportContext,
  flags: ComplianceFlags,
  env: NodeJS.ProcessEnv = process.env,
  /** Called with the report before any alert is sent, so it is printed even if the webhook fails. */
  onReport: (r: ComplianceReport) => void = () => undefined,
): Promise<ComplianceReport> {
  const stacks = complianceStacks(flags);
  const failOn = flags.failOn ?? "due-soon";
  const target = flags.alert ? alertTarget(env) : undefined;
  const report = await evaluate(ctx, flags, stacks);
  report.exitCode = failOnExitCode(report.exitCode, failOn);
  onReport(report);
  if (target && report.exitCode !== 0) await sendComplianceAlert(target, report, failOn);
  return report;
}

/** --stack values, then the stacks of each --pipeline file, each once; at least one is needed. */
function complianceStacks(flags: ComplianceFlags): string[] {
  const stacks = [...(flags.stack ?? []), ...(flags.pipeline ?? []).flatMap((f) => pipelineStacks(loadPipeline(f)))];
  if (!stacks.length) throw new UserError("flag --stack or --pipeline: say which stacks to check");
  return [...new Set(stacks)];
}

async function evaluate(ctx: ReportContext, flags: ComplianceFlags, stacks: string[]): Promise<ComplianceReport> {
  const now = parseDateFlag("--now", flags.now) ?? new Date();
  const concurrency = Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UserError(`flag --concurrency: must be a positive integer (got ${JSON.stringify(flags.concurrency)})`);
  const policy = flags.policy ? loadPolicy(flags.policy) : DEFAULT_POLICY;
  const records = await readRecords(ctx.history, stacks);
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
    .description("Per machine: build, since when, due date per policy; exit 0 ok, 1 due within the window, 2 overdue or unknown (--fail-on overdue: due soon exits 0).")
    .option("--stack <name>", "stack (repeat for several)", parseStackFlag)
    .option("--pipeline <file>", "check every stack this pipeline file names (repeat for several); with or instead of --stack", (v: string, prev: string[] = []) => [...prev, v])
    .option("--policy <file>", "policy YAML (deadlines by severity); default: the same as examples/policy.yaml")
    .option("--manifests <dir|url|file>", "builds directory or URL holding <N>/manifest.json, or a builds config (its publishDir); default: <smith:repoUrl>/builds")
    .option("--now <date>", "evaluate as of this date (ISO 8601); default: now")
    .option("--live", "confirm each machine's build with the agent's status over SSH and report drift")
    .option("--concurrency <n>", "machines queried at once with --live", "16")
    .addOption(new Option("--fail-on <check>", "what fails the run: due-soon (exit 1 due soon, 2 overdue or unknown) or overdue (only overdue or unknown, exit 2)").choices([...FAIL_ON]).default("due-soon"))
    .option("--alert", "when the run fails, POST a summary to the webhook in env SMITH_ESCALATION_WEBHOOK (Slack-compatible; PagerDuty Events v2 with SMITH_ESCALATION_FORMAT=pagerduty and SMITH_ESCALATION_ROUTING_KEY)")
    .addOption(new Option("--format <format>", "output format").choices([...COMPLIANCE_FORMATS]).default("table"))
    .action(async (flags: ComplianceFlags) => {
      const report = await complianceCommand(defaultContext(), flags, process.env, (r) => process.stdout.write(renderCompliance(r, flags.format) + "\n"));
      process.exitCode = report.exitCode;
    });
};
