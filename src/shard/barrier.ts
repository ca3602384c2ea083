import * as fs from "fs";
import * as path from "path";

/**
 * Wave barriers: lockstep across shard stacks INSIDE one `pulumi up` per shard (docs/scale.md).
 * Between two waves every shard stack has a `lockstep-<wave>` step that depends on all of its
 * nodes of `<wave>`: it leaves a marker ("this shard finished <wave> of build N") and waits
 * until every shard has left one. So the next wave starts in any shard only when the previous
 * one finished in all, without restarting any update (restarting every shard's update per wave
 * costs a program start and a full registration each time).
 *
 * Markers are files: `<dir>/build-<N>/<wave>/<shard>.json` (the wave URI-encoded: a phase is
 * `haproxy01%2Fphase-2`). They are written only after the wave finished in that shard, so
 * they are never wrong; a crashed update finds them on the next run (its finished barriers are
 * unchanged resources, its pending one runs again and finds the markers). The runner that starts
 * the shards writes `<dir>/build-<N>/abort.json` when a shard's update fails, so the others stop
 * waiting for a wave that shard will not finish; it removes it before the next attempt.
 */

export interface BarrierSpec {
  /** The marker directory all shards of the fleet share. */
  dir: string;
  build: string;
  /** The wave that must be finished everywhere (plan wave name; a phase is `<wave>/phase-<i>`). */
  wave: string;
  /** This shard. */
  shard: string;
  /** Every shard of the fleet (this one included). */
  shards: readonly string[];
}

export interface Marker {
  shard: string;
  wave: string;
  build: string;
  at: string;
}

export interface AbortMarker {
  shard: string;
  reason: string;
  at: string;
}

function buildDir(dir: string, build: string): string {
  return path.join(dir, `build-${build}`);
}

export function markerPath(dir: string, build: string, wave: string, shard: string): string {
  return path.join(buildDir(dir, build), encodeURIComponent(wave), `${shard}.json`);
}

export function abortPath(dir: string, build: string): string {
  return path.join(buildDir(dir, build), "abort.json");
}

/** Writes `file` whole or not at all (temp file + rename), creating its directory. */
function writeAtomic(file: string, data: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(data) + "\n");
  fs.renameSync(tmp, file);
}

/** This shard finished `spec.wave`. Idempotent. */
export function arrive(spec: BarrierSpec, now: Date = new Date()): void {
  const m: Marker = { shard: spec.shard, wave: spec.wave, build: spec.build, at: now.toISOString() };
  writeAtomic(markerPath(spec.dir, spec.build, spec.wave, spec.shard), m);
}

/** Shards of `spec.shards` that have not finished `spec.wave` yet. */
export function missingShards(spec: Omit<BarrierSpec, "shard">): string[] {
  return spec.shards.filter((s) => !fs.existsSync(markerPath(spec.dir, spec.build, spec.wave, s)));
}

export function readAbort(dir: string, build: string): AbortMarker | undefined {
  try {
    return JSON.parse(fs.readFileSync(abortPath(dir, build), "utf8")) as AbortMarker;
  } catch {
    return undefined;
  }
}

/** Tells every shard's barriers of `build` to stop waiting: `shard`'s update ended without finishing. */
export function abortBarriers(dir: string, build: string, shard: string, reason: string, now: Date = new Date()): void {
  writeAtomic(abortPath(dir, build), { shard, reason, at: now.toISOString() } satisfies AbortMarker);
}

/** Before a new attempt: shards wait for each other again. */
export function clearAbort(dir: string, build: string): void {
  fs.rmSync(abortPath(dir, build), { force: true });
}

export class BarrierError extends Error {
  constructor(
    message: string,
    readonly kind: "aborted" | "timeout",
    readonly missing: string[],
  ) {
    super(message);
  }
}

export interface WaitOptions {
  timeoutMs: number;
  /** Between looks at the markers. Defaults to 1 s. */
  pollMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called when the set of shards still missing changes. */
  onWaiting?: (missing: string[]) => void;
}

/**
 * Arrive, then wait until every shard has arrived: resolves with the time waited; rejects with
 * a BarrierError when another shard's update aborted or after `timeoutMs`.
 */
export async function passBarrier(spec: BarrierSpec, o: WaitOptions): Promise<{ waitedMs: number }> {
  if (!spec.shards.includes(spec.shard)) throw new Error(`passBarrier: shard ${spec.shard} is not one of ${spec.shards.join(", ")}`);
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const t0 = now();
  arrive(spec, new Date(t0));
  let last = "";
  for (;;) {
    const missing = missingShards(spec);
    if (missing.length === 0) return { waitedMs: now() - t0 };
    const abort = readAbort(spec.dir, spec.build);
    if (abort) throw new BarrierError(`wave ${spec.wave}: shard ${abort.shard} stopped (${abort.reason}); not waiting for ${missing.join(", ")}`, "aborted", missing);
    if (now() - t0 >= o.timeoutMs) {
      throw new BarrierError(`wave ${spec.wave}: shard(s) ${missing.join(", ")} did not finish it within ${Math.round(o.timeoutMs / 60_000)} min`, "timeout", missing);
    }
    if (missing.join(",") !== last) o.onWaiting?.(missing);
    last = missing.join(",");
    await sleep(o.pollMs ?? 1000);
  }
}
