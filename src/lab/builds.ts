/**
 * The lab's builds, made the way production makes them: a synthetic upstream (the demo packages,
 * published by aptly as a signed apt repository and served by the lab's HTTP server) moves
 * through three states; after each, `smith build` snapshots it as build N, `smith sync` puts
 * it on the lab's two mirror directories and `smith verify` checks them. `.smith/lab/builds.yaml`
 * is a config `smith build`, `sync`, `verify` and `retention` accept as is.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { Aptly, Log } from "../packages/aptly";
import { runBuild, stopGpgAgent } from "../packages/build";
import { loadBuildsConfig } from "../packages/config";
import { buildPrefix, RELEASE_FILES } from "../packages/layout";
import { syncBuild } from "../packages/sync";
import { verifyBuild } from "../packages/verify";
import type { LabPaths } from "./paths";

/** Builds 1, 2, 3 = demo packages 1.0, 1.1, 1.2 (scripts/lab/pkgs.sh). */
export const LAB_BUILDS = [1, 2, 3];
export const LAB_MIRRORS = ["mirror-a", "mirror-b"];
export const UPSTREAM_SUITE = "bookworm-lab";
export const UPSTREAM_ENDPOINT = "lab-upstream";

/** Synthetic advisories for the demo packages (fixed dates, so compliance tests are exact). */
export const LAB_ADVISORIES = {
  advisories: [
    { id: "LAB-2026-0001", severity: "high", published: "2026-11-18T00:00:00Z", packages: [{ name: "smith-demo-kernel", fixed: "1.1" }] },
    { id: "LAB-2026-0002", severity: "medium", published: "2026-11-18T00:00:00Z", packages: [{ name: "smith-demo-svc", fixed: "1.1" }] },
    { id: "LAB-2026-0003", severity: "critical", published: "2026-11-25T00:00:00Z", packages: [{ name: "smith-demo-kernel", fixed: "1.2" }] },
    { id: "LAB-2026-0004", severity: "low", published: "2026-11-25T00:00:00Z", packages: [{ name: "smith-demo-conf", fixed: "1.2" }] },
  ],
};

export interface LabBuildFiles {
  dir: string;
  www: string;
  config: string;
  gnupg: string;
  keyring: string;
  debs: string;
}

export function labBuildFiles(p: LabPaths): LabBuildFiles {
  return {
    dir: p.labDir,
    www: path.join(p.labDir, "www"),
    config: path.join(p.labDir, "builds.yaml"),
    gnupg: path.join(p.labDir, "gnupg"),
    keyring: path.join(p.labDir, "smith-lab.gpg"),
    debs: path.join(p.labDir, "debs"),
  };
}

/** The mirror URL lab machines use (`<url>/builds/<N>`): the first mirror directory. */
export function labRepoUrl(port: number, mirror = LAB_MIRRORS[0]!): string {
  return `http://127.0.0.1:${port}/${mirror}`;
}

/** `.smith/lab/builds.yaml`: relative paths, so the file reads the same from anywhere. */
export function renderLabBuildsConfig(port: number, fingerprint: string): string {
  const cfg = {
    aptly: { rootDir: "aptly" },
    publishDir: "publish",
    signing: { key: fingerprint, gnupgHome: "gnupg", publicKeyring: "smith-lab.gpg" },
    architectures: ["amd64"],
    upstreams: [{ name: "lab", url: `http://127.0.0.1:${port}/upstream`, distribution: UPSTREAM_SUITE, components: ["main"], keyrings: ["smith-lab.gpg"] }],
    advisories: [{ format: "smith", path: "advisories.yaml" }],
    mirrors: LAB_MIRRORS.map((m) => ({ name: m, type: "directory", path: `www/${m}` })),
    retention: { keep: 3, rolloutWindowDays: 7, stacks: ["lab"] },
  };
  return `# Written by 'smith lab up': the lab's builds (smith build/sync/verify/retention --config .smith/lab/builds.yaml).\n${stringify(cfg)}`;
}

/**
 * Publishes upstream state `k` (the .debs in `debsDir`) at `<endpoint>:upstream`, signed: the
 * first state with `publish snapshot`, later ones with `publish switch`, as an archive moves on.
 */
export async function publishUpstreamState(up: Aptly, debsDir: string, k: number, fingerprint: string, first: boolean): Promise<void> {
  const repo = `upstream-${k}`;
  await up.run(["repo", "create", `-distribution=${UPSTREAM_SUITE}`, "-component=main", repo]);
  await up.run(["repo", "add", repo, debsDir]);
  await up.run(["snapshot", "create", repo, "from", "repo", repo]);
  const sign = [`-gpg-key=${fingerprint}`, "-batch"];
  if (first) {
    await up.run(["publish", "snapshot", `-distribution=${UPSTREAM_SUITE}`, "-component=main", "-architectures=amd64", "-origin=smith-lab-upstream", ...sign, repo, `filesystem:${UPSTREAM_ENDPOINT}:upstream`]);
  } else {
    await up.run(["publish", "switch", ...sign, UPSTREAM_SUITE, `filesystem:${UPSTREAM_ENDPOINT}:upstream`, repo]);
  }
}

/** What the lab's builds are made from: rebuilt only when this changes (publishing is the slow part). */
export function labBuildsStamp(p: LabPaths): string {
  const h = createHash("sha256");
  for (const f of ["pkgs.sh", "mirror.sh"]) h.update(fs.readFileSync(path.join(p.scripts, f)));
  h.update(JSON.stringify(LAB_ADVISORIES));
  h.update(fs.readFileSync(__filename));
  return h.digest("hex").slice(0, 16);
}

export interface LabBuildsResult {
  rebuilt: boolean;
  seconds: { build: number; sync: number };
}

/**
 * Makes builds 1-3 (unless the stamp says they are current) with the mirror server already
 * serving `www` on `port`; always rewrites builds.yaml (the port may have changed).
 */
export async function makeLabBuilds(p: LabPaths, port: number, fingerprint: string, log: Log): Promise<LabBuildsResult> {
  const f = labBuildFiles(p);
  fs.writeFileSync(path.join(f.dir, "advisories.yaml"), stringify(LAB_ADVISORIES));
  fs.writeFileSync(f.config, renderLabBuildsConfig(port, fingerprint));
  const stamp = labBuildsStamp(p);
  const stampFile = path.join(f.dir, "builds.stamp");
  const current = LAB_MIRRORS.every((m) => fs.existsSync(path.join(f.www, m, buildPrefix(LAB_BUILDS.at(-1)!), RELEASE_FILES[2]!)));
  if (current && fs.existsSync(stampFile) && fs.readFileSync(stampFile, "utf8").trim() === stamp) return { rebuilt: false, seconds: { build: 0, sync: 0 } };

  for (const d of ["aptly", "upstream-aptly", "publish", ...LAB_MIRRORS.map((m) => path.join("www", m)), path.join("www", "upstream")]) {
    fs.rmSync(path.join(f.dir, d), { recursive: true, force: true });
  }
  const config = loadBuildsConfig(f.config);
  const up = new Aptly({ rootDir: path.join(f.dir, "upstream-aptly"), architectures: ["amd64"], endpoints: { [UPSTREAM_ENDPOINT]: f.www }, gnupgHome: f.gnupg, log });
  const seconds = { build: 0, sync: 0 };
  try {
    for (const k of LAB_BUILDS) {
      await publishUpstreamState(up, path.join(f.debs, `build-${k}`), k, fingerprint, k === LAB_BUILDS[0]);
      let t = Date.now();
      await runBuild(config, { number: k, log: (l) => log(`build: ${l}`) });
      seconds.build += (Date.now() - t) / 1000;
      t = Date.now();
      const synced = await syncBuild(config, k, { log: (l) => log(`sync: ${l}`) });
      const bad = synced.find((r) => !r.ok);
      if (bad) throw new Error(`lab: sync of build ${k} to ${bad.mirror} failed: ${bad.error}`);
      // smith verify: every mirror's Release, indexes and InRelease signature against the source.
      const wrong = (await verifyBuild(config, k)).flatMap((r) => r.bad);
      if (wrong.length) throw new Error(`lab: verify of build ${k} failed: ${wrong.map((b) => `${b.mirror}: ${b.file}: ${b.problem}`).join("; ")}`);
      seconds.sync += (Date.now() - t) / 1000;
    }
  } finally {
    await stopGpgAgent(f.gnupg);
  }
  fs.writeFileSync(stampFile, `${stamp}\n`);
  log(`builds ${LAB_BUILDS.join(", ")}: smith build ${seconds.build.toFixed(1)} s, smith sync + verify ${seconds.sync.toFixed(1)} s (${LAB_MIRRORS.join(", ")})`);
  return { rebuilt: true, seconds };
}
