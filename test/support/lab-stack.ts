/**
 * Driving smith's real Pulumi program against the running lab, for the end-to-end test and the lab
 * benchmark: stacks of the repo's project (state in `.smith/state`), `pulumi up`, the state and
 * its history, and putting lab machines at a known build with the agent itself.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { findPulumi, pulumiEnv } from "../../src/pulumi/env";
import type { LabInfo } from "./lab";
import { labExec, labPaths } from "./lab";
import { PulumiResult, REPO_ROOT, runPulumi } from "./pulumi";

/** The lab's demo packages; build N ships version 1.(N-1) of each (scripts/lab/pkgs.sh). */
export const DEMO_PACKAGES = ["smith-demo-kernel", "smith-demo-conf", "smith-demo-svc"];
export const demoVersion = (build: string): string => `1.${Number(build) - 1}`;

export const STATE_DIR = path.join(REPO_ROOT, ".smith", "state", ".pulumi");

export interface StackOptions {
  build: string;
  /** smith:rebootDelaySeconds; small keeps the lab fast. */
  rebootDelaySeconds?: number;
}

export function stackConfigPath(stack: string): string {
  return path.join(REPO_ROOT, `Pulumi.${stack}.yaml`);
}

/**
 * A new stack of the repo's project over the lab: any earlier stack of that name (state and
 * config file) is removed first, so the run starts from nothing. The lab key goes in as a secret.
 */
export async function freshLabStack(stack: string, lab: LabInfo, o: StackOptions): Promise<void> {
  await runPulumi(["stack", "rm", stack, "--force", "--yes", "--non-interactive"], { cwd: REPO_ROOT });
  fs.rmSync(stackConfigPath(stack), { force: true });
  const config = [
    "# Written by the lab end-to-end test / benchmark; removed when they finish.",
    "config:",
    `  smith:build: "${o.build}"`,
    `  smith:inventory: ${path.relative(REPO_ROOT, lab.inventoryPath)}`,
    "  smith:waves: waves/lab.yaml",
    `  smith:repoUrl: ${lab.repoUrl}`,
    "  smith:sshUser: root",
    ...(o.rebootDelaySeconds !== undefined ? [`  smith:rebootDelaySeconds: "${o.rebootDelaySeconds}"`] : []),
    "",
  ].join("\n");
  fs.writeFileSync(stackConfigPath(stack), config);
  // --no-select: the workspace's selected stack is the operator's, not the test's.
  await pulumiMust(["stack", "init", stack, "--no-select", "--non-interactive"]);
  await pulumiMust(["config", "set", "--secret", "smith:sshPrivateKey", "-s", stack], { input: fs.readFileSync(lab.keyPath, "utf8") });
}

/** Removes a stack made by freshLabStack (state, history, config file). */
export async function removeLabStack(stack: string): Promise<void> {
  await runPulumi(["stack", "rm", stack, "--force", "--yes", "--non-interactive"], { cwd: REPO_ROOT });
  fs.rmSync(stackConfigPath(stack), { force: true });
}

export async function pulumiMust(args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<PulumiResult> {
  const r = await runPulumi(args, { cwd: REPO_ROOT, ...o });
  if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}\n${tail(r.stdout)}\n${tail(r.stderr)}`);
  return r;
}

export function tail(s: string, lines = 40): string {
  return s.trimEnd().split("\n").slice(-lines).join("\n");
}

export interface UpOptions {
  eventLog?: string;
  continueOnError?: boolean;
  timeoutMs?: number;
}

function upArgs(stack: string, o: UpOptions): string[] {
  return [
    "up", "-s", stack, "--yes", "--skip-preview", "--non-interactive",
    ...(o.continueOnError ? ["--continue-on-error"] : []),
    ...(o.eventLog ? ["--event-log", o.eventLog] : []),
  ];
}

/** `--event-log` exists only with PULUMI_DEBUG_COMMANDS set (pkg/cmd/pulumi/operations/up.go). */
function upEnv(o: UpOptions): NodeJS.ProcessEnv {
  return o.eventLog ? { PULUMI_DEBUG_COMMANDS: "true" } : {};
}

/** `pulumi up` of the smith program on `stack`; resolves with the exit code and output. */
export function pulumiUp(stack: string, o: UpOptions = {}): Promise<PulumiResult & { seconds: number }> {
  const t0 = Date.now();
  return runPulumi(upArgs(stack, o), { cwd: REPO_ROOT, env: upEnv(o), timeoutMs: o.timeoutMs ?? 20 * 60_000 }).then((r) => ({ ...r, seconds: (Date.now() - t0) / 1000 }));
}

/**
 * `pulumi up` in its own process group, for a crash test: the caller SIGKILLs the whole group
 * (CLI, language host, program, providers) the way a lost machine or an OOM kill would.
 */
export function spawnPulumiUp(stack: string, o: UpOptions & { outputFile: string }): { pid: number; exited: Promise<number | null>; hasExited: () => boolean } {
  const bin = findPulumi(REPO_ROOT);
  if (!bin) throw new Error("pulumi not installed");
  const out = fs.openSync(o.outputFile, "w");
  const child = spawn(bin, upArgs(stack, o), { cwd: REPO_ROOT, env: { ...pulumiEnv(REPO_ROOT, process.env, stack), ...upEnv(o) }, detached: true, stdio: ["ignore", out, out] });
  fs.closeSync(out);
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      done = true;
      resolve(code);
    }),
  );
  return { pid: child.pid!, exited, hasExited: () => done };
}

export async function exportStack(stack: string): Promise<unknown> {
  const r = await pulumiMust(["stack", "export", "-s", stack]);
  return JSON.parse(r.stdout);
}

export async function stackOutput(stack: string, name: string): Promise<unknown> {
  const r = await pulumiMust(["stack", "output", "-s", stack, "--json", "--show-secrets", name]);
  return JSON.parse(r.stdout);
}

/** The file backend's directory for one stack under `.pulumi/<kind>/` (history, locks): project-scoped. */
function stackDirs(kind: "history" | "locks", stack: string): string[] {
  const root = path.join(STATE_DIR, kind);
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 3 || !fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = path.join(dir, e.name);
      if (e.name === stack && p.includes(`${path.sep}smith${path.sep}`)) out.push(p);
      else walk(p, depth + 1);
    }
  };
  walk(root, 0);
  return out;
}

export interface HistoryEntry {
  file: string;
  kind: string;
  result: string;
  /** The run's config: plain values as strings, secrets as `{secure: <ciphertext>}`. */
  config: Record<string, string | { secure?: string }>;
  resourceChanges?: Record<string, number>;
  startTime: number;
  endTime: number;
  /** The checkpoint the update left, saved beside its history entry. */
  checkpoint?: unknown;
}

/** The stack's update history (file backend), oldest first, each with the checkpoint saved beside it. */
export function stackHistory(stack: string): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  for (const dir of stackDirs("history", stack)) {
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".history.json"))) {
      const file = path.join(dir, f);
      const h = JSON.parse(fs.readFileSync(file, "utf8")) as Omit<HistoryEntry, "file">;
      const cp = file.replace(/\.history\.json$/, ".checkpoint.json");
      out.push({ ...h, file, checkpoint: fs.existsSync(cp) ? JSON.parse(fs.readFileSync(cp, "utf8")) : undefined });
    }
  }
  return out.sort((a, b) => a.startTime - b.startTime);
}

/** Lock files the file backend holds for `stack`, with the pid each names. */
export function stackLocks(stack: string): { file: string; pid: number | null; hostname: string | null }[] {
  const out = [];
  for (const dir of stackDirs("locks", stack)) {
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".json"))) {
      const file = path.join(dir, f);
      let pid: number | null = null;
      let hostname: string | null = null;
      try {
        const j = JSON.parse(fs.readFileSync(file, "utf8")) as { pid?: number; hostname?: string };
        pid = typeof j.pid === "number" ? j.pid : null;
        hostname = j.hostname ?? null;
      } catch {
        // unreadable: treated as owned by nobody known
      }
      out.push({ file, pid, hostname });
    }
  }
  return out;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Reboots a lab machine and waits (at most a minute) until its next boot answers over SSH. */
export async function rebootLabMachine(name: string): Promise<void> {
  const idFile = path.join(labPaths().machinesDir, name, "boot_id");
  const before = fs.readFileSync(idFile, "utf8");
  await labExec(name, "nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1 &");
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && fs.readFileSync(idFile, "utf8") === before) await new Promise((r) => setTimeout(r, 200));
  while (Date.now() < deadline && (await labExec(name, "true", { timeoutMs: 5_000 })).code !== 0) await new Promise((r) => setTimeout(r, 200));
}

/** Installed versions of the demo packages on a machine. */
export async function demoVersions(machine: string): Promise<Record<string, string>> {
  return parseVersions((await labExec(machine, VERSIONS_CMD)).stdout);
}

const VERSIONS_CMD = `dpkg-query -W -f 'pkg \${Package} \${Version}\\n' ${DEMO_PACKAGES.join(" ")}`;

function parseVersions(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of stdout.split("\n")) {
    const [tag, p, v] = l.trim().split(" ");
    if (tag === "pkg" && p && v) out[p] = v;
  }
  return out;
}

/**
 * Puts machines at `build` with the agent itself (`patch --force` allows going back), then reboots
 * each machine it changed, so it runs the build's own kernel (the agent asks for a reboot when the
 * running kernel is older than the newest installed one: a machine left on a newer kernel would
 * not reboot for the next build). Machines already there with a clean dpkg are left alone.
 * Returns the names it changed.
 */
export async function resetMachines(lab: LabInfo, build: string, agentPath = path.join(REPO_ROOT, "agent", "smith-agent")): Promise<string[]> {
  const agent = fs.readFileSync(agentPath, "utf8");
  const want = demoVersion(build);
  const changed: string[] = [];
  await Promise.all(
    lab.machines.map(async (m) => {
      // One SSH round trip for the check: package versions, then whether dpkg has unfinished work.
      const check = await labExec(m.name, `${VERSIONS_CMD}; echo "audit $(dpkg --audit | wc -c)"; echo "kernel $(cat /proc/sys/kernel/osrelease)"`);
      const v = parseVersions(check.stdout);
      const at = DEMO_PACKAGES.every((p) => v[p] === want);
      // The lab's demo kernel runs as `<version>-smith-demo` (scripts/lab/machine.sh).
      const onItsKernel = new RegExp(`^kernel ${want.replace(/\./g, "\\.")}-`, "m").test(check.stdout);
      if (at && /^audit 0$/m.test(check.stdout)) {
        if (!onItsKernel) {
          await rebootLabMachine(m.name);
          changed.push(m.name);
        }
        return;
      }
      // The agent travels as a here-document: no copy step, nothing from outside the repo.
      const cmd = [
        "set -e",
        "install -d -m 0755 /usr/local/lib/smith",
        "cat >/usr/local/lib/smith/smith-agent <<'SMITH_AGENT_EOF'",
        agent.trimEnd(),
        "SMITH_AGENT_EOF",
        "chmod 0755 /usr/local/lib/smith/smith-agent",
        `/usr/local/lib/smith/smith-agent patch --build ${Number(build)} --repo '${lab.repoUrl}' --force >/dev/null`,
        "rm -f /var/run/reboot-required /var/run/reboot-required.pkgs",
      ].join("\n");
      const r = await labExec(m.name, cmd, { timeoutMs: 180_000 });
      if (r.code !== 0) throw new Error(`reset of ${m.name} to build ${build} failed (exit ${r.code}): ${tail(r.stderr, 5)}`);
      await rebootLabMachine(m.name);
      changed.push(m.name);
    }),
  );
  return changed.sort();
}
