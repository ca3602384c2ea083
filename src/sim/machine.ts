import { randomUUID } from "crypto";
import * as path from "path";
import { AGENT_EXIT, AGENT_REMOTE_PATH, ensureAgentCommand } from "../agent/command";
import { machineSeed, seededRandom, SimBehaviour } from "./options";
import { parseCommandLine, runCommandList, ShellSyntaxError } from "./shell";
import { runAgent } from "./agent";

/**
 * One simulated machine: the state the real agent keeps in /var/lib/smith (build, last run,
 * reboot-required, reboot-scheduled), the files SFTP put in the user's home (kept as sha256 only,
 * so thousands of machines cost little memory), its boot id, whether it is up, and a history of
 * every command it ran. It runs the command lines smith sends (see `exec`); the SSH side lives
 * in server.ts and only follows `up`/`down` through `onPower`.
 */

/** The prelude's script, exactly as src/agent/command.ts renders it (the sim runs only that script). */
const ENSURE_SCRIPT = parseCommandLine(ensureAgentCommand({ sudo: false, sha256: "0".repeat(64), copyPath: "/x" }), {})[0]!.argv[2]!;

export interface HistoryEntry {
  /** ISO time the command finished. */
  at: string;
  /** `patch`, `reboot-if-required`, `health`, `status`, `install`, `boot`. */
  what: string;
  exitCode: number;
  /** patch: the build asked for; boot: the new boot id. */
  detail?: string;
}

export interface SimFile {
  sha256: string;
  size: number;
  mode: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface MachineFaults {
  patchFails: boolean;
  unhealthy: boolean;
  unreachable: boolean;
}

export interface SimMachineSpec {
  name: string;
  role: string;
  host: string;
  port: number;
}

/** Wait `ms` (real time by default; tests pass their own). */
export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class SimMachine {
  readonly name: string;
  readonly role: string;
  readonly host: string;
  readonly port: number;
  readonly faults: MachineFaults;
  up = false;
  bootId = randomUUID();
  boots = 0;
  /** /var/lib/smith/build */
  build: string | null;
  /** Build whose lists were fetched last (the no-op check). */
  listsBuild: string | null;
  /** /var/lib/smith/last-run.json, as the agent printed it. */
  lastRun: string | null = null;
  /** /var/run/reboot-required */
  rebootRequired = false;
  /** /var/lib/smith/reboot-scheduled: the boot id a reboot was scheduled from. */
  rebootScheduled: string | null = null;
  /** Files by absolute path (home files from SFTP, the installed agent). */
  readonly files = new Map<string, SimFile>();
  /** Directories made over SFTP (homes, `/` and parents of files exist implicitly). */
  readonly dirs = new Set<string>();
  readonly history: HistoryEntry[] = [];
  /** Commands running now (a reboot cuts them). */
  inFlight = 0;
  /** Called with `false` when the machine goes down and `true` when it is up (the endpoint follows). */
  onPower: (up: boolean) => void = () => {};
  /** Called after every state change (the sim's state file follows). */
  onChange: () => void = () => {};
  private readonly random: () => number;
  private lock: Promise<void> = Promise.resolve();
  private rebootTimer: NodeJS.Timeout | null = null;

  constructor(
    spec: SimMachineSpec,
    readonly behaviour: SimBehaviour,
    private readonly sleep: Sleep = realSleep,
  ) {
    this.name = spec.name;
    this.role = spec.role;
    this.host = spec.host;
    this.port = spec.port;
    this.random = seededRandom(machineSeed(behaviour.seed, spec.name));
    this.faults = {
      patchFails: this.random() < behaviour.patchFailureRate,
      unhealthy: this.random() < behaviour.unhealthyRate,
      unreachable: this.random() < behaviour.unreachableRate,
    };
    this.build = behaviour.initialBuild;
    this.listsBuild = behaviour.initialBuild;
  }

  /** The home directory of an SSH user, as Debian's adduser makes it. */
  static home(user: string): string {
    return user === "root" ? "/root" : `/home/${user}`;
  }

  homeOf(user: string): string {
    return SimMachine.home(user);
  }

  /** Powers the machine on (first start, or the end of a reboot): new boot id, endpoint open. */
  boot(): void {
    if (this.up) return;
    if (this.boots > 0) this.bootId = randomUUID();
    this.boots++;
    // A reboot clears /var/run; the scheduled-reboot marker in /var/lib/smith stays (the agent's
    // health compares it with the boot id it was written in).
    this.rebootRequired = false;
    this.up = true;
    this.record("boot", 0, this.bootId);
    if (!this.faults.unreachable) this.onPower(true);
  }

  /** Stops the machine until `boot()`: the endpoint closes and open sessions are cut. */
  shutdown(): void {
    if (!this.up) return;
    this.up = false;
    this.onPower(false);
    this.onChange();
  }

  /** A duration with the configured jitter. */
  jittered(seconds: number): number {
    const j = this.behaviour.jitter;
    return seconds * (1 - j + 2 * j * this.random());
  }

  sleepFor(seconds: number): Promise<void> {
    return this.sleep(seconds * 1000);
  }

  /** Share of draws for per-run decisions (reboot needed?). */
  draw(): number {
    return this.random();
  }

  scheduleReboot(delaySeconds: number): void {
    if (this.rebootTimer) return;
    this.rebootTimer = setTimeout(() => {
      this.rebootTimer = null;
      this.shutdown();
      this.rebootTimer = setTimeout(() => {
        this.rebootTimer = null;
        this.boot();
      }, this.jittered(this.behaviour.rebootSeconds) * 1000);
    }, delaySeconds * 1000);
  }

  /** Stops timers (sim down). */
  dispose(): void {
    if (this.rebootTimer) clearTimeout(this.rebootTimer);
    this.rebootTimer = null;
  }

  record(what: string, exitCode: number, detail?: string): void {
    this.history.push({ at: new Date().toISOString(), what, exitCode, ...(detail !== undefined ? { detail } : {}) });
    this.onChange();
  }

  /** /var/lib/smith/agent.lock: one agent run at a time; waits at most `timeoutMs`. */
  async withAgentLock<T>(timeoutMs: number, fn: () => Promise<T>): Promise<T | "timeout"> {
    const prev = this.lock;
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    this.lock = prev.then(() => mine);
    const got = await Promise.race([prev.then(() => true), this.sleep(timeoutMs).then(() => false)]);
    if (!got) {
      // Give our turn away at once: whoever queued after us must not wait for a run that never comes.
      release();
      return "timeout";
    }
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Runs one SSH exec request as `user`: the line is split into simple commands (shell.ts) and
   * each is interpreted; unsupported commands answer like a shell that lacks them (exit 127).
   */
  async exec(line: string, user: string): Promise<ExecResult> {
    const out = { stdout: "", stderr: "" };
    const home = SimMachine.home(user);
    let cmds;
    try {
      cmds = parseCommandLine(line, { HOME: home, USER: user });
    } catch (e) {
      if (!(e instanceof ShellSyntaxError)) throw e;
      return { stdout: "", stderr: `sh: sim: ${e.message}\n`, code: 2 };
    }
    this.inFlight++;
    try {
      const code = await runCommandList(cmds, (argv) => this.simple(argv, user, home, out));
      return { ...out, code };
    } finally {
      this.inFlight--;
    }
  }

  private async simple(argv: string[], user: string, home: string, out: { stdout: string; stderr: string }): Promise<number> {
    let args = argv;
    let root = user === "root";
    if (args[0] === "sudo") {
      if (args[1] !== "-n") {
        out.stderr += "sudo: a password is required\n";
        return 1;
      }
      // The sim's users may sudo without a password, as smith's docs require.
      args = args.slice(2);
      root = true;
    }
    const [cmd, ...rest] = args;
    switch (cmd) {
      case "true":
      case ":":
        return 0;
      case "false":
        return 1;
      case "sh":
        if (rest[0] === "-c" && rest[1] === ENSURE_SCRIPT && rest[2] === "smith-agent-ensure" && rest.length === 6) {
          return this.ensureAgent(rest[3]!, rest[4]!, rest[5]!, root, out);
        }
        out.stderr += "sh: smith sim interprets only the agent prelude of src/agent/command.ts (ensureAgentCommand)\n";
        return 127;
      case "cat":
        // The boot id poll (fleet waits for the reboot with it); any other file is not simulated.
        if (rest.length === 1 && rest[0] === "/proc/sys/kernel/random/boot_id") {
          out.stdout += `${this.bootId}\n`;
          return 0;
        }
        out.stderr += `cat: ${rest.join(" ")}: not simulated by smith sim\n`;
        return 1;
      case "install":
        return this.install(rest, root, home, out);
      case AGENT_REMOTE_PATH: {
        if (!this.files.has(AGENT_REMOTE_PATH)) {
          out.stderr += `sh: 1: ${AGENT_REMOTE_PATH}: not found\n`;
          return 127;
        }
        const r = await runAgent(this, rest, root);
        out.stdout += r.stdout;
        out.stderr += r.stderr;
        return r.code;
      }
      default:
        out.stderr += `sh: 1: ${cmd}: not found (smith sim interprets only install, sudo -n and ${AGENT_REMOTE_PATH})\n`;
        return 127;
    }
  }

  /**
   * The agent prelude (`ensureAgentCommand`): the installed agent runs when its sha256 is the
   * expected one; else it is reinstalled from the copy if the copy has that sha256; else exit 11
   * with the prelude's JSON error line. (Directory ownership checks pass: the sim's are root's.)
   */
  private ensureAgent(sha: string, src: string, dst: string, root: boolean, out: { stdout: string; stderr: string }): number {
    const fail = (m: string) => {
      out.stdout += `${JSON.stringify({ error: m, exitCode: AGENT_EXIT.agentIntegrity })}\n`;
      out.stderr += `smith: ${m}\n`;
      return AGENT_EXIT.agentIntegrity;
    };
    if (!root) return fail(`cannot make ${path.posix.dirname(dst)} root-only`);
    const installed = this.files.get(dst);
    if (installed && installed.sha256 === sha && installed.mode === 0o755) return 0;
    const copy = this.files.get(src);
    if (!copy) return fail(`agent at ${dst} is missing or modified and there is no copy at ${src}: copy the agent again`);
    if (copy.sha256 !== sha) return fail(`the copy at ${src} does not have sha256 ${sha}`);
    this.files.set(dst, { ...copy, mode: 0o755 });
    this.record("install", 0, `${dst} ${sha.slice(0, 16)}`);
    out.stderr += `smith: agent (re)installed at ${dst}\n`;
    return 0;
  }

  /** coreutils `install [-D] [-m MODE] SRC DST`, as NodePatch uses it to put the agent in place. */
  private install(args: string[], root: boolean, home: string, out: { stderr: string }): number {
    let mode = 0o755;
    const operands: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === "-D") continue;
      if (a === "-m") {
        const m = args[++i];
        if (!m || !/^[0-7]{3,4}$/.test(m)) {
          out.stderr += `install: invalid mode '${m ?? ""}'\n`;
          return 1;
        }
        mode = parseInt(m, 8);
        continue;
      }
      if (a.startsWith("-")) {
        out.stderr += `install: unsupported option '${a}' (smith sim)\n`;
        return 1;
      }
      operands.push(a);
    }
    if (operands.length !== 2) {
      out.stderr += "install: missing file operand\n";
      return 1;
    }
    const [src, dst] = operands.map((p) => path.posix.resolve(home, p)) as [string, string];
    const file = this.files.get(src);
    if (!file) {
      out.stderr += `install: cannot stat '${src}': No such file or directory\n`;
      return 1;
    }
    if (!root && !dst.startsWith(`${home}/`)) {
      out.stderr += `install: cannot create regular file '${dst}': Permission denied\n`;
      return 1;
    }
    this.files.set(dst, { ...file, mode });
    this.record("install", 0, `${dst} ${file.sha256.slice(0, 16)}`);
    return 0;
  }
}
