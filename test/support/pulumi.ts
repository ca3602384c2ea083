/**
 * Runs the real `pulumi` CLI for tests, with smith's environment (src/pulumi/env.ts), and builds
 * throwaway Pulumi projects that use the repo's node_modules.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findPlugin, findPulumi, pulumiEnv, toolchainStatus } from "../../src/pulumi/env";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

export interface PulumiResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** The project directory (where Pulumi.yaml is). */
  cwd: string;
  /** Extra variables, applied over pulumiEnv(REPO_ROOT). */
  env?: NodeJS.ProcessEnv;
  /** Written to the CLI's stdin, e.g. a secret for `config set --secret KEY`. */
  input?: string;
  /** Kill the CLI after this long. Defaults to 5 minutes. */
  timeoutMs?: number;
  /** Called with the CLI's process once started (e.g. to send it SIGINT, a Ctrl-C). */
  onStart?: (child: ChildProcess) => void;
}

/**
 * Why the engine cannot run here (CLI or language host missing), or null when it can. The reason
 * quotes what scripts/install-pulumi.sh recorded, so a skip message says what to do.
 */
export function pulumiUnavailableReason(repoRoot: string = REPO_ROOT): string | null {
  const status = toolchainStatus(repoRoot);
  const hint = status ? ` (install status: ${status.replace(/\n/g, "; ")})` : "";
  if (findPulumi(repoRoot) === null) {
    return `pulumi CLI not installed in .smith/tools: run scripts/install-pulumi.sh${hint}`;
  }
  if (findPlugin(repoRoot, "language", "nodejs") === null) {
    return `pulumi-language-nodejs not installed in .smith/tools: run scripts/install-pulumi.sh${hint}`;
  }
  return null;
}

/** Why the command provider (@pulumi/command's plugin) is missing, or null when installed. */
export function commandProviderUnavailableReason(repoRoot: string = REPO_ROOT): string | null {
  const version: string = require(path.join(repoRoot, "node_modules", "@pulumi", "command", "package.json")).version;
  if (findPlugin(repoRoot, "resource", "command", version) !== null) return null;
  const recorded = (toolchainStatus(repoRoot) ?? "")
    .split("\n")
    .find((l) => l.includes("pulumi-resource-command"));
  return `pulumi-resource-command ${version} not installed in .smith/pulumi-home: ${recorded ?? "run scripts/install-pulumi.sh"}`;
}

/** The stack a CLI command names (`-s X`, `--stack X`, `--stack=X`, `stack init X`), for pulumiEnv. */
export function stackOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if ((a === "-s" || a === "--stack") && i + 1 < args.length) return args[i + 1];
    if (a.startsWith("--stack=")) return a.slice("--stack=".length);
  }
  if (args[0] === "stack" && ["init", "rm", "select"].includes(args[1] ?? "")) return args.slice(2).find((a) => !a.startsWith("-"));
  return undefined;
}

/** Runs `pulumi ARGS...` and resolves with its exit code and output; never rejects on exit code. */
export function runPulumi(args: string[], opts: RunOptions): Promise<PulumiResult> {
  const bin = findPulumi(REPO_ROOT);
  if (bin === null) return Promise.reject(new Error(pulumiUnavailableReason() ?? "pulumi not installed"));
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: opts.cwd,
      env: { ...pulumiEnv(REPO_ROOT, process.env, stackOf(args)), ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGTERM"), opts.timeoutMs ?? 5 * 60_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
    opts.onStart?.(child);
  });
}

/** Like runPulumi, but rejects with the CLI's output when it exits non-zero. */
export async function pulumiOk(args: string[], opts: RunOptions): Promise<PulumiResult> {
  const r = await runPulumi(args, opts);
  if (r.code !== 0) {
    throw new Error(`pulumi ${args.join(" ")} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
  return r;
}

export interface TempProject {
  /** The project directory: Pulumi.yaml, package.json, the program, node_modules -> the repo's. */
  dir: string;
  /** Environment that keeps this project's stacks in its own file backend (`<dir>/.state`). */
  env: NodeJS.ProcessEnv;
  remove(): void;
}

/**
 * A throwaway TypeScript Pulumi project named `name` whose program is `programTs`. It uses the
 * repo's node_modules through a symlink and its own file backend, so tests never touch
 * `.smith/state`.
 */
export function createTempProject(name: string, programTs: string): TempProject {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `smith-${name}-`));
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n`,
  );
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, private: true, main: "index.ts" }, null, 2));
  fs.writeFileSync(path.join(dir, "index.ts"), programTs);
  fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  const state = path.join(dir, ".state");
  fs.mkdirSync(state);
  return {
    dir,
    // Its own backend, and a passphrase of its own: these throwaway stacks are not lab stacks.
    env: { PULUMI_BACKEND_URL: `file://${state}`, PULUMI_CONFIG_PASSPHRASE: "smith-throwaway-test-project" },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
