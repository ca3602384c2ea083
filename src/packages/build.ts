/**
 * `smith build`: update every upstream mirror, snapshot it, merge the snapshots into the build's
 * immutable snapshot, publish it signed as `builds/<N>/` and write its manifest beside it.
 * All under smith's aptly lock, so two builds never race for a number.
 */
import { execFile } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { UserError } from "../errors";
import { FeedAdvisory, loadAdvisories } from "./advisories";
import { Aptly, aptlyOptionsFor, Log, PUBLISH_ENDPOINT } from "./aptly";
import type { BuildsConfig, UpstreamConfig } from "./config";
import { parsePackages, parseRelease } from "./deb822";
import { buildManifest } from "./diff";
import { FirstSeenLedger, parseAptlyPackageList } from "./first-seen";
import { buildDir, buildPrefix, COMPONENT, labelFor, MANIFEST, ORIGIN, publishedBuilds, snapshotFor, SUITE } from "./layout";
import { BuildManifest, parseManifest } from "./manifest";

export interface BuildOptions {
  /** Build number; defaults to the next after every existing one. */
  number?: number;
  log?: Log;
  /** The build's time (createdAt, first-seen of new versions). Defaults to now. */
  now?: Date;
}

export interface StepTime {
  step: string;
  seconds: number;
  detail: string;
}

export interface BuildResult {
  number: number;
  dir: string;
  manifest: BuildManifest;
  steps: StepTime[];
}

const mirrorName = (u: UpstreamConfig) => `upstream-${u.name}`;
const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

export function sha256File(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** aptly's snapshot names (`aptly snapshot list -raw`). */
async function snapshots(aptly: Aptly): Promise<Set<string>> {
  const r = await aptly.run(["snapshot", "list", "-raw"]);
  return new Set(r.stdout.split("\n").map((l) => l.trim()).filter(Boolean));
}

async function mirrors(aptly: Aptly): Promise<Set<string>> {
  const r = await aptly.run(["mirror", "list", "-raw"]);
  return new Set(r.stdout.split("\n").map((l) => l.trim()).filter(Boolean));
}

/** The newest published build below `n` that has a manifest: what build `n` is diffed against. */
export function previousManifest(publishDir: string, n: number): BuildManifest | null {
  const older = publishedBuilds(publishDir).filter((b) => b < n).reverse();
  for (const b of older) {
    const f = path.join(buildDir(publishDir, b), MANIFEST);
    if (fs.existsSync(f)) return parseManifest(fs.readFileSync(f, "utf8"), f);
  }
  return null;
}

export function stopGpgAgent(gnupgHome: string | undefined): Promise<void> {
  // gpg leaves an agent per GNUPGHOME; a lab's must not outlive `lab down`.
  if (!gnupgHome) return Promise.resolve();
  return new Promise((resolve) => execFile("gpgconf", ["--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: gnupgHome } }, () => resolve()));
}

/** The signing key must be there before anything runs (aptly would only find out at publish time). */
export function checkSigningKey(c: BuildsConfig): Promise<void> {
  const env = { ...process.env, ...(c.signing.gnupgHome ? { GNUPGHOME: c.signing.gnupgHome } : {}) };
  return new Promise((resolve, reject) =>
    execFile("gpg", ["--batch", "--with-colons", "--list-secret-keys", c.signing.key], { env }, (err) =>
      err ? reject(new UserError(`${c.file}: signing.key: no secret key ${JSON.stringify(c.signing.key)} in ${c.signing.gnupgHome ?? "gpg's default home"}`)) : resolve(),
    ),
  );
}

export async function runBuild(c: BuildsConfig, opts: BuildOptions = {}): Promise<BuildResult> {
  const log = opts.log ?? (() => {});
  const aptly = new Aptly(aptlyOptionsFor(c, log));
  const steps: StepTime[] = [];
  const advisories = loadAdvisories(c.advisories); // a bad feed stops the build before anything runs
  const timed = async <T>(step: string, fn: () => Promise<T>, detail: (r: T) => string): Promise<T> => {
    const t = Date.now();
    log(`${step} …`);
    const r = await fn();
    const s = { step, seconds: (Date.now() - t) / 1000, detail: detail(r) };
    steps.push(s);
    log(`${step}: ${s.detail} (${s.seconds.toFixed(1)} s)`);
    return r;
  };
  try {
    await checkSigningKey(c);
    return await aptly.exclusive("build", async () => {
      const snaps = await snapshots(aptly);
      const existing = new Set(publishedBuilds(c.publishDir));
      for (const s of snaps) if (/^build-[1-9][0-9]*$/.test(s)) existing.add(Number(s.slice(6)));
      const n = opts.number ?? Math.max(0, ...existing) + 1;
      if (existing.has(n)) {
        throw new UserError(`build ${n} already exists (${fs.existsSync(buildDir(c.publishDir, n)) ? buildDir(c.publishDir, n) : `aptly snapshot ${snapshotFor(n)}`}); builds are never overwritten — omit --number for the next one`);
      }
      const now = opts.now ?? new Date();
      const ledger = new FirstSeenLedger(path.join(c.aptly.rootDir, "first-seen.json"));
      const made: string[] = [];
      try {
        const known = await mirrors(aptly);
        const parts: string[] = [];
        for (const u of c.upstreams) {
          const keyrings = u.keyrings.map((k) => `-keyring=${k}`);
          const settings = [`-architectures=${c.architectures.join(",")}`, ...keyrings, ...(u.filter ? [`-filter=${u.filter}`] : [])];
          if (!known.has(mirrorName(u))) await aptly.run(["mirror", "create", ...settings, mirrorName(u), u.url, u.distribution, ...u.components]);
          // The config is the truth: a moved archive URL or a new filter applies from this build on.
          else await aptly.run(["mirror", "edit", ...settings, `-archive-url=${u.url}`, mirrorName(u)]);
          const seen = await timed(
            `mirror update ${u.name}`,
            async () => {
              // A pocket's first update downloads thousands of packages: say how far it is every 10 s.
              let downloaded = 0;
              const tick = setInterval(() => log(`mirror update ${u.name}: ${downloaded} files downloaded so far`), 10_000);
              try {
                await aptly.run(["mirror", "update", ...keyrings, mirrorName(u)], { onOutput: (s) => (downloaded += s.split("Success downloading").length - 1) });
              } finally {
                clearInterval(tick);
              }
              const list = parseAptlyPackageList((await aptly.run(["mirror", "show", "-with-packages", mirrorName(u)])).stdout);
              return { list, fresh: ledger.record(list, iso(now)) };
            },
            (r) => `${r.list.length} packages, ${r.fresh} versions new (${u.url} ${u.distribution})`,
          );
          ledger.save();
          if (!seen.list.length) throw new UserError(`${c.file}: upstreams[${c.upstreams.indexOf(u)}]: ${u.url} ${u.distribution} has no packages for ${c.architectures.join(",")}`);
          const part = `${snapshotFor(n)}-${u.name}`;
          await aptly.run(["snapshot", "create", part, "from", "mirror", mirrorName(u)]);
          made.push(part);
          parts.push(part);
        }
        // One snapshot per build: the newest version of each package across the upstreams.
        await aptly.run(["snapshot", "merge", "-latest", snapshotFor(n), ...parts]);
        made.push(snapshotFor(n));
        await timed(
          `publish ${buildPrefix(n)}`,
          () =>
            aptly.run([
              "publish", "snapshot", `-distribution=${SUITE}`, `-component=${COMPONENT}`, `-architectures=${c.architectures.join(",")}`,
              `-origin=${ORIGIN}`, `-label=${labelFor(n)}`, `-gpg-key=${c.signing.key}`, "-batch",
              snapshotFor(n), `filesystem:${PUBLISH_ENDPOINT}:${buildPrefix(n)}`,
            ]),
          () => `signed with ${c.signing.key}`,
        );
        made.push("published");
      } catch (e) {
        // A failed build leaves nothing behind, so its number can be made again.
        if (made.includes("published")) await aptly.run(["publish", "drop", SUITE, `filesystem:${PUBLISH_ENDPOINT}:${buildPrefix(n)}`]).catch(() => undefined);
        for (const s of made.filter((m) => m !== "published").reverse()) await aptly.run(["snapshot", "drop", s]).catch(() => undefined);
        throw e;
      }
      const manifest = await timed("manifest", async () => writeManifest(c, n, now, ledger, advisories), (m) => `${m.packages.length} packages; +${m.diff.added.length} ↑${m.diff.upgraded.length} -${m.diff.removed.length} vs ${m.previous ?? "nothing"}`);
      return { number: n, dir: buildDir(c.publishDir, n), manifest, steps };
    });
  } finally {
    await stopGpgAgent(c.signing.gnupgHome);
  }
}

function writeManifest(c: BuildsConfig, n: number, now: Date, ledger: FirstSeenLedger, advisories: FeedAdvisory[]): BuildManifest {
  const dir = buildDir(c.publishDir, n);
  const releaseFile = path.join(dir, "dists", SUITE, "Release");
  const release = parseRelease(fs.readFileSync(releaseFile, "utf8"));
  const packages = c.architectures.flatMap((arch) => {
    const f = path.join(dir, "dists", SUITE, COMPONENT, `binary-${arch}`, "Packages");
    return fs.existsSync(f) ? parsePackages(fs.readFileSync(f, "utf8")) : [];
  });
  const manifest = buildManifest({
    build: String(n),
    previous: previousManifest(c.publishDir, n),
    createdAt: iso(now),
    release: {
      origin: release.fields.Origin ?? "",
      label: release.fields.Label ?? "",
      suite: release.fields.Suite ?? "",
      releaseSha256: sha256File(releaseFile),
    },
    packages,
    advisories,
    firstSeen: (name, version) => ledger.get(name, version),
  });
  const out = path.join(dir, MANIFEST);
  fs.writeFileSync(`${out}.tmp`, JSON.stringify(manifest, null, 2) + "\n");
  fs.renameSync(`${out}.tmp`, out);
  return manifest;
}
