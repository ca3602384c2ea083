import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UserError } from "../errors";
import { pidAlive } from "../lab/host";

/**
 * One `smith rollout` per pipeline and build at a time: two would share the journal (and double
 * every notification). The lock file names its holder well enough to tell a dead one apart even
 * in a container, where the pid is the same (1) in every pod and a pid means nothing across
 * pods sharing the volume:
 *   - same hostname and boot: the holder is alive iff its pid runs AND started when recorded
 *     (a reused pid, e.g. pid 1 of the next container, is not the holder);
 *   - same hostname, other boot: the machine rebooted since, the holder is gone;
 *   - another hostname (another pod, another host on a shared volume): no pid to check, so the
 *     holder refreshes the file's mtime every HEARTBEAT_MS; older than STALE_MS means gone.
 * A gone holder's lock is taken over; that is how a resumed run starts after kill -9 or a lost pod.
 */
export interface LockHolder {
  pid: number;
  hostname: string | null;
  /** /proc/sys/kernel/random/boot_id (null off Linux). */
  bootId: string | null;
  /** The process's start, in clock ticks after boot (/proc/<pid>/stat field 22; null off Linux). */
  startTicks: number | null;
}

export const HEARTBEAT_MS = 30_000;
export const STALE_MS = 4 * HEARTBEAT_MS;

export interface LockDeps {
  self?: LockHolder;
  now?: () => number;
  /** Start ticks of a local pid, null when it does not run. */
  startTicksOf?: (pid: number) => number | null;
}

export function acquireRolloutLock(dir: string, build: string, deps: LockDeps = {}): { release(): void; tookOverFrom: string | null } {
  const self = deps.self ?? currentHolder();
  const now = deps.now ?? Date.now;
  const startTicksOf = deps.startTicksOf ?? processStartTicks;
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `build-${build}.lock`);
  let tookOverFrom: string | null = null;
  for (let i = 0; i < 3; i++) {
    try {
      fs.writeFileSync(file, `${JSON.stringify(self)}\n`, { flag: "wx" });
      const beat = setInterval(() => touch(file), HEARTBEAT_MS);
      beat.unref();
      return {
        release: () => {
          clearInterval(beat);
          fs.rmSync(file, { force: true });
        },
        tookOverFrom,
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = readHolder(file);
      const ageMs = now() - fs.statSync(file).mtimeMs;
      if (holder && holderAlive(holder, self, ageMs, startTicksOf)) {
        throw new UserError(`${file}: smith rollout ${describe(holder)} is already rolling out build ${build} of this pipeline`);
      }
      tookOverFrom = holder ? describe(holder) : "of an unreadable lock";
      fs.rmSync(file, { force: true });
    }
  }
  throw new UserError(`${file}: could not take the rollout lock`);
}

/** Whether the lock's holder may still run (see the module comment). */
export function holderAlive(h: LockHolder, self: LockHolder, ageMs: number, startTicksOf: (pid: number) => number | null): boolean {
  if (h.hostname !== self.hostname) return ageMs < STALE_MS;
  if (h.bootId !== null && self.bootId !== null && h.bootId !== self.bootId) return false;
  if (h.pid === self.pid) return false; // our own pid on this host and boot: whoever wrote it is gone
  const ticks = startTicksOf(h.pid);
  return ticks !== null && (h.startTicks === null || ticks === h.startTicks);
}

export function describe(h: LockHolder): string {
  return `pid ${h.pid}${h.hostname ? ` on ${h.hostname}` : ""}`;
}

/** A lock file: JSON of a LockHolder, or (written before holders were recorded) just a pid. */
export function readHolder(file: string): LockHolder | null {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8").trim();
  } catch {
    return null;
  }
  if (/^[1-9][0-9]*$/.test(text)) return { pid: Number(text), hostname: os.hostname(), bootId: null, startTicks: null };
  try {
    const j = JSON.parse(text) as Partial<LockHolder>;
    if (typeof j.pid !== "number") return null;
    return { pid: j.pid, hostname: j.hostname ?? null, bootId: j.bootId ?? null, startTicks: typeof j.startTicks === "number" ? j.startTicks : null };
  } catch {
    return null;
  }
}

export function currentHolder(): LockHolder {
  return { pid: process.pid, hostname: os.hostname(), bootId: readTrimmed("/proc/sys/kernel/random/boot_id"), startTicks: processStartTicks(process.pid) };
}

/** Start time of a pid in clock ticks after boot; null when it does not run (or off Linux: then pidAlive decides, as 0). */
export function processStartTicks(pid: number): number | null {
  const stat = readTrimmed(`/proc/${pid}/stat`);
  if (stat === null) return process.platform === "linux" || !pidAlive(pid) ? null : 0;
  // Fields after the command name (which may hold spaces) start at field 3; starttime is field 22.
  const n = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  return Number.isFinite(n) ? n : null;
}

function readTrimmed(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return null;
  }
}

function touch(file: string): void {
  const t = new Date();
  try {
    fs.utimesSync(file, t, t);
  } catch {
    // Taken over or released meanwhile: nothing to refresh.
  }
}
