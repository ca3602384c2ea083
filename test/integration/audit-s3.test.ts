/**
 * Audit over a DIY S3 backend: the real engine writes stack `lab-audit-s3` into a real S3 server
 * (moto's, on loopback) with smith's program over a small simulated fleet (`smith sim`, the lab's
 * 5-machine layout), two updates: build 2 everywhere, then build 3 with one machine removed from
 * the inventory. `smith audit` must read every update's checkpoint from the bucket (the removed
 * machine's patch lives only in the first one) and report exactly what the file backend reports
 * for the same files. Also the one-line errors of a bad URL, an unreachable endpoint and a
 * missing bucket.
 */
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { expect } from "chai";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { auditCommand } from "../../cli/commands/audit";
import { checkpointResources } from "../../src/audit/checkpoint";
import { CliHistory } from "../../src/audit/cli-backend";
import { ReportContext } from "../../src/audit/context";
import { nodeSteps, patchEvents } from "../../src/audit/events";
import { FileBackendHistory } from "../../src/audit/file-backend";
import { cliRunner, PulumiRunner } from "../../src/audit/pulumi-cli";
import { S3BackendHistory } from "../../src/audit/s3-backend";
import { historySource } from "../../src/audit/source";
import { sleep } from "../../src/lab/host";
import { s3Client } from "../../src/packages/targets/s3";
import { findPulumi, pulumiEnv } from "../../src/pulumi/env";
import { downSim, upSim } from "../../src/sim/control";
import { simPaths } from "../../src/sim/files";
import { freePort, motoServer, s3Server, Server } from "../support/builds";
import { commandProviderUnavailableReason, createTempProject, pulumiUnavailableReason, REPO_ROOT, runPulumi } from "../support/pulumi";
import { childProcesses } from "../support/smith-cli";

const STACK = "lab-audit-s3";
const BUCKET = "smith-state";
const PREFIX = "fleet/audit";
/** moto accepts any key; the SDK and the CLI only need one to sign with. */
const AWS = { AWS_ACCESS_KEY_ID: "smith-test", AWS_SECRET_ACCESS_KEY: "smith-test", AWS_REGION: "us-east-1" };

function log(msg: string): void {
  console.log(`      ${msg}`);
}

describe("audit over a DIY S3 backend (moto, real engine, simulated fleet)", function () {
  this.timeout(15 * 60_000);
  const why = pulumiUnavailableReason() ?? commandProviderUnavailableReason() ?? (motoServer() ? null : "moto_server missing: run scripts/install-s3-server.sh");
  const sim = simPaths(REPO_ROOT, path.join(REPO_ROOT, ".smith", "sim-audit-s3"));
  const configFile = path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`);
  const saved: Record<string, string | undefined> = {};
  let dir: string;
  let s3: Server;
  let url: string;
  let env: NodeJS.ProcessEnv;
  let machines: string[];
  let removed: string;

  const ctxFor = (backendUrl: string): ReportContext => {
    const runner = cliRunner(REPO_ROOT);
    return { repoRoot: REPO_ROOT, projectDir: REPO_ROOT, runner, history: historySource(REPO_ROOT, REPO_ROOT, runner, { ...process.env, PULUMI_BACKEND_URL: backendUrl }) };
  };
  async function pulumi(args: string[]): Promise<string> {
    const r = await runPulumi(args, { cwd: REPO_ROOT, env, timeoutMs: 10 * 60_000 });
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    return r.stdout;
  }
  const smith = (args: string[], backendUrl: string) =>
    spawnSync(process.execPath, [path.join(REPO_ROOT, "bin", "smith.js"), ...args], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000, env: { ...pulumiEnv(REPO_ROOT), ...AWS, PULUMI_BACKEND_URL: backendUrl } });

  before(async function () {
    if (why) {
      console.log(`      skipping the S3 audit integration test: ${why}`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-audit-s3-"));
    // The in-process S3 client (smith's reader) takes credentials from the standard chain.
    for (const [k, v] of Object.entries(AWS)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    s3 = await s3Server(BUCKET, path.join(dir, "moto.log"));
    // The URL as a Pulumi user writes it for an S3-compatible server (Pulumi 3.248 DIY syntax).
    url = `s3://${BUCKET}/${PREFIX}?endpoint=${s3.url}&s3ForcePathStyle=true&region=us-east-1`;
    env = { ...AWS, PULUMI_BACKEND_URL: url };

    await runPulumi(["stack", "rm", STACK, "--force", "--yes", "--non-interactive"], { cwd: REPO_ROOT, env });
    await downSim(sim);
    await pulumi(["stack", "init", STACK, "--no-select", "--non-interactive"]);
    // The test machine first, then the rest: an update killed once the first wave's patch is in
    // the checkpoint still has the second wave to do (see the lock test).
    fs.writeFileSync(path.join(dir, "waves.yaml"), stringify({ waves: [{ name: "test", select: { role: "test" } }, { name: "rest" }] }));
    const t0 = Date.now();
    await upSim(sim, {
      shape: { machines: 5, clusters: 2, regions: 1, layout: "lab" },
      network: process.env.SMITH_LAB_TEST_NETWORK || "127.0.6",
      // Patches slow enough that an update can be killed half-way (one machine per cluster at a time).
      behaviour: { patchSeconds: 1.5, rebootSeconds: 0.5, rebootRate: 1, jitter: 0 },
      hostKeys: "machine",
      stack: STACK,
      build: "2",
      waves: path.join(dir, "waves.yaml"),
    });
    log(`moto and a 5-machine sim up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const inv = parse(fs.readFileSync(sim.inventory, "utf8")) as { machines: { name: string; role?: string }[] };
    machines = inv.machines.map((m) => m.name).sort();
    removed = inv.machines.find((m) => m.role === "worker")?.name ?? machines[machines.length - 1]!;
    fs.writeFileSync(path.join(dir, "inventory-3.yaml"), stringify({ machines: inv.machines.filter((m) => m.name !== removed) }));
  });

  after(async () => {
    if (why) return;
    await downSim(sim);
    fs.rmSync(sim.dir, { recursive: true, force: true });
    await runPulumi(["stack", "rm", STACK, "--force", "--yes", "--non-interactive"], { cwd: REPO_ROOT, env }).catch(() => undefined);
    fs.rmSync(configFile, { force: true });
    await s3?.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("two updates into the bucket: build 2 everywhere, then build 3 with one machine removed", async () => {
    let t0 = Date.now();
    await pulumi(["up", "-s", STACK, "--yes", "--skip-preview", "--non-interactive"]);
    log(`up to build 2 (S3 backend): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await pulumi(["config", "set", "-s", STACK, "smith:build", "3"]);
    await pulumi(["config", "set", "-s", STACK, "smith:inventory", path.join(dir, "inventory-3.yaml")]);
    t0 = Date.now();
    await pulumi(["up", "-s", STACK, "--yes", "--skip-preview", "--non-interactive"]);
    log(`up to build 3 without ${removed}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  it("the CLI wrote the file backend's layout under the URL's path", async () => {
    const keys = (await listBucket()).map((k) => k.replace(/-\d+\./, "-N."));
    expect(keys).to.include.members([
      `${PREFIX}/.pulumi/meta.yaml`,
      `${PREFIX}/.pulumi/stacks/smith/${STACK}.json`,
      `${PREFIX}/.pulumi/history/smith/${STACK}/${STACK}-N.history.json`,
      `${PREFIX}/.pulumi/history/smith/${STACK}/${STACK}-N.checkpoint.json`,
    ]);
  });

  it("smith audit on s3:// lists both updates' events, the removed machine's too", async () => {
    const json = JSON.parse(await auditCommand(ctxFor(url), { stack: [STACK], format: "json" })) as {
      sources: { source: string }[];
      updates: { id: string; build: string; result: string }[];
      events: { machine: string; build: string; updateId: string; packages: unknown[] }[];
      current: Record<string, string[]>;
    };
    expect(json.sources[0]!.source).to.equal(`s3://${BUCKET}/${PREFIX} (endpoint ${s3.url})`);
    expect(json.updates.map((u) => [u.build, u.result])).to.deep.equal([
      ["2", "succeeded"],
      ["3", "succeeded"],
    ]);
    for (const m of machines) {
      const want = m === removed ? ["2"] : ["2", "3"];
      expect(json.events.filter((e) => e.machine === m).map((e) => e.build), m).to.deep.equal(want);
    }
    const ids = json.updates.map((u) => u.id);
    expect(json.events.filter((e) => e.build === "2").every((e) => e.updateId === ids[0])).to.equal(true);
    expect(json.events.filter((e) => e.build === "3").every((e) => e.updateId === ids[1])).to.equal(true);
    expect(json.events.every((e) => e.packages.length > 0)).to.equal(true);
    expect(json.current[STACK]).to.not.include(removed);
    try {
      await auditCommand(ctxFor(url), { stack: ["lab-nope"], format: "json" });
      expect.fail("no error");
    } catch (e) {
      expect((e as Error).message).to.equal(`--stack lab-nope: no such stack of project smith in s3://${BUCKET}/${PREFIX} (endpoint ${s3.url}) (stacks: ${STACK})`);
    }

    // What the CLI path alone gives on this backend: no checkpoint per update, so the removed
    // machine's only patch is lost (the gap this reader closes).
    const viaCli = await new CliHistory(envRunner(), url).read(STACK);
    expect(viaCli.updates).to.have.length(2);
    expect(patchEvents(viaCli).map((e) => e.machine)).to.not.include(removed);
  });

  it("reports exactly what the file backend reports for the same files", async () => {
    const copy = path.join(dir, "state-copy");
    const client = s3Client({ region: "us-east-1", endpoint: s3.url, forcePathStyle: true });
    for (const key of await listBucket()) {
      const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      const file = path.join(copy, key.slice(PREFIX.length + 1));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, Buffer.from(await r.Body!.transformToByteArray()));
    }
    const now = new Date("2026-12-02T12:00:00Z");
    const onS3 = JSON.parse(await auditCommand(ctxFor(url), { stack: [STACK], format: "json" }, now)) as { sources: { source: string }[] };
    const fileCtx = ctxFor(`file://${copy}`);
    expect(fileCtx.history).to.be.instanceOf(FileBackendHistory);
    const onFile = JSON.parse(await auditCommand(fileCtx, { stack: [STACK], format: "json" }, now)) as { sources: { source: string }[] };
    expect(onFile.sources[0]!.source).to.equal(`file://${copy}`);
    for (const r of [onS3, onFile]) r.sources[0]!.source = "-";
    expect(onS3).to.deep.equal(onFile);
  });

  it("the CLI prints the evidence summary from s3:// with the removed machine", () => {
    const r = smith(["audit", "--stack", STACK, "--format", "markdown"], url);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`\`${removed}\` (removed)`);
    expect(r.stdout).to.include(`${STACK}: s3://${BUCKET}/${PREFIX}`);
  });

  it("names the OS user from the stack's lock for the patches of an update that was killed", async () => {
    // build 4; killed (with its plugins: its own process group) as soon as the first wave's patch
    // is in the bucket's current checkpoint, while the second wave has not started.
    await pulumi(["config", "set", "-s", STACK, "smith:build", "4"]);
    const child = spawn(findPulumi(REPO_ROOT)!, ["up", "-s", STACK, "--yes", "--skip-preview", "--non-interactive"], {
      cwd: REPO_ROOT,
      env: { ...pulumiEnv(REPO_ROOT, process.env, STACK), ...env },
      stdio: "ignore",
      detached: true,
    });
    const exited = new Promise((r) => child.once("exit", r));
    const client = s3Client({ region: "us-east-1", endpoint: s3.url, forcePathStyle: true });
    let patched: string[] = [];
    try {
      while (patched.length === 0) {
        if (child.exitCode !== null) throw new Error(`pulumi up finished (exit ${child.exitCode}) before it could be killed`);
        await sleep(100);
        const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/.pulumi/stacks/smith/${STACK}.json` }));
        const steps = nodeSteps(checkpointResources(JSON.parse(await r.Body!.transformToString())) ?? []);
        patched = [...steps].filter(([, st]) => st.patch?.build === "4").map(([m]) => m);
      }
    } finally {
      // The CLI's plugins run in process groups of their own: kill the whole tree, by pid.
      const tree = descendants(child.pid!);
      process.kill(-child.pid!, "SIGKILL");
      for (const pid of tree) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone with the CLI
        }
      }
      await exited;
    }
    const json = JSON.parse(await auditCommand(ctxFor(url), { stack: [STACK], format: "json" })) as { updates: unknown[]; events: { machine: string; build: string; updateId: string; ranBy: string }[] };
    expect(json.updates, "a killed update leaves no history entry").to.have.length(2);
    const four = json.events.filter((e) => e.build === "4");
    expect(four.map((e) => e.machine)).to.include.members(patched);
    for (const e of four) {
      expect(e.updateId).to.equal("current");
      expect(e.ranBy).to.match(new RegExp(`^${os.userInfo().username}@${os.hostname()} \\(lock of an unfinished update, pid ${child.pid}, since \\d{4}-.*Z\\)$`));
    }
    log(`killed after ${four.length} build-4 patch(es); ranBy: ${four[0]!.ranBy}`);
    await pulumi(["cancel", "-s", STACK, "--yes"]);
    const after = JSON.parse(await auditCommand(ctxFor(url), { stack: [STACK], format: "json" })) as { events: { build: string; ranBy: string }[] };
    expect(after.events.filter((e) => e.build === "4").map((e) => e.ranBy)).to.deep.equal(four.map(() => "-"));
  });

  it("reads history the CLI compressed (PULUMI_DIY_BACKEND_GZIP, then _ZSTD) from the bucket", async () => {
    const project = createTempProject("smith-compressed", "export const at = new Date().toISOString();\n");
    try {
      const u = `s3://${BUCKET}/compressed?endpoint=${s3.url}&s3ForcePathStyle=true&region=us-east-1`;
      const run = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
        const r = await runPulumi(args, { cwd: project.dir, env: { ...project.env, ...AWS, PULUMI_BACKEND_URL: u, ...extra } });
        if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")}: ${r.stderr.slice(-2000)}`);
      };
      await run(["stack", "init", "dev", "--non-interactive"]);
      await run(["config", "set", "-s", "dev", "smith:build", "2"]);
      await run(["up", "-s", "dev", "--yes", "--skip-preview", "--non-interactive"], { PULUMI_DIY_BACKEND_GZIP: "true" });
      await run(["config", "set", "-s", "dev", "smith:build", "3"]);
      await run(["up", "-s", "dev", "--yes", "--skip-preview", "--non-interactive"], { PULUMI_DIY_BACKEND_ZSTD: "true" });
      const keys = (await listBucket("compressed/")).filter((k) => k.includes("/history/")).map((k) => k.replace(/.*-\d+\./, ""));
      expect(keys.sort()).to.deep.equal(["checkpoint.json.gz", "checkpoint.json.zst", "history.json.gz", "history.json.zst"]);
      const r = await new S3BackendHistory(u, "smith-compressed").read("dev");
      expect(r.updates.map((x) => [x.build, x.result, (x.resources ?? []).some((res) => res.type === "pulumi:pulumi:Stack")])).to.deep.equal([
        ["2", "succeeded", true],
        ["3", "succeeded", true],
      ]);
      expect(r.current.some((res) => res.type === "pulumi:pulumi:Stack")).to.equal(true);
    } finally {
      project.remove();
    }
  });

  it("a bad URL, an unreachable endpoint or a missing bucket: one line naming the backend, exit 2", async () => {
    const closed = await freePort();
    const cases: [string, RegExp][] = [
      [`s3://${BUCKET}?endpoint=${s3.url}&s3ForcePathStyle=maybe`, /^smith: backend s3:\/\/smith-state: invalid value for query parameter "s3ForcePathStyle": "maybe" \(true or false\)$/],
      [`s3://${BUCKET}?endpoint=${s3.url}&bogus=1`, /^smith: backend s3:\/\/smith-state: unknown query parameter "bogus" \(the pulumi CLI refuses it too\)$/],
      [`s3://${BUCKET}?endpoint=http://127.0.0.1:${closed}&s3ForcePathStyle=true&region=us-east-1`, new RegExp(`^smith: backend s3://smith-state \\(endpoint http://127.0.0.1:${closed}\\): listing .*: cannot reach http://127.0.0.1:${closed} \\(ECONNREFUSED.*\\)$`)],
      [`s3://no-such-bucket/x?endpoint=${s3.url}&s3ForcePathStyle=true&region=us-east-1`, /^smith: backend s3:\/\/no-such-bucket\/x \(endpoint .*\): listing x\/\.pulumi\/stacks\/smith\/: bucket no-such-bucket does not exist$/],
    ];
    for (const [u, want] of cases) {
      const r = smith(["audit", "--stack", STACK], u);
      expect(r.status, `${u}: ${r.stderr}`).to.equal(2);
      expect(r.stderr.trim().split("\n"), u).to.have.length(1);
      expect(r.stderr.trim(), u).to.match(want);
    }
  });

  /** Every key under `prefix` in the bucket, with the SDK directly (not smith's reader). */
  async function listBucket(prefix = `${PREFIX}/`): Promise<string[]> {
    const client = s3Client({ region: "us-east-1", endpoint: s3.url, forcePathStyle: true });
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(r.Contents ?? []).map((o) => o.Key!));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  /** Every process below `pid` (children first found, then theirs), from /proc. */
  function descendants(pid: number): number[] {
    const kids = childProcesses(pid, "");
    return [...kids, ...kids.flatMap(descendants)];
  }

  /** The CLI with this test's backend and credentials. */
  function envRunner(): PulumiRunner {
    const inner = cliRunner(REPO_ROOT);
    return { run: (args, opts = {}) => inner.run(args, { ...opts, env: { ...env, ...opts.env } }) };
  }
});
