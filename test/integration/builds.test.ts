/**
 * smith build / sync / verify / retention with real aptly, gpg, an HTTP upstream, two directory
 * mirrors and a real S3-compatible server (moto) on loopback; then a lab machine's apt upgrading
 * from a synced mirror with signature checking on.
 */
import { expect } from "chai";
import { execFileSync, spawn, spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { labBuildFiles, publishUpstreamState, UPSTREAM_ENDPOINT, UPSTREAM_SUITE } from "../../src/lab/builds";
import { sleep } from "../../src/lab/host";
import { Aptly } from "../../src/packages/aptly";
import { runBuild } from "../../src/packages/build";
import { BuildsConfig, loadBuildsConfig } from "../../src/packages/config";
import { parseRelease } from "../../src/packages/deb822";
import { buildsInOutputs, pulumiStackReader, runRetention } from "../../src/packages/retention";
import { syncBuild } from "../../src/packages/sync";
import { targetFor } from "../../src/packages/targets";
import { verifyBuild } from "../../src/packages/verify";
import { buildsSkipReason, httpServer, makeDeb, makeSigningKey, motoServer, s3Server, Server } from "../support/builds";
import { ensureLab, labExec, labSkipReason } from "../support/lab";
import { createTempProject, pulumiOk, pulumiUnavailableReason, REPO_ROOT } from "../support/pulumi";

const SMITH = path.join(REPO_ROOT, "bin", "smith.js");
const BUCKET = "smith-builds";
const S3_ENV = { AWS_ACCESS_KEY_ID: "smith-test", AWS_SECRET_ACCESS_KEY: "smith-test", AWS_REGION: "us-east-1" };

function smith(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SMITH, ...args], { env: { ...process.env, ...S3_ENV, ...env }, encoding: "utf8", timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe("builds: smith build, sync, verify, retention (integration)", function () {
  this.timeout(600_000);
  let dir: string;
  let www: Server;
  let s3: Server | null = null;
  let cfgFile: string;
  let cfg: BuildsConfig;
  let fpr: string;
  let up: Aptly;
  const times: string[] = [];

  /** Upstream states: 1 = demo 1.0 + smith-test-old; 2 = demo 1.1 + smith-test-new (old is gone). */
  function upstreamDebs(k: number): string {
    const d = path.join(dir, "debs", `state-${k}`);
    fs.mkdirSync(d, { recursive: true });
    for (const f of fs.readdirSync(path.join(dir, "demo", `build-${k}`))) fs.copyFileSync(path.join(dir, "demo", `build-${k}`, f), path.join(d, f));
    if (k === 1) makeDeb(d, "smith-test-old", "0.9");
    else makeDeb(d, "smith-test-new", "2.0");
    return d;
  }

  before(async function () {
    const why = buildsSkipReason();
    if (why) {
      console.log(`      skipping builds integration tests: ${why}`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-builds-it-"));
    fs.mkdirSync(path.join(dir, "www"));
    execFileSync(path.join(REPO_ROOT, "scripts", "lab", "pkgs.sh"), [path.join(dir, "demo")], { stdio: "ignore" });
    fpr = makeSigningKey(path.join(dir, "gnupg"), path.join(dir, "key.gpg"));
    www = await httpServer(path.join(dir, "www"), path.join(dir, "http.log"));
    if (motoServer()) s3 = await s3Server(BUCKET, path.join(dir, "moto.log"));
    else console.log("      no moto_server: the S3 mirror is left out (scripts/install-s3-server.sh installs it)");
    Object.assign(process.env, S3_ENV);
    fs.writeFileSync(
      path.join(dir, "advisories.yaml"),
      stringify({
        advisories: [
          { id: "DSA-9001-1", severity: "high", published: "2026-11-20T00:00:00Z", packages: [{ name: "smith-demo-kernel", fixed: "1.1" }] },
          { id: "DSA-9002-1", severity: "low", published: "2026-11-01T00:00:00Z", packages: [{ name: "smith-demo-kernel", fixed: "1.0" }] },
          { id: "DSA-9003-1", severity: "critical", published: "2026-11-21T00:00:00Z", packages: [{ name: "smith-test-new", fixed: "2.0" }] },
        ],
      }),
    );
    fs.writeFileSync(path.join(dir, "dla.list"), "[22 Nov 2026] DLA-4000-1 smith-demo-svc - security update\n\t{CVE-2026-0001}\n\t[bookworm] - smith-demo-svc 1.1\n");
    cfgFile = path.join(dir, "builds.yaml");
    fs.writeFileSync(
      cfgFile,
      stringify({
        aptly: { rootDir: "aptly" },
        publishDir: "publish",
        signing: { key: fpr, gnupgHome: "gnupg", publicKeyring: "key.gpg" },
        upstreams: [{ name: "test", url: `${www.url}/upstream`, distribution: UPSTREAM_SUITE, keyrings: ["key.gpg"] }],
        advisories: [
          { format: "smith", path: "advisories.yaml" },
          { format: "dsa-list", path: "dla.list", release: "bookworm", defaultSeverity: "medium" },
        ],
        mirrors: [
          { name: "a", type: "directory", path: "www/a" },
          { name: "b", type: "directory", path: "www/b" },
          { name: "c", type: "directory", path: "www/c" },
          ...(s3 ? [{ name: "s3", type: "s3", bucket: BUCKET, endpoint: s3.url }] : []),
        ],
        retention: { keep: 1, rolloutWindowDays: 0, stacks: [] },
      }),
    );
    cfg = loadBuildsConfig(cfgFile);
    up = new Aptly({ rootDir: path.join(dir, "upstream-aptly"), architectures: ["amd64"], endpoints: { [UPSTREAM_ENDPOINT]: path.join(dir, "www") }, gnupgHome: path.join(dir, "gnupg") });
  });

  after(async function () {
    if (times.length) console.log(`      times: ${times.join("; ")}`);
    await www?.stop();
    await s3?.stop();
    if (dir) {
      spawnSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: path.join(dir, "gnupg") } });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("makes build 1 and build 2 from the upstream, signed, labelled, with an exact manifest diff", async () => {
    await publishUpstreamState(up, upstreamDebs(1), 1, fpr, true);
    const t1 = Date.now();
    const b1 = await runBuild(cfg);
    times.push(`build 1 ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    expect(b1.number).to.equal(1);
    expect(b1.manifest.previous).to.equal(null);
    expect(b1.manifest.diff.added.map((a) => `${a.name}=${a.version}`)).to.deep.equal(["smith-demo-conf=1.0", "smith-demo-kernel=1.0", "smith-demo-svc=1.0", "smith-test-old=0.9"]);
    // Fixed in exactly 1.0: its first-seen date is the advisory's, earlier than smith's sighting.
    expect(b1.manifest.diff.added[1]).to.deep.include({ firstSeen: "2026-11-01T00:00:00Z", advisories: [{ id: "DSA-9002-1", severity: "low", published: "2026-11-01T00:00:00Z" }] });

    await publishUpstreamState(up, upstreamDebs(2), 2, fpr, false);
    const before = new Date();
    const t2 = Date.now();
    const b2 = await runBuild(cfg);
    times.push(`build 2 ${((Date.now() - t2) / 1000).toFixed(1)} s`);
    expect(b2.number).to.equal(2);
    const m = b2.manifest;
    expect(m.previous).to.equal("1");
    expect(m.release).to.deep.include({ origin: "smith", label: "smith-build-2", suite: "smith" });
    const confSeen = m.diff.upgraded.find((u) => u.name === "smith-demo-conf")!.firstSeen;
    expect(Date.parse(confSeen)).to.be.at.least(Math.floor(before.getTime() / 1000) * 1000 - 60_000);
    expect(m.diff).to.deep.equal({
      added: [{ name: "smith-test-new", version: "2.0", firstSeen: "2026-11-21T00:00:00Z", advisories: [{ id: "DSA-9003-1", severity: "critical", published: "2026-11-21T00:00:00Z" }] }],
      upgraded: [
        { name: "smith-demo-conf", from: "1.0", to: "1.1", firstSeen: confSeen, advisories: [] },
        { name: "smith-demo-kernel", from: "1.0", to: "1.1", firstSeen: "2026-11-20T00:00:00Z", advisories: [{ id: "DSA-9001-1", severity: "high", published: "2026-11-20T00:00:00Z" }] },
        { name: "smith-demo-svc", from: "1.0", to: "1.1", firstSeen: "2026-11-22T00:00:00Z", advisories: [{ id: "DLA-4000-1", severity: "medium", published: "2026-11-22T00:00:00Z" }] },
      ],
      removed: [{ name: "smith-test-old", version: "0.9" }],
    });
    const deb = path.join(cfg.publishDir, "builds", "2", m.packages[0]!.filename);
    expect(execFileSync("sha256sum", [deb]).toString().split(" ")[0]).to.equal(m.packages[0]!.sha256);
    const release = parseRelease(fs.readFileSync(path.join(cfg.publishDir, "builds", "2", "dists", "smith", "Release"), "utf8"));
    expect(release.fields).to.deep.include({ Origin: "smith", Label: "smith-build-2", Suite: "smith", Components: "main" });
    // InRelease verifies with the configured key.
    execFileSync("gpgv", ["--keyring", path.join(dir, "key.gpg"), path.join(cfg.publishDir, "builds", "2", "dists", "smith", "InRelease")], { stdio: "ignore" });
  });

  it("never overwrites a build, and names the one that exists", () => {
    const r = smith(["build", "--config", cfgFile, "--number", "2"]);
    expect(r.code).to.equal(2);
    expect(r.stderr.trim().split("\n").pop()).to.match(/^smith: build 2 already exists \(.*publish\/builds\/2\); builds are never overwritten/);
  });

  it("refuses a bad config in one line naming file, field and value; nothing runs", () => {
    const bad = path.join(dir, "bad.yaml");
    fs.writeFileSync(bad, fs.readFileSync(cfgFile, "utf8").replace(/type: directory\n    path: www\/b/, "type: ftp\n    path: www/b"));
    const r = smith(["build", "--config", bad]);
    expect(r.code).to.equal(2);
    expect(r.stderr.trim()).to.match(new RegExp(`^smith: ${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: mirrors\\[1\\]\\.type: .*\\(got "ftp"\\)$`));
    expect(fs.existsSync(path.join(cfg.publishDir, "builds", "3"))).to.equal(false);
    fs.writeFileSync(bad, fs.readFileSync(cfgFile, "utf8").replace(fpr, "DEADBEEFDEADBEEF"));
    const k = smith(["build", "--config", bad]);
    expect([k.code, k.stderr.trim()]).to.deep.equal([2, `smith: ${bad}: signing.key: no secret key "DEADBEEFDEADBEEF" in ${path.join(dir, "gnupg")}`]);
    expect(fs.existsSync(path.join(cfg.publishDir, "builds", "3"))).to.equal(false);
  });

  it("syncs build 2 to every mirror (two directories and S3) and verify passes", async () => {
    const t = Date.now();
    const r = smith(["sync", "--config", cfgFile, "--build", "2"]);
    times.push(`sync build 2 to ${cfg.mirrors.length} mirrors ${((Date.now() - t) / 1000).toFixed(1)} s (CLI, incl. start-up)`);
    expect(r.code, r.stderr).to.equal(0);
    for (const m of cfg.mirrors) expect(r.stdout).to.match(new RegExp(`│ ${m.name} +│[^\\n]*│ ok `));
    const v = smith(["verify", "--config", cfgFile, "--build", "2", "--pool"]);
    expect(v.code, v.stderr).to.equal(0);
    // Again: everything is there already, nothing is sent.
    const again = await syncBuild(cfg, 2);
    expect(again.map((x) => [x.mirror, x.ok, x.uploaded])).to.deep.equal(cfg.mirrors.map((m) => [m.name, true, 0]));
  });

  it("verify names the mirror and the file that is corrupt, and only those", async () => {
    const file = path.join(dir, "www", "b", "builds", "2", "dists", "smith", "main", "binary-amd64", "Packages.gz");
    const good = fs.readFileSync(file);
    fs.writeFileSync(file, Buffer.concat([good, Buffer.from("x")]));
    try {
        const v = smith(["verify", "--config", cfgFile, "--build", "2"]);
        expect(v.code).to.equal(1);
        const bad = v.stderr.split("\n").filter((l) => l.startsWith("smith: verify: mirror "));
        expect(bad).to.have.length(1);
        expect(bad[0]).to.match(/^smith: verify: mirror b: builds\/2\/dists\/smith\/main\/binary-amd64\/Packages\.gz: sha256 /);
        expect(v.stderr).to.include("build 2 is bad on b\n");
        // The other mirrors are untouched.
        const results = await verifyBuild(cfg, 2, { only: ["a"] });
        expect(results[0]!.bad).to.deep.equal([]);
    } finally {
      fs.writeFileSync(file, good);
    }
    expect((await verifyBuild(cfg, 2)).flatMap((r) => r.bad)).to.deep.equal([]);
  });

  for (const name of ["c", "s3"]) {
    it(`a sync killed half-way never leaves a Release that mismatches its indexes; the next sync completes it (mirror ${name})`, async function () {
      const m = cfg.mirrors.find((x) => x.name === name);
      if (!m) return this.skip(); // no moto_server: said in before()
      const t = targetFor(m);
      const child = spawn(process.execPath, [SMITH, "sync", "--config", cfgFile, "--build", "1", "--mirror", name], {
        env: { ...process.env, SMITH_SYNC_TEST_DELAY_MS: "400" },
        stdio: "ignore",
      });
      const count = async () => (await t.list("builds/1/")).length;
      const deadline = Date.now() + 120_000;
      while ((await count()) < 6 && Date.now() < deadline) await sleep(50);
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      expect(await count()).to.be.within(6, 12);
      // What a client would fetch: no Release at all, or one whose every index matches.
      const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
      const consistent = async () => {
        const rel = await t.read("builds/1/dists/smith/Release");
        if (!rel) return "no Release";
        for (const e of parseRelease(rel.toString("utf8")).sha256) {
          if (!fs.existsSync(path.join(cfg.publishDir, "builds", "1", "dists", "smith", e.path))) continue;
          const f = await t.read(`builds/1/dists/smith/${e.path}`);
          if (!f || sha(f) !== e.sha256) return `mismatch ${e.path}`;
        }
        return "consistent";
      };
      expect(await consistent()).to.equal("no Release");
      expect(await t.read("builds/1/dists/smith/InRelease")).to.equal(null);
      const r = smith(["sync", "--config", cfgFile, "--build", "1", "--mirror", name]);
      expect(r.code, r.stderr).to.equal(0);
      expect(await consistent()).to.equal("consistent");
      expect((await verifyBuild(cfg, 1, { only: [name], pool: true }))[0]!.bad).to.deep.equal([]);
    });
  }

  it("fails a mirror clearly by name after its retries, and the others still sync", async () => {
    const blocker = path.join(dir, "www", "blocked");
    fs.writeFileSync(blocker, "a file where the mirror's directory should be\n");
    const broken: BuildsConfig = { ...cfg, mirrors: [...cfg.mirrors.filter((m) => m.name === "a"), { name: "broken", type: "directory", path: blocker }] };
    const results = await syncBuild(broken, 1, { retry: { attempts: 2, backoffMs: 10 } });
    expect(results.find((r) => r.mirror === "a")).to.deep.include({ ok: true });
    const bad = results.find((r) => r.mirror === "broken")!;
    expect(bad).to.deep.include({ ok: false, attempts: 2 });
    expect(bad.error).to.match(/ENOTDIR/);
  });

  it("serialises smith's aptly calls: two builds at once get distinct numbers", async () => {
    const lines: string[] = [];
    const [x, y] = await Promise.all([runBuild(cfg, { log: (l) => lines.push(l) }), runBuild(cfg, { log: (l) => lines.push(l) })]);
    expect([x.number, y.number].sort()).to.deep.equal([3, 4]);
    expect(lines.some((l) => /^waiting for smith pid \d+ \(build\) to release .*smith\.lock$/.test(l))).to.equal(true);
  });

  it("says clearly when another aptly holds aptly's database lock", async () => {
    const aptly = new Aptly({ rootDir: cfg.aptly.rootDir, architectures: ["amd64"], endpoints: {}, dbOpenAttempts: 1 });
    // Its own process group: the lock lives as long as `sleep` (which inherits flock's descriptor).
    const holder = spawn("flock", ["-x", path.join(cfg.aptly.rootDir, "db", "LOCK"), "sleep", "60"], { stdio: "ignore", detached: true });
    await sleep(300);
    try {
      const err = await aptly.run(["snapshot", "list", "-raw"]).then(() => null, (e: Error) => e);
      expect(err?.name).to.equal("UserError");
      expect(err?.message).to.match(/^aptly's database .*\/aptly\/db is locked by another aptly \(pid \d+: (flock -x|sleep 60)/);
    } finally {
      process.kill(-holder.pid!, "SIGTERM");
    }
  });

  it("retention keeps the newest build and one a stack's nodes still use; drops the rest everywhere", async function () {
    const why = pulumiUnavailableReason();
    if (why) {
      console.log(`      skipping: ${why}`);
      this.skip();
    }
    const project = createTempProject("smith-retention", `export const nodes = { "m-1": { build: "2", rebooted: false }, "m-2": { build: "2", rebooted: true } };\nexport const build = "2";\n`);
    try {
      await pulumiOk(["stack", "init", "lab-retention"], { cwd: project.dir, env: project.env });
      await pulumiOk(["up", "--yes", "--skip-preview", "-s", "lab-retention"], { cwd: project.dir, env: project.env });
      const reader = pulumiStackReader({ repoRoot: REPO_ROOT, cwd: project.dir, env: project.env });
      expect(await reader("lab-retention")).to.deep.equal(["2"]);
      const withStacks: BuildsConfig = { ...cfg, retention: { keep: 1, rolloutWindowDays: 0, stacks: ["lab-retention"] } };
      await syncBuild(withStacks, 4);
      const d = await runRetention(withStacks, { repoRoot: REPO_ROOT, reader });
      expect(d.map((x) => [x.build, x.keep, x.reasons.join("; ")])).to.deep.equal([
        [1, false, "older than 0 days, not in use"],
        [2, true, "in use by lab-retention"],
        [3, false, "older than 0 days, not in use"],
        [4, true, "newest 1"],
      ]);
      for (const m of ["a", "b", "c"]) {
        expect(fs.existsSync(path.join(dir, "www", m, "builds", "1")), `mirror ${m} build 1`).to.equal(false);
        expect(fs.existsSync(path.join(dir, "www", m, "builds", "2", "dists", "smith", "InRelease")), `mirror ${m} build 2`).to.equal(true);
      }
      expect(fs.existsSync(path.join(cfg.publishDir, "builds", "1"))).to.equal(false);
      const snaps = (await new Aptly({ rootDir: cfg.aptly.rootDir, architectures: ["amd64"], endpoints: {} }).run(["snapshot", "list", "-raw"])).stdout;
      expect(snaps.split("\n").filter((s) => /^build-\d+$/.test(s))).to.deep.equal(["build-2", "build-4"]);
      expect((await verifyBuild(cfg, 2, { pool: true })).flatMap((r) => r.bad)).to.deep.equal([]);
      if (s3) {
        const bucket = targetFor(cfg.mirrors.find((m) => m.name === "s3")!);
        expect(await bucket.list("builds/1/")).to.deep.equal([]);
        expect(await bucket.list("builds/2/dists/smith/")).to.include("builds/2/dists/smith/InRelease");
      }
    } finally {
      await pulumiOk(["stack", "rm", "--yes", "--force", "-s", "lab-retention"], { cwd: project.dir, env: project.env }).catch(() => undefined);
      project.remove();
    }
  });

  it("buildsInOutputs reads nodes, build and rollout.build", () => {
    expect(buildsInOutputs({ nodes: { a: { build: "3" }, b: { build: "2" } }, rollout: { build: "4" }, build: "4" })).to.deep.equal(["2", "3", "4"]);
  });

  describe("on the lab", () => {
    before(function () {
      const why = labSkipReason();
      if (why) {
        console.log(`      skipping lab part: ${why}`);
        this.skip();
      }
    });

    it("a lab machine upgrades from the second mirror with signature checking on, and refuses an unknown key", async () => {
      const lab = await ensureLab();
      const files = labBuildFiles((await import("../../src/lab/paths")).labPaths());
      expect(fs.readFileSync(files.config, "utf8")).to.match(/mirror-b/);
      const m = lab.machines[lab.machines.length - 1]!.name;
      const mirrorB = lab.repoUrl.replace(/mirror-a$/, "mirror-b");
      const list = `deb [signed-by=/usr/share/keyrings/smith-lab.gpg] ${mirrorB}/builds/2 smith main`;
      // The machine's own source is put back afterwards: later tests (and the agent's keyring
      // lookup, which matches the lab's repoUrl) rely on it.
      let r = await labExec(m, "cp /etc/apt/sources.list.d/smith.list /root/smith.list.saved");
      expect(r.code, r.stderr).to.equal(0);
      try {
      r = await labExec(m, `grep -r trusted=yes /etc/apt/sources.list.d/ || true; echo '${list}' >/etc/apt/sources.list.d/smith.list && apt-get update 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confold dist-upgrade >/dev/null 2>&1; dpkg-query -W -f='\${Version}\\n' smith-demo-kernel`);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).not.to.include("trusted=yes");
      expect(r.stdout).to.include(`${mirrorB}/builds/2 smith InRelease`);
      expect(r.stdout.trim().split("\n").pop()).to.equal("1.1");
      // This test's build 2 is signed by another key: apt must refuse it.
      r = await labExec(m, `echo 'deb [signed-by=/usr/share/keyrings/smith-lab.gpg] ${www.url}/a/builds/2 smith main' >/etc/apt/sources.list.d/smith.list && apt-get update 2>&1; echo '${list}' >/etc/apt/sources.list.d/smith.list`);
      expect(r.stdout).to.match(/NO_PUBKEY|not signed|signatures couldn't be verified/);
      } finally {
        await labExec(m, "mv /root/smith.list.saved /etc/apt/sources.list.d/smith.list");
      }
    });
  });
});
