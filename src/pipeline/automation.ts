import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { UserError } from "../errors";
import { pidAlive } from "../lab/host";
import { findPulumi, isLabStack, pulumiEnv } from "../pulumi/env";
import type { ConfigValue, PreviewResult, StackDriver, StateResource, UpOptions, UpResult } from "./driver";
import { stripAnsi, translateEngineEvent } from "./events";

/**
 * The Automation API over smith's own project (LocalWorkspace at the repo root, the program in
 * package.json `main`), with the environment of src/pulumi/env.ts. Nothing here keeps state:
 * every answer comes from the stack (config file, backend). `projectDir` (default: the repo root)
 * is where Pulumi.yaml and the stack files are, when they are not beside read-only code
 * (`smith rollout --project-dir`, src/pipeline/project-dir.ts); the toolchain stays the repo's.
 */
const PREFIX = "smith:";

export async function automationDriver(repoRoot: string, stack: string, env: NodeJS.ProcessEnv = process.env, projectDir = repoRoot): Promise<StackDriver> {
  const bin = findPulumi(repoRoot);
  if (!bin) throw new UserError("pulumi CLI not installed in .smith/tools: run scripts/install-pulumi.sh");
  const envVars = pulumiEnv(repoRoot, env, stack) as Record<string, string>;
  const backend = envVars.PULUMI_BACKEND_URL ?? "";
  if (backend.startsWith("file://")) fs.mkdirSync(backend.slice("file://".length).replace(/\?.*$/, ""), { recursive: true });
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(path.dirname(bin)), skipVersionCheck: true });
  const ws = await LocalWorkspace.create({ workDir: projectDir, envVars, pulumiCommand });
  const exists = (await ws.listStacks()).some((s) => s.name === stack);
  // Lab stacks (contract 3) are made on first use; real ones never are.
  const lab = isLabStack(stack);
  if (!exists && !(lab && fs.existsSync(path.join(projectDir, `Pulumi.${stack}.yaml`)))) {
    throw new UserError(`stack ${stack}: no such stack in ${envVars.PULUMI_BACKEND_URL} (pulumi stack init ${stack}, or smith lab up --with-prod for the lab's)`);
  }
  const s = exists ? await Stack.select(stack, ws) : await Stack.create(stack, ws);
  return new AutomationDriver(s, envVars.PULUMI_BACKEND_URL ?? "");
}

class AutomationDriver implements StackDriver {
  readonly stack: string;
  constructor(
    private readonly s: Stack,
    private readonly backendUrl: string,
  ) {
    this.stack = s.name;
  }

  async config(): Promise<Record<string, ConfigValue>> {
    const all = await this.s.getAllConfig();
    const out: Record<string, ConfigValue> = {};
    for (const [k, v] of Object.entries(all)) if (k.startsWith(PREFIX)) out[k.slice(PREFIX.length)] = { value: v.value, secret: !!v.secret };
    return out;
  }

  setConfig(key: string, value: string, secret = false): Promise<void> {
    return this.s.setConfig(`${PREFIX}${key}`, { value, secret });
  }

  async setList(key: string, values: string[]): Promise<void> {
    await this.s.removeConfig(`${PREFIX}${key}`).catch(() => undefined);
    if (values.length === 0) return this.s.setConfig(`${PREFIX}${key}`, { value: "[]" });
    await this.s.setAllConfig(Object.fromEntries(values.map((v, i) => [`${PREFIX}${key}[${i}]`, { value: v }])), true);
  }

  async up(o: UpOptions): Promise<UpResult> {
    const t0 = Date.now();
    try {
      const r = await this.s.up({
        continueOnError: true,
        ...(o.replace?.length ? { replace: o.replace } : {}),
        onEvent: (e) => {
          const x = translateEngineEvent(e);
          if (x) o.onEvent(x);
        },
        ...(o.signal ? { signal: o.signal } : {}),
      });
      return { ok: r.summary.result === "succeeded", changes: (r.summary.resourceChanges ?? {}) as Record<string, number>, seconds: (Date.now() - t0) / 1000 };
    } catch (err) {
      const text = stripAnsi(String((err as Error).message ?? err));
      // A resource failure under --continue-on-error is an ordinary failed update.
      const resourceFailure = /update failed|one or more errors occurred/i.test(text) && !/killed|signal: killed|exit code: -?9|exit status 137/i.test(text);
      const engineError = resourceFailure ? undefined : text.split("\n").filter((l) => l.trim()).slice(-6).join(" | ");
      return { ok: false, ...(engineError ? { engineError } : {}), changes: {}, seconds: (Date.now() - t0) / 1000 };
    }
  }

  async preview(): Promise<PreviewResult> {
    const messages: string[] = [];
    const r = await this.s.preview({
      onEvent: (e) => {
        const d = e.diagnosticEvent;
        if (d && (d.severity === "warning" || d.severity === "info") && !d.ephemeral) messages.push(stripAnsi(d.message).trim());
      },
    });
    return { changes: (r.changeSummary ?? {}) as Record<string, number>, messages };
  }

  async outputs(): Promise<Record<string, unknown>> {
    const o = await this.s.outputs();
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.value]));
  }

  async resources(): Promise<StateResource[]> {
    const d = await this.s.exportStack();
    return ((d.deployment as { resources?: StateResource[] })?.resources ?? []) as StateResource[];
  }

  async pendingOperations(): Promise<number> {
    const d = await this.s.exportStack();
    return ((d.deployment as { pending_operations?: unknown[] })?.pending_operations ?? []).length;
  }

  async settleLock(log: (line: string) => void): Promise<string | null> {
    const dir = lockDir(this.backendUrl, this.stack);
    if (!dir) return null;
    let waited = false;
    for (;;) {
      const locks = readLocks(dir);
      if (!locks.length) return waited ? `waited for the running update of ${this.stack} to end` : null;
      const live = locks.filter((l) => l.hostname === os.hostname() && l.pid !== null && pidAlive(l.pid));
      const foreign = locks.filter((l) => l.hostname !== null && l.hostname !== os.hostname());
      if (foreign.length) throw new UserError(`stack ${this.stack}: locked by pid ${foreign[0]!.pid} on ${foreign[0]!.hostname} (${foreign[0]!.file}); make sure it is not running there, then delete the lock file`);
      if (live.length) {
        if (!waited) log(`stack ${this.stack}: pulumi pid ${live[0]!.pid} (left running by an earlier smith rollout) still holds the lock; waiting for it to finish`);
        waited = true;
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      // The owner is gone (kill -9): what `pulumi cancel` does on the file backend is delete the lock.
      for (const l of locks) fs.rmSync(l.file, { force: true });
      return `stack ${this.stack}: removed the lock of dead pulumi pid ${locks.map((l) => l.pid).join(", ")}`;
    }
  }
}

/** `<backend>/.pulumi/locks/<org>/smith/<stack>` for a file backend; null for others (they lock themselves). */
function lockDir(backendUrl: string, stack: string): string | null {
  if (!backendUrl.startsWith("file://")) return null;
  const root = path.join(backendUrl.slice("file://".length).replace(/^~(?=\/)/, os.homedir()), ".pulumi", "locks");
  if (!fs.existsSync(root)) return null;
  for (const org of fs.readdirSync(root)) {
    const d = path.join(root, org, "smith", stack);
    if (fs.existsSync(d)) return d;
  }
  const legacy = path.join(root, stack);
  return fs.existsSync(legacy) ? legacy : null;
}

function readLocks(dir: string): { file: string; pid: number | null; hostname: string | null }[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => {
      const file = path.join(dir, f);
      try {
        const j = JSON.parse(fs.readFileSync(file, "utf8")) as { pid?: number; hostname?: string };
        return { file, pid: typeof j.pid === "number" ? j.pid : null, hostname: j.hostname ?? null };
      } catch {
        return { file, pid: null, hostname: null };
      }
    });
}
