import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { UserError } from "../errors";

/** Tools the lab scripts need, and where they are looked for besides PATH. */
export const REQUIRED_TOOLS = ["debootstrap", "aptly", "gpg", "sshd", "ssh", "ssh-keygen", "dpkg-deb", "curl", "unshare", "nsenter", "setsid", "flock", "pgrep"];

/** PATH plus the sbin dirs a non-login root shell may lack. */
export function toolDirs(): string[] {
  return (process.env.PATH ?? "").split(":").filter(Boolean).concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
}

function onPath(tool: string, dirs: string[]): boolean {
  return dirs.some((d) => {
    try {
      fs.accessSync(path.join(d, tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function missingTools(dirs: string[] = toolDirs()): string[] {
  return [...REQUIRED_TOOLS, "python3"].filter((t) => !onPath(t, dirs));
}

export function missingToolsMessage(missing: string[]): string {
  return `missing tools: ${missing.join(" ")}; run scripts/install-deps.sh (as root)`;
}

/** Why the lab cannot run on this host, or null when it can. */
export function hostProblem(): string | null {
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    return "the lab needs root (overlay mounts, namespaces, chroot); run as root";
  }
  const missing = missingTools();
  if (missing.length) return missingToolsMessage(missing);
  return null;
}

export interface ScriptResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a lab script. Its one-line `smith lab: …` errors become UserErrors (they are about the
 * host: missing tools, no root, no mirror); `[lab] …` progress lines go to `log`.
 */
export function runScript(
  scriptsDir: string,
  labDir: string,
  script: string,
  args: string[],
  log: (line: string) => void = () => {},
): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(scriptsDir, script), args, {
      env: { ...process.env, SMITH_LAB_DIR: labDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      for (const line of d.toString().split("\n")) if (line.startsWith("[lab] ")) log(line.slice(6));
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) return resolve({ stdout, stderr });
      const said = stderr.split("\n").filter((l) => l.startsWith("smith lab: ")).pop();
      if (said) return reject(new UserError(said.slice("smith lab: ".length)));
      reject(new Error(`scripts/lab/${script} ${args.join(" ")} exited ${code}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`));
    });
  });
}

export function pidAlive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function readPidFile(file: string): number | null {
  try {
    const n = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** True when something on host:port answers with an SSH banner within `ms`. */
export function sshAnswers(host: string, port: number, ms = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let buf = "";
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(ms, () => done(false));
    sock.on("data", (d) => {
      buf += d.toString();
      if (buf.includes("\n")) done(buf.startsWith("SSH-"));
    });
    sock.on("error", () => done(false));
    sock.on("close", () => done(buf.startsWith("SSH-")));
  });
}

export function portFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Processes whose root or cwd is inside one of `dirs`, or whose command line names one of them:
 * what `lab down` must not leave behind.
 */
export function processesUnder(dirs: string[]): { pid: number; cmd: string }[] {
  const inside = (p: string | null) => !!p && dirs.some((d) => p === d || p.startsWith(d + "/"));
  const out: { pid: number; cmd: string }[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      if (!cmd) continue; // kernel thread or zombie
      const root = safeReadlink(`/proc/${entry}/root`);
      const cwd = safeReadlink(`/proc/${entry}/cwd`);
      if (inside(root) || inside(cwd) || dirs.some((d) => cmd.includes(d + "/"))) {
        out.push({ pid: Number(entry), cmd });
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function safeReadlink(p: string): string | null {
  try {
    return fs.readlinkSync(p);
  } catch {
    return null;
  }
}

/** Mount points at or below `dir` in this mount namespace. */
export function mountsUnder(dir: string): string[] {
  const lines = fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n");
  return lines
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => !!m)
    .map((m) => m.replace(/\\040/g, " "))
    .filter((m) => m === dir || m.startsWith(dir + "/"));
}
