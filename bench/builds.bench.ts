/**
 * Builds on the lab's synthetic upstream, outside any lab (no root needed): three upstream states
 * published by aptly and served over HTTP, and for each `smith build` then `smith sync` to two
 * mirror directories (+ moto's S3 server when installed), in-process as `smith lab up` runs them.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { LAB_ADVISORIES, LAB_BUILDS, publishUpstreamState, UPSTREAM_ENDPOINT, UPSTREAM_SUITE } from "../src/lab/builds";
import { Aptly } from "../src/packages/aptly";
import { runBuild, stopGpgAgent } from "../src/packages/build";
import { loadBuildsConfig } from "../src/packages/config";
import { syncBuild } from "../src/packages/sync";
import { verifyBuild } from "../src/packages/verify";
import { buildsSkipReason, httpServer, makeSigningKey, motoServer, s3Server, Server } from "../test/support/builds";
import { REPO_ROOT } from "../test/support/pulumi";
import type { BenchResult } from "./run";

export async function run(): Promise<BenchResult[]> {
  const why = buildsSkipReason();
  if (why) {
    process.stderr.write(`bench: builds skipped: ${why}\n`);
    return [];
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-builds-bench-"));
  let www: Server | null = null;
  let s3: Server | null = null;
  try {
    fs.mkdirSync(path.join(dir, "www"));
    execFileSync(path.join(REPO_ROOT, "scripts", "lab", "pkgs.sh"), [path.join(dir, "debs")], { stdio: "ignore" });
    const fpr = makeSigningKey(path.join(dir, "gnupg"), path.join(dir, "key.gpg"));
    www = await httpServer(path.join(dir, "www"), path.join(dir, "http.log"));
    if (motoServer()) s3 = await s3Server("smith-bench", path.join(dir, "moto.log"));
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: "bench", AWS_SECRET_ACCESS_KEY: "bench" });
    fs.writeFileSync(path.join(dir, "advisories.yaml"), stringify(LAB_ADVISORIES));
    fs.writeFileSync(
      path.join(dir, "builds.yaml"),
      stringify({
        aptly: { rootDir: "aptly" },
        publishDir: "publish",
        signing: { key: fpr, gnupgHome: "gnupg", publicKeyring: "key.gpg" },
        upstreams: [{ name: "lab", url: `${www.url}/upstream`, distribution: UPSTREAM_SUITE, keyrings: ["key.gpg"] }],
        advisories: [{ format: "smith", path: "advisories.yaml" }],
        mirrors: [
          { name: "a", type: "directory", path: "www/a" },
          { name: "b", type: "directory", path: "www/b" },
          ...(s3 ? [{ name: "s3", type: "s3", bucket: "smith-bench", endpoint: s3.url }] : []),
        ],
      }),
    );
    const cfg = loadBuildsConfig(path.join(dir, "builds.yaml"));
    const up = new Aptly({ rootDir: path.join(dir, "upstream-aptly"), architectures: ["amd64"], endpoints: { [UPSTREAM_ENDPOINT]: path.join(dir, "www") }, gnupgHome: path.join(dir, "gnupg") });
    const build: number[] = [];
    const sync: number[] = [];
    let verify = 0;
    for (const k of LAB_BUILDS) {
      await publishUpstreamState(up, path.join(dir, "debs", `build-${k}`), k, fpr, k === LAB_BUILDS[0]);
      let t = Date.now();
      await runBuild(cfg, { number: k });
      build.push((Date.now() - t) / 1000);
      t = Date.now();
      const r = await syncBuild(cfg, k);
      if (r.some((x) => !x.ok)) throw new Error(`bench: sync failed: ${JSON.stringify(r)}`);
      sync.push((Date.now() - t) / 1000);
      t = Date.now();
      await verifyBuild(cfg, k, { pool: true });
      verify += (Date.now() - t) / 1000;
    }
    const mirrors = cfg.mirrors.map((m) => m.name).join(", ");
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    return [
      { name: "builds: smith build (lab upstream), mean of 3", value: sum(build) / build.length, unit: "s", note: "mirror update + snapshot + signed publish + manifest" },
      { name: "builds: smith sync, mean of 3", value: sum(sync) / sync.length, unit: "s", note: `to ${mirrors} in parallel` },
      { name: "builds: smith verify --pool, 3 builds", value: verify, unit: "s", note: `every mirror (${mirrors})` },
    ];
  } finally {
    await www?.stop();
    await s3?.stop();
    await stopGpgAgent(path.join(dir, "gnupg"));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
