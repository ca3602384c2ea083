/**
 * `smith sync`: copies a published build to every mirror, all mirrors at once. Per mirror the
 * pool, the indexes and the manifest go first and Release.gpg, Release, InRelease last, each file
 * atomically: a client (or a sync killed half-way) never meets a Release whose indexes are not
 * there in that exact version. Files already on the mirror with the right hash are skipped, so a
 * retry (or a re-sync after a repair) sends only what is missing or wrong.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { UserError } from "../errors";
import type { Log } from "./aptly";
import type { BuildsConfig } from "./config";
import { buildDir, buildPrefix, filesUnder, MANIFEST, RELEASE_FILES } from "./layout";
import { MirrorTarget, selectTargets } from "./targets";

export interface RetryPolicy {
  attempts: number;
  /** First backoff; doubles every attempt. */
  backoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` up to `attempts` times with exponential backoff; the last error is thrown. */
export async function withRetries<T>(p: RetryPolicy, fn: (attempt: number) => Promise<T>, onRetry?: (attempt: number, err: unknown, waitMs: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= p.attempts || e instanceof UserError) throw e;
      const wait = p.backoffMs * 2 ** (attempt - 1);
      onRetry?.(attempt, e, wait);
      await sleep(wait);
    }
  }
}

export interface MirrorSyncResult {
  mirror: string;
  where: string;
  ok: boolean;
  uploaded: number;
  skipped: number;
  bytes: number;
  attempts: number;
  seconds: number;
  error?: string;
}

/**
 * The build's files as upload steps, each complete before the next starts: the pool, then the
 * indexes (so no index names a missing package), then the manifest, then Release.gpg, Release and
 * InRelease one at a time (so no Release names a missing or stale index).
 */
export function uploadSteps(files: string[]): string[][] {
  const last = new Set(RELEASE_FILES);
  const body = files.filter((f) => !last.has(f)).sort();
  const steps = [body.filter((f) => f.startsWith("pool/")), body.filter((f) => !f.startsWith("pool/") && f !== MANIFEST), body.filter((f) => f === MANIFEST)];
  return [...steps, ...RELEASE_FILES.filter((f) => files.includes(f)).map((f) => [f])].filter((g) => g.length);
}

export interface SyncOptions {
  log?: Log;
  retry?: RetryPolicy;
  /** Only these mirrors (by name). */
  only?: string[];
  /** Files uploaded at once per mirror. Defaults to 8. */
  concurrency?: number;
  /** Test hook: pause after every file (to kill a sync half-way). */
  delayPerFileMs?: number;
  targets?: (c: BuildsConfig) => MirrorTarget[];
}

async function syncOne(t: MirrorTarget, srcDir: string, n: number, files: string[], o: SyncOptions, log: Log): Promise<Omit<MirrorSyncResult, "attempts" | "seconds" | "ok" | "mirror" | "where">> {
  let uploaded = 0;
  let skipped = 0;
  let bytes = 0;
  let done = 0;
  let nextReport = 0.25;
  const put = async (rel: string) => {
    const body = await fs.promises.readFile(path.join(srcDir, rel));
    const sha = createHash("sha256").update(body).digest("hex");
    const key = `${buildPrefix(n)}/${rel}`;
    if ((await t.storedHash(key)) === sha) skipped++;
    else {
      await t.write(key, body, sha);
      uploaded++;
      bytes += body.length;
      if (o.delayPerFileMs) await sleep(o.delayPerFileMs);
    }
    done++;
    if (done / files.length >= nextReport && done < files.length) {
      log(`${t.name}: ${done}/${files.length} files`);
      while (done / files.length >= nextReport) nextReport += 0.25;
    }
  };
  const width = o.concurrency ?? 8;
  for (const step of uploadSteps(files)) {
    let i = 0;
    await Promise.all(Array.from({ length: Math.min(width, step.length) }, async () => {
      while (i < step.length) await put(step[i++]!);
    }));
  }
  return { uploaded, skipped, bytes };
}

/** Syncs build `n` to every configured mirror in parallel; never throws for a mirror's failure. */
export async function syncBuild(c: BuildsConfig, n: number, o: SyncOptions = {}): Promise<MirrorSyncResult[]> {
  const log = o.log ?? (() => {});
  const srcDir = buildDir(c.publishDir, n);
  if (!fs.existsSync(path.join(srcDir, RELEASE_FILES[2]!))) throw new UserError(`build ${n} is not published in ${c.publishDir} (no ${buildPrefix(n)}/${RELEASE_FILES[2]}); run 'smith build' first`);
  if (!fs.existsSync(path.join(srcDir, MANIFEST))) throw new UserError(`build ${n} has no ${MANIFEST} in ${srcDir}; it was not made by 'smith build'`);
  const targets = selectTargets(c, o.only, o.targets);
  const files = filesUnder(srcDir);
  const retry = o.retry ?? DEFAULT_RETRY;
  return Promise.all(
    targets.map(async (t): Promise<MirrorSyncResult> => {
      const t0 = Date.now();
      let attempts = 0;
      log(`${t.name}: syncing ${files.length} files to ${t.where}`);
      try {
        const r = await withRetries(
          retry,
          (a) => {
            attempts = a;
            return syncOne(t, srcDir, n, files, o, log);
          },
          (a, e, wait) => log(`${t.name}: attempt ${a} failed (${(e as Error).message}); retrying in ${(wait / 1000).toFixed(1)} s`),
        );
        const seconds = (Date.now() - t0) / 1000;
        log(`${t.name}: done, ${r.uploaded} files sent, ${r.skipped} already there (${seconds.toFixed(1)} s)`);
        return { mirror: t.name, where: t.where, ok: true, attempts, seconds, ...r };
      } catch (e) {
        const seconds = (Date.now() - t0) / 1000;
        return { mirror: t.name, where: t.where, ok: false, uploaded: 0, skipped: 0, bytes: 0, attempts, seconds, error: (e as Error).message || String(e) };
      }
    }),
  );
}
