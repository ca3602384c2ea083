/**
 * Retention: keep the newest K builds, every build a stack's state still references (its
 * `nodes` output: machines sit on that build; also its `build`/`rollout.build`), and every build
 * younger than the rollout window; drop the rest from the mirrors (Release files first, so no
 * client ever sees a Release without its indexes), then from aptly and the publish dir.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { UserError } from "../errors";
import { findPulumi, pulumiEnv } from "../pulumi/env";
import { Aptly, aptlyOptionsFor, Log, PUBLISH_ENDPOINT } from "./aptly";
import type { BuildsConfig } from "./config";
import { buildDir, buildPrefix, MANIFEST, publishedBuilds, RELEASE_FILES, snapshotFor, SUITE } from "./layout";
import { selectTargets } from "./targets";

/** Builds a stack's state references. */
export type StackReader = (stack: string) => Promise<string[]>;

/** The builds named in a stack's outputs: every `nodes.<machine>.build`, `build`, `rollout.build`. */
export function buildsInOutputs(outputs: Record<string, unknown>): string[] {
  const out = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === "string" || typeof v === "number") out.add(String(v));
  };
  const nodes = outputs.nodes;
  if (nodes && typeof nodes === "object") for (const n of Object.values(nodes as Record<string, { build?: unknown }>)) add(n?.build);
  add(outputs.build);
  add((outputs.rollout as { build?: unknown } | undefined)?.build);
  return [...out].sort();
}

/** Reads stack outputs with the `pulumi` CLI (any backend PULUMI_BACKEND_URL names). */
export function pulumiStackReader(opts: { repoRoot: string; cwd?: string; env?: NodeJS.ProcessEnv }): StackReader {
  return (stack) =>
    new Promise((resolve, reject) => {
      const bin = findPulumi(opts.repoRoot) ?? "pulumi";
      execFile(bin, ["stack", "output", "--json", "--stack", stack], { cwd: opts.cwd ?? opts.repoRoot, env: pulumiEnv(opts.repoRoot, { ...process.env, ...opts.env }, stack.split("/").pop()), maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) {
          const why = stderr.split("\n").find((l) => /error/i.test(l)) ?? stderr.trim().split("\n").pop() ?? err.message;
          return reject(new UserError(`retention: cannot read stack ${JSON.stringify(stack)} (${why.trim()}); nothing deleted`));
        }
        try {
          resolve(buildsInOutputs(JSON.parse(stdout || "{}") as Record<string, unknown>));
        } catch (e) {
          reject(new UserError(`retention: stack ${JSON.stringify(stack)} outputs are not JSON (${(e as Error).message}); nothing deleted`));
        }
      });
    });
}

export interface RetentionDecision {
  build: number;
  keep: boolean;
  /** Why it is kept ("newest 3", "in use by lab", "younger than 30 days"), or why it goes. */
  reasons: string[];
  createdAt: string | null;
}

/** Pure: which builds stay and why. */
export function planRetention(builds: { build: number; createdAt: string | null }[], keep: number, windowDays: number, inUse: Map<string, string[]>, now: Date): RetentionDecision[] {
  const newest = new Set([...builds].sort((a, b) => b.build - a.build).slice(0, keep).map((b) => b.build));
  return builds.map((b) => {
    const reasons: string[] = [];
    if (newest.has(b.build)) reasons.push(`newest ${keep}`);
    const stacks = inUse.get(String(b.build));
    if (stacks?.length) reasons.push(`in use by ${stacks.join(", ")}`);
    // Never delete what cannot be dated (no manifest, or a broken one).
    if (!b.createdAt || Number.isNaN(Date.parse(b.createdAt))) reasons.push("no creation date");
    else if ((now.getTime() - Date.parse(b.createdAt)) / 86_400_000 < windowDays) reasons.push(`younger than ${windowDays} days`);
    return { build: b.build, keep: reasons.length > 0, reasons: reasons.length ? reasons : [`older than ${windowDays} days, not in use`], createdAt: b.createdAt };
  });
}

function createdAt(c: BuildsConfig, n: number): string | null {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(buildDir(c.publishDir, n), MANIFEST), "utf8")) as { createdAt?: string };
    return m.createdAt ?? null;
  } catch {
    return null;
  }
}

export interface RetentionOptions {
  dryRun?: boolean;
  now?: Date;
  log?: Log;
  reader?: StackReader;
  repoRoot: string;
}

export async function runRetention(c: BuildsConfig, o: RetentionOptions): Promise<RetentionDecision[]> {
  const r = c.retention;
  if (!r) throw new UserError(`${c.file}: retention: missing (set retention.keep, rolloutWindowDays, stacks)`);
  const log = o.log ?? (() => {});
  const reader = o.reader ?? pulumiStackReader({ repoRoot: o.repoRoot });
  // Every stack must answer: a stack we cannot read might pin any build.
  const inUse = new Map<string, string[]>();
  for (const s of r.stacks) {
    const builds = await reader(s);
    log(`stack ${s}: builds in use ${builds.join(", ") || "none"}`);
    for (const b of builds) inUse.set(b, [...(inUse.get(b) ?? []), s]);
  }
  const decisions = planRetention(
    publishedBuilds(c.publishDir).map((n) => ({ build: n, createdAt: createdAt(c, n) })),
    r.keep,
    r.rolloutWindowDays,
    inUse,
    o.now ?? new Date(),
  );
  if (o.dryRun) return decisions;
  const targets = c.mirrors.length ? selectTargets(c) : [];
  const aptly = new Aptly(aptlyOptionsFor(c, log));
  for (const d of decisions.filter((x) => !x.keep)) {
    const prefix = buildPrefix(d.build);
    for (const t of targets) {
      const files = await t.list(`${prefix}/`);
      const release = RELEASE_FILES.map((f) => `${prefix}/${f}`).reverse(); // InRelease first
      await t.remove(release.filter((f) => files.includes(f)));
      await t.remove(files.filter((f) => !release.includes(f)));
      log(`build ${d.build}: removed ${files.length} files from ${t.name}`);
    }
    await aptly.exclusive("retention", async () => {
      await aptly.run(["publish", "drop", SUITE, `filesystem:${PUBLISH_ENDPOINT}:${prefix}`], { ok: (x) => /not found/i.test(x.stderr + x.stdout) });
      const snaps = (await aptly.run(["snapshot", "list", "-raw"])).stdout.split("\n").map((l) => l.trim());
      // The merged snapshot first: aptly refuses to drop a snapshot another was made from.
      for (const s of snaps.filter((x) => x === snapshotFor(d.build))) await aptly.run(["snapshot", "drop", "-force", s]);
      for (const s of snaps.filter((x) => x.startsWith(`${snapshotFor(d.build)}-`))) await aptly.run(["snapshot", "drop", "-force", s]);
    });
    fs.rmSync(buildDir(c.publishDir, d.build), { recursive: true, force: true });
    log(`build ${d.build}: dropped (${d.reasons.join("; ")})`);
  }
  if (decisions.some((d) => !d.keep)) await aptly.run(["db", "cleanup"]);
  return decisions;
}
