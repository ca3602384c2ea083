/**
 * smith's only door to aptly. Every call runs under smith's own lock (one smith aptly operation at
 * a time per aptly rootDir, across processes), with aptly's config written from builds.yaml.
 * aptly's database (goleveldb) also takes a global lock; when some other aptly holds it, smith
 * says so, naming the holder, instead of aptly's "unable to reopen the DB".
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { UserError } from "../errors";
import type { BuildsConfig } from "./config";

/** aptly's FileSystemPublishEndpoint that points at `publishDir`. */
export const PUBLISH_ENDPOINT = "smith";

export interface AptlyResult {
  stdout: string;
  stderr: string;
}

export type Log = (line: string) => void;

export interface AptlyOptions {
  rootDir: string;
  architectures: string[];
  /** FileSystemPublishEndpoints: name → directory. */
  endpoints: Record<string, string>;
  gnupgHome?: string;
  log?: Log;
  /** How long to wait for another smith holding the lock. Defaults to 600 s. */
  lockTimeoutMs?: number;
  /** aptly's own attempts at opening a database another aptly holds (~10 s apart). Defaults to 3. */
  dbOpenAttempts?: number;
}

export function aptlyOptionsFor(c: BuildsConfig, log?: Log): AptlyOptions {
  return {
    rootDir: c.aptly.rootDir,
    architectures: c.architectures,
    endpoints: { [PUBLISH_ENDPOINT]: c.publishDir },
    gnupgHome: c.signing.gnupgHome,
    log,
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The process (pid and command) holding a POSIX/flock lock on `file`, from /proc/locks. */
export function lockHolder(file: string): { pid: number; cmd: string } | null {
  let ino: number;
  try {
    ino = fs.statSync(file).ino;
  } catch {
    return null;
  }
  let locks: string;
  try {
    locks = fs.readFileSync("/proc/locks", "utf8");
  } catch {
    return null;
  }
  for (const line of locks.split("\n")) {
    // "1: FLOCK  ADVISORY  WRITE 12345 fd:01:1234567 0 EOF"
    const f = line.trim().split(/\s+/);
    const idx = f.findIndex((x) => /^[0-9a-f]+:[0-9a-f]+:\d+$/.test(x));
    if (idx < 1 || Number(f[idx]!.split(":")[2]) !== ino) continue;
    const pid = Number(f[idx - 1]);
    let cmd = "?";
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    } catch {
      // gone meanwhile
    }
    return { pid, cmd };
  }
  return null;
}

export interface RunOptions {
  /** Accept a non-zero exit (e.g. "not found" on a drop that is already done). */
  ok?: (r: AptlyResult & { code: number }) => boolean;
  /** Sees aptly's output as it comes (progress of long downloads). */
  onOutput?: (chunk: string) => void;
}

/**
 * One aptly database. `run` is for use inside `exclusive` (smith's lock held); `exclusive`
 * serialises whole operations (a build allocates its number and publishes under one lock).
 */
export class Aptly {
  readonly conf: string;
  private held = false;

  constructor(readonly opts: AptlyOptions) {
    this.conf = path.join(opts.rootDir, "aptly.conf");
  }

  get lockFile(): string {
    return path.join(this.opts.rootDir, "smith.lock");
  }

  private writeConf(): void {
    fs.mkdirSync(this.opts.rootDir, { recursive: true });
    const endpoints: Record<string, { rootDir: string; linkMethod: string }> = {};
    // Copies, not hard links: a corrupted file on the publish side must never reach aptly's pool.
    for (const [n, dir] of Object.entries(this.opts.endpoints)) endpoints[n] = { rootDir: dir, linkMethod: "copy" };
    const conf = {
      rootDir: this.opts.rootDir,
      architectures: this.opts.architectures,
      gpgProvider: "gpg2",
      downloadConcurrency: 4,
      FileSystemPublishEndpoints: endpoints,
    };
    const text = JSON.stringify(conf, null, 2) + "\n";
    if (fs.existsSync(this.conf) && fs.readFileSync(this.conf, "utf8") === text) return;
    fs.writeFileSync(`${this.conf}.tmp`, text);
    fs.renameSync(`${this.conf}.tmp`, this.conf);
  }

  /** Runs `fn` holding smith's lock on this aptly rootDir (re-entrant within one process). */
  async exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.held) return fn();
    fs.mkdirSync(this.opts.rootDir, { recursive: true });
    const deadline = Date.now() + (this.opts.lockTimeoutMs ?? 600_000);
    let told = false;
    for (;;) {
      try {
        fs.writeFileSync(this.lockFile, `${process.pid} ${what}\n`, { flag: "wx" });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        const [pidText, ...rest] = (fs.existsSync(this.lockFile) ? fs.readFileSync(this.lockFile, "utf8") : "").trim().split(" ");
        const pid = Number(pidText);
        if (!pid || !pidAlive(pid)) {
          fs.rmSync(this.lockFile, { force: true }); // its holder died
          continue;
        }
        if (Date.now() > deadline) throw new UserError(`${this.lockFile}: another smith (pid ${pid}, ${rest.join(" ")}) holds smith's aptly lock; try again when it is done`);
        if (!told) this.opts.log?.(`waiting for smith pid ${pid} (${rest.join(" ")}) to release ${this.lockFile}`);
        told = true;
        await sleep(500);
      }
    }
    this.held = true;
    try {
      this.writeConf();
      return await fn();
    } finally {
      this.held = false;
      fs.rmSync(this.lockFile, { force: true });
    }
  }

  /** One aptly command (takes smith's lock when not already held). Fails with aptly's ERROR line. */
  run(args: string[], opts: RunOptions = {}): Promise<AptlyResult> {
    return this.exclusive(`aptly ${args[0] ?? ""}`, () => this.spawn(args, opts));
  }

  private spawn(args: string[], { ok, onOutput }: RunOptions): Promise<AptlyResult> {
    const env = { ...process.env };
    if (this.opts.gnupgHome) env.GNUPGHOME = this.opts.gnupgHome;
    const dbLock = path.join(this.opts.rootDir, "db", "LOCK");
    return new Promise((resolve, reject) => {
      // A few attempts (about 10 s apart: aptly's own backoff) before giving up on a foreign holder.
      const child = spawn("aptly", [`-config=${this.conf}`, `-db-open-attempts=${this.opts.dbOpenAttempts ?? 3}`, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      let told = false;
      const watch = (d: Buffer) => {
        const s = d.toString();
        onOutput?.(s);
        if (!told && /Unable to open database/.test(s)) {
          told = true;
          const h = lockHolder(dbLock);
          this.opts.log?.(`another aptly holds aptly's database lock ${dbLock}${h ? ` (pid ${h.pid}: ${h.cmd})` : ""}; waiting`);
        }
      };
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        watch(d);
      });
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        watch(d);
      });
      child.on("error", (e) => reject((e as NodeJS.ErrnoException).code === "ENOENT" ? new UserError("aptly is not installed; run scripts/install-deps.sh (as root)") : e));
      child.on("close", (code) => {
        const r = { stdout, stderr, code: code ?? -1 };
        if (code === 0 || ok?.(r)) return resolve(r);
        const all = `${stdout}\n${stderr}`;
        if (/unable to reopen the DB|Unable to open database/.test(all)) {
          const h = lockHolder(dbLock);
          return reject(new UserError(`aptly's database ${path.dirname(dbLock)} is locked by another aptly${h ? ` (pid ${h.pid}: ${h.cmd})` : ""}; smith gave up after aptly's retries — wait for it or stop it`));
        }
        const err = all.split("\n").filter((l) => l.startsWith("ERROR:")).pop() ?? all.trim().split("\n").slice(-3).join(" | ");
        reject(new Error(`aptly ${args.slice(0, 2).join(" ")} failed (exit ${code}): ${err}`));
      });
    });
  }
}
