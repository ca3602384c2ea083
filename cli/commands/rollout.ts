import * as fs from "fs";
import * as path from "path";
import logUpdate from "log-update";
import { ServiceNowSink } from "../../src/change/servicenow";
import type { ChangeSink } from "../../src/change/sink";
import { StackConfigSchema } from "../../src/config/stack-config";
import { UserError } from "../../src/errors";
import type { EscalationSink } from "../../src/escalation/incident";
import { WebhookSink } from "../../src/escalation/webhook";
import { automationDriver } from "../../src/pipeline/automation";
import type { StackInfo } from "../../src/pipeline/context";
import { LiveView } from "../../src/pipeline/display";
import type { StackDriver } from "../../src/pipeline/driver";
import { dryRun } from "../../src/pipeline/dry-run";
import { loadPipeline } from "../../src/pipeline/load";
import { plainLine, ProgressEvent } from "../../src/pipeline/progress";
import { runRollout } from "../../src/pipeline/runner";
import { latestPublishedBuild } from "../../src/pipeline/latest";
import { PipelineFile, pipelineStacks, stageKind } from "../../src/pipeline/schema";
import { PROJECT_DIR_ENV, resolveProjectDir } from "../../src/pipeline/project-dir";
import { resolveStateDir, STATE_DIR_ENV } from "../../src/pipeline/state-dir";
import { renderSummary } from "../../src/pipeline/summary";
import type { RegisterCommand } from "./index";

interface Flags {
  build: string;
  pipeline: string;
  until?: string;
  dryRun?: boolean;
  events?: string;
  wait: boolean;
  retryHalted?: boolean;
  servicenow?: string;
  stateDir?: string;
  projectDir?: string;
}

const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** One driver per stack for the whole run (LocalWorkspace setup costs a `pulumi version` call). */
function driverCache(projectDir: string): (stack: string) => Promise<StackDriver> {
  const cache = new Map<string, Promise<StackDriver>>();
  return (stack) => {
    let d = cache.get(stack);
    if (!d) {
      d = automationDriver(REPO_ROOT, stack, process.env, projectDir);
      cache.set(stack, d);
    }
    return d;
  };
}

/** The escalation webhook of a stack, from its config (the URL is a secret there). */
export function escalationSinks(info: StackInfo): EscalationSink[] {
  const url = info.raw.escalationWebhook?.value;
  if (!url) return [];
  const format = info.config.escalationFormat ?? "slack";
  return [new WebhookSink({ url, format, ...(info.raw.escalationRoutingKey ? { routingKey: info.raw.escalationRoutingKey.value } : {}) })];
}

function changeSinks(f: Flags): ChangeSink[] {
  if (!f.servicenow) return [];
  const user = process.env.SMITH_SERVICENOW_USER;
  const password = process.env.SMITH_SERVICENOW_PASSWORD;
  if (!user || !password) throw new UserError("flag --servicenow: set SMITH_SERVICENOW_USER and SMITH_SERVICENOW_PASSWORD");
  try {
    new URL(f.servicenow);
  } catch {
    throw new UserError(`flag --servicenow: must be the instance URL (got ${JSON.stringify(f.servicenow)})`);
  }
  return [new ServiceNowSink({ instance: f.servicenow, user, password })];
}

/**
 * `--build latest`: the newest build the first stack's mirror serves after the build that stack
 * is at; that build itself when none is newer (a rollout in progress is continued).
 */
async function latestBuild(p: PipelineFile, drivers: (stack: string) => Promise<StackDriver>): Promise<string> {
  const stack = pipelineStacks(p)[0]!;
  const cfg = await (await drivers(stack)).config();
  const repoUrl = cfg.repoUrl?.value;
  const from = Number(cfg.build?.value ?? "0");
  if (!repoUrl) throw new UserError(`flag --build latest: stack ${stack} has no smith:repoUrl`);
  const fetchText = async (url: string) => {
    const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
    return { status: res.status, text: await res.text() };
  };
  const newest = (await latestPublishedBuild(repoUrl, from, fetchText)) ?? from;
  if (!newest) throw new UserError(`flag --build latest: no build published on ${repoUrl} and stack ${stack} has none`);
  process.stderr.write(`smith rollout: --build latest is build ${newest} (stack ${stack} is at ${from || "none"})\n`);
  return String(newest);
}

/** `smith rollout`: the weekly process, stage by stage, resumable (docs/pipeline.md). */
export const registerRollout: RegisterCommand = (program) => {
  program
    .command("rollout")
    .description("Run a build through a pipeline of stacks (waves/pipeline.yaml): verify, roll out, soak, decide; resumable.")
    .requiredOption("--build <n>", 'the build to roll out, or "latest" (the newest on the first stack\'s mirror)')
    .requiredOption("--pipeline <file>", "pipeline file, e.g. waves/pipeline.yaml")
    .option("--until <stage>", "stop after this stage")
    .option("--dry-run", "show what would run next for every stage (previews; changes nothing)")
    .option("--events <file>", "append every progress event to FILE as JSON lines")
    .option("--no-wait", "do not wait out soaks: stop (exit 3) and say when to run again")
    .option("--retry-halted", "try machines halted for this build again (clears smith:halted entries of the build)")
    .option("--servicenow <url>", "also record the change in ServiceNow (credentials from SMITH_SERVICENOW_USER/PASSWORD)")
    .option("--project-dir <dir>", `the Pulumi project whose stack files hold the stacks' config (default $${PROJECT_DIR_ENV}, else the checkout)`)
    .option("--state-dir <dir>", `journal, lock and change records (resumed runs must use the same); default $${STATE_DIR_ENV}, else .smith/pipeline`)
    .action(async (f: Flags) => {
      if (!/^([1-9][0-9]*|latest)$/.test(f.build)) throw new UserError(`flag --build: must be a positive integer or "latest" (got ${JSON.stringify(f.build)})`);
      const pipeline = loadPipeline(f.pipeline);
      const stateDir = resolveStateDir(f.stateDir, process.env, REPO_ROOT);
      const projectDir = resolveProjectDir(f.projectDir, process.env, REPO_ROOT);
      const drivers = driverCache(projectDir);
      if (f.build === "latest") f.build = await latestBuild(pipeline, drivers);
      if (f.dryRun) {
        for (const l of await dryRun(pipeline, f.build, drivers, projectDir, () => new Date())) process.stdout.write(`${l}\n`);
        return;
      }
      const events = f.events ? fs.openSync(f.events, "a") : null;
      const tty = process.stderr.isTTY === true;
      const view = new LiveView(pipeline.stages.map((s) => ({ name: s.name, kind: stageKind(s) })));
      const live = tty ? logUpdate.create(process.stderr) : null;
      const timer = live ? setInterval(() => live(view.render(process.stderr.columns || 120)), 500) : null;
      const progress = (e: ProgressEvent) => {
        if (events !== null) fs.writeSync(events, JSON.stringify(e) + "\n");
        view.update(e);
        if (!live) {
          const l = plainLine(e);
          if (l) process.stderr.write(`${l}\n`);
        }
      };
      const abort = new AbortController();
      const onSignal = () => {
        if (abort.signal.aborted) process.exit(130);
        process.stderr.write("smith rollout: stopping (the running update finishes its in-flight steps); again to quit now\n");
        abort.abort();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        const r = await runRollout(
          pipeline,
          { build: f.build, ...(f.until ? { until: f.until } : {}), wait: f.wait, retryHalted: !!f.retryHalted },
          {
            drivers,
            projectDir,
            stateDir,
            progress,
            sinksFor: escalationSinks,
            changeSinks: changeSinks(f),
            fetchText: async (url) => {
              const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
              return { status: res.status, text: await res.text() };
            },
            untilWaveSupported: "untilWave" in StackConfigSchema.shape,
            signal: abort.signal,
          },
        );
        if (timer) clearInterval(timer);
        if (live) {
          live(view.render(process.stderr.columns || 120));
          live.done();
        }
        process.stdout.write(`${renderSummary(r.record)}\n`);
        if (r.timing) {
          process.stdout.write(
            `makespan ${r.timing.makespanSeconds.toFixed(0)} s (first patch to last healthcheck of this run); critical-path lower bound ${r.timing.lowerBoundSeconds.toFixed(0)} s${r.timing.soakSeconds ? ` (${r.timing.soakSeconds.toFixed(0)} s of soak)` : ""}\n`,
          );
        }
        process.stdout.write(`change record: ${path.relative(process.cwd(), r.files.markdown)} (+ .json)\n${r.message}\n`);
        process.exitCode = r.exitCode;
      } finally {
        if (timer) clearInterval(timer);
        if (events !== null) fs.closeSync(events);
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
};
