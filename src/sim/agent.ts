import { AGENT_EXIT } from "../agent/command";
import type { ExecResult, SimMachine } from "./machine";
import { compareDebVersions } from "../packages/version";

/**
 * smith-agent's contract (agent/README.md) on a simulated machine: the same flags, validation,
 * JSON lines and exit codes; apt is replaced by a wait of the configured patch time and a fixed
 * package set whose version is the build. Flag parsing follows agent/smith-agent line by line,
 * so a usage error here is a usage error there.
 */

/** The packages a build changes on a sim machine; the kernel one is what asks for a reboot. */
export const SIM_PACKAGES = ["smith-demo", "linux-image-smith"] as const;

const TOKEN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const UINT = /^[0-9]+$/;
const REPO_URL = /^(https?:\/\/.|file:\/.)[A-Za-z0-9._~:/@%+=,[\]-]*$/;
const KEYRING = /^\/[A-Za-z0-9._/+-]+$/;

class Usage extends Error {}

/** health: the reboot scheduled from `--boot-id-before` has not happened yet (agent contract, exit 12). */
export const REBOOT_PENDING_EXIT = 12;

function line(obj: unknown): string {
  return `${JSON.stringify(obj)}\n`;
}

function usage(message: string): ExecResult {
  return { stdout: line({ error: message, exitCode: AGENT_EXIT.usage }), stderr: `smith-agent: ${message}\n`, code: AGENT_EXIT.usage };
}

/** `--flag value` pairs and bare flags, as the agent's `while case` loops read them. */
function readFlags(sub: string, args: string[], withValue: string[], bare: string[] = []): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; ) {
    const a = args[i]!;
    if (withValue.includes(a)) {
      if (i + 1 >= args.length) throw new Usage(`${a} needs a value`);
      out.set(a, args[i + 1]!);
      i += 2;
    } else if (bare.includes(a)) {
      out.set(a, "1");
      i += 1;
    } else {
      throw new Usage(`${sub}: unknown argument: ${a}`);
    }
  }
  return out;
}

export async function runAgent(m: SimMachine, args: string[], root: boolean): Promise<ExecResult> {
  const [sub, ...rest] = args;
  try {
    if (sub === undefined) throw new Usage("missing subcommand");
    if (!["patch", "reboot-if-required", "health", "status"].includes(sub)) throw new Usage(`unknown subcommand: ${sub}`);
    const max = maxRuntime(sub, rest);
    if (sub === "status") return status(m, rest);
    if (!root) throw new Usage("cannot create /var/lib/smith (not root?)");
    if (sub === "patch") return await patch(m, rest, max);
    if (sub === "reboot-if-required") return reboot(m, rest);
    return health(m, rest);
  } catch (e) {
    if (e instanceof Usage) return usage(e.message);
    throw e;
  }
}

/** `--max-runtime S` (any subcommand): default 1800 s for patch, 600 s otherwise. */
function maxRuntime(sub: string, args: string[]): number {
  const i = args.indexOf("--max-runtime");
  const v = i >= 0 ? args[i + 1] : undefined;
  if (i >= 0 && (v === undefined || !UINT.test(v))) throw new Usage(`--max-runtime must be whole seconds, got '${v ?? ""}'`);
  return v !== undefined ? Number(v) : sub === "patch" ? 1800 : 600;
}

async function patch(m: SimMachine, args: string[], maxSeconds: number): Promise<ExecResult> {
  const f = readFlags(
    "patch",
    args,
    ["--build", "--repo", "--lock-timeout", "--retries", "--keyring", "--backoff", "--max-runtime", "--reboot-delay", "--min-free-var", "--min-free-boot"],
    ["--force", "--reboot-if-required", "--allow-remove"],
  );
  const build = f.get("--build") ?? "";
  const repo = f.get("--repo") ?? "";
  const keyring = f.get("--keyring") ?? "";
  const lockTimeout = f.get("--lock-timeout") ?? "120";
  const retries = f.get("--retries") ?? "2";
  const backoff = f.get("--backoff") ?? "5";
  const force = f.has("--force");
  if (!TOKEN.test(build)) throw new Usage(`patch: --build must be letters, digits, '.', '_' or '-', got '${build}'`);
  if (!REPO_URL.test(repo)) throw new Usage(`patch: --repo must be an http(s):// or file:/ URL without spaces or quotes, got '${repo}'`);
  if (keyring && !KEYRING.test(keyring)) throw new Usage(`patch: --keyring must be an absolute path, got '${keyring}'`);
  if (!UINT.test(lockTimeout)) throw new Usage(`patch: --lock-timeout must be whole seconds, got '${lockTimeout}'`);
  if (!UINT.test(retries)) throw new Usage(`patch: --retries must be a whole number, got '${retries}'`);
  if (!UINT.test(backoff)) throw new Usage(`patch: --backoff must be whole seconds, got '${backoff}'`);
  for (const flag of ["--reboot-delay", "--min-free-var", "--min-free-boot"]) {
    const v = f.get(flag);
    if (v !== undefined && !UINT.test(v)) throw new Usage(`patch: ${flag} must be a whole number, got '${v}'`);
  }
  // patch --reboot-if-required: on success, the same as reboot-if-required in the same run
  // (the delay is at least 2 s, as the agent raises it).
  const rebootAfter = f.has("--reboot-if-required") ? Math.max(2, Number(f.get("--reboot-delay") ?? "5")) : null;

  const startedMs = Date.now();
  const startedAt = new Date(startedMs).toISOString().replace(/\.\d{3}Z$/, "Z");
  const r = await m.withAgentLock(Number(lockTimeout) * 1000, async (): Promise<ExecResult> => {
    const previous = m.build;
    let attempts = 0;
    const result = (fields: Record<string, unknown>) => {
      const finishedMs = Date.now();
      return {
        ...fields,
        attempts,
        startedAt,
        finishedAt: new Date(finishedMs).toISOString().replace(/\.\d{3}Z$/, "Z"),
        durationMs: finishedMs - startedMs,
      };
    };
    const fail = (code: number, error: string): ExecResult => {
      const out = line(result({ error, exitCode: code, build, previous, changed: [], changedCount: 0 }));
      m.lastRun = out.trim();
      m.record("patch", code, build);
      return { stdout: out, stderr: `smith-agent: ${error}\n`, code };
    };
    let downgrade = false;
    if (previous !== null && compareDebVersions(build, previous) < 0) {
      if (!force) return fail(AGENT_EXIT.downgradeRefused, `refusing to go back from build ${previous} to build ${build} without --force`);
      downgrade = true;
    }
    if (!force && previous === build && m.listsBuild === build) {
      await m.sleepFor(m.jittered(m.behaviour.noopSeconds));
      return ok(m, result({ build, previous, noop: true, changed: [], changedCount: 0, rebootRequired: m.rebootRequired }));
    }
    const seconds = m.jittered(m.behaviour.patchSeconds);
    if (seconds > maxSeconds) {
      await m.sleepFor(maxSeconds);
      return fail(AGENT_EXIT.aptFailed, `patch exceeded its maximum runtime of ${maxSeconds}s and was stopped`);
    }
    attempts = 1;
    await m.sleepFor(seconds);
    if (Number(build) > m.behaviour.maxBuild || !/^[0-9]+$/.test(build)) {
      attempts = Number(retries) + 1;
      return fail(AGENT_EXIT.repoUnreachable, `repository ${repo.replace(/\/$/, "")}/builds/${build} unreachable or build missing (attempts: ${attempts})`);
    }
    if (m.faults.patchFails) {
      attempts = Number(retries) + 1;
      return fail(AGENT_EXIT.aptFailed, `apt-get dist-upgrade to build ${build} failed (attempts: ${attempts})`);
    }
    m.listsBuild = build;
    if (previous === build && !downgrade) {
      return ok(m, result({ build, previous, noop: false, changed: [], changedCount: 0, rebootRequired: m.rebootRequired }));
    }
    const changed = SIM_PACKAGES.map((name) => ({ name, from: previous, to: build }));
    if (m.draw() < m.behaviour.rebootRate) m.rebootRequired = true;
    return ok(m, result({ build, previous, noop: false, changed, changedCount: changed.length, rebootRequired: m.rebootRequired }));
  });
  if (r === "timeout") {
    const error = `another smith-agent run held /var/lib/smith/agent.lock for ${lockTimeout}s`;
    const out = line({ error, exitCode: AGENT_EXIT.lockTimeout, build, previous: m.build, changed: [], changedCount: 0, attempts: 0, startedAt, finishedAt: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"), durationMs: Date.now() - startedMs });
    return { stdout: out, stderr: `smith-agent: ${error}\n`, code: AGENT_EXIT.lockTimeout };
  }
  if (r.code === 0 && rebootAfter !== null) return withReboot(m, r, rebootAfter);
  return r;
}

/** Adds `rebooting` and `bootId` to a successful patch line, scheduling the reboot when one is required. */
function withReboot(m: SimMachine, r: ExecResult, delay: number): ExecResult {
  const report = JSON.parse(r.stdout) as Record<string, unknown>;
  const bootId = m.bootId;
  const rebooting = m.rebootRequired;
  let stderr = r.stderr;
  if (rebooting && m.rebootScheduled !== bootId) {
    m.rebootScheduled = bootId;
    stderr += `smith-agent: reboot required; rebooting in ${delay}s\n`;
    m.scheduleReboot(delay);
  }
  const out = line({ ...report, rebooting, bootId });
  m.lastRun = out.trim();
  return { stdout: out, stderr, code: 0 };
}

function ok(m: SimMachine, report: Record<string, unknown>): ExecResult {
  // Key order as the agent prints it: build, previous, noop, changed, changedCount, rebootRequired, attempts, times.
  const ordered = {
    build: report.build,
    previous: report.previous,
    noop: report.noop,
    changed: report.changed,
    changedCount: report.changedCount,
    rebootRequired: report.rebootRequired,
    rebootReasons: report.rebootRequired ? ["reboot-required"] : [],
    attempts: report.attempts,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    durationMs: report.durationMs,
  };
  const out = line(ordered);
  m.build = String(report.build);
  m.lastRun = out.trim();
  m.record("patch", 0, String(report.build));
  return { stdout: out, stderr: "", code: 0 };
}

function reboot(m: SimMachine, args: string[]): ExecResult {
  const f = readFlags("reboot-if-required", args, ["--delay", "--max-runtime"]);
  const delay = f.get("--delay") ?? "5";
  if (!UINT.test(delay)) throw new Usage(`reboot-if-required: --delay must be whole seconds, got '${delay}'`);
  let stderr = "";
  if (m.rebootRequired) {
    if (m.rebootScheduled !== m.bootId) {
      m.rebootScheduled = m.bootId;
      stderr = `smith-agent: reboot required; rebooting in ${delay}s\n`;
      m.scheduleReboot(Number(delay));
    }
  } else {
    m.rebootScheduled = null;
  }
  m.record("reboot-if-required", 0, m.rebootRequired ? "rebooting" : "no reboot");
  return {
    stdout: line({ rebooting: m.rebootRequired, bootId: m.bootId, reasons: m.rebootRequired ? ["reboot-required"] : [], delay: Number(delay) }),
    stderr,
    code: 0,
  };
}

function health(m: SimMachine, args: string[]): ExecResult {
  const f = readFlags("health", args, ["--role", "--boot-id-before", "--timeout", "--max-runtime"]);
  const role = f.get("--role") ?? "";
  const before = f.get("--boot-id-before") ?? "";
  const timeout = f.get("--timeout") ?? "30";
  if (!TOKEN.test(role)) throw new Usage(`health: --role must be letters, digits, '.', '_' or '-', got '${role}'`);
  if (!UINT.test(timeout)) throw new Usage(`health: --timeout must be whole seconds, got '${timeout}'`);
  const checks: { name: string; ok: boolean; detail: string }[] = [];
  /** What became of the reboot scheduled from boot `before`. */
  let reboot: "none" | "done" | "pending" = "none";
  if (before) {
    if (m.bootId !== before) {
      reboot = "done";
      checks.push({ name: "boot-id", ok: true, detail: `rebooted (boot id was ${before})` });
    } else if (m.rebootScheduled === before) {
      reboot = "pending";
      checks.push({ name: "boot-id", ok: false, detail: `reboot scheduled but not done yet (boot id still ${m.bootId})` });
    } else checks.push({ name: "boot-id", ok: true, detail: "no reboot was scheduled" });
  }
  checks.push({ name: "dpkg-audit", ok: true, detail: "dpkg database consistent" });
  checks.push(
    m.rebootRequired
      ? { name: "reboot-required", ok: false, detail: `reboot pending for: ${SIM_PACKAGES[1]}` }
      : { name: "reboot-required", ok: true, detail: "no reboot pending" },
  );
  if (m.faults.unhealthy) checks.push({ name: "health.d/sim-fault", ok: false, detail: "exit 1: simulated failing health check" });
  const healthy = checks.every((c) => c.ok);
  // Exit 12: the machine has not rebooted yet (ask again later); that is not unhealthy.
  const code = healthy ? 0 : reboot === "pending" ? REBOOT_PENDING_EXIT : AGENT_EXIT.unhealthy;
  m.record("health", code);
  return { stdout: line({ healthy, bootId: m.bootId, checks, ...(before ? { reboot } : {}) }), stderr: "", code };
}

function status(m: SimMachine, args: string[]): ExecResult {
  readFlags("status", args, ["--max-runtime"]);
  const lastRun = m.lastRun && m.lastRun.startsWith("{") && m.lastRun.endsWith("}") ? JSON.parse(m.lastRun) : null;
  m.record("status", 0);
  return { stdout: line({ build: m.build, lastRun, pending: [] }), stderr: "", code: 0 };
}
