/**
 * What the bucket-backend audit tests (S3 on moto, Azure Blob on azurite) share: a stack whose
 * state the real engine writes into the bucket with smith's program over a 5-machine `smith sim`
 * fleet (the lab's layout), two updates (build 2 everywhere, then build 3 with one machine removed
 * from the inventory), and the assertions every bucket reader must pass: both updates' events,
 * the removed machine's from the first checkpoint, and a report identical to the file backend's
 * over a copy of the same objects.
 */
import { expect } from "chai";
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { auditCommand } from "../../cli/commands/audit";
import { CliHistory } from "../../src/audit/cli-backend";
import { ReportContext } from "../../src/audit/context";
import { patchEvents } from "../../src/audit/events";
import { FileBackendHistory } from "../../src/audit/file-backend";
import { cliRunner, PulumiRunner } from "../../src/audit/pulumi-cli";
import { historySource } from "../../src/audit/source";
import { pulumiEnv } from "../../src/pulumi/env";
import { downSim, upSim } from "../../src/sim/control";
import { SimPaths, simPaths } from "../../src/sim/files";
import { REPO_ROOT, runPulumi } from "./pulumi";

/** A bucket as the test reads it itself (its own SDK client, not smith's reader). */
export interface TestBucket {
  /** Every key under `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  read(key: string): Promise<Buffer>;
}

export interface AuditJson {
  sources: { source: string }[];
  updates: { id: string; build: string; result: string }[];
  events: { machine: string; build: string; updateId: string; packages: unknown[]; ranBy: string }[];
  current: Record<string, string[]>;
}

export function log(msg: string): void {
  console.log(`      ${msg}`);
}

/** The sim fleet and its stack in a bucket backend. `env` holds the backend URL and credentials. */
export class BucketFleet {
  readonly sim: SimPaths;
  readonly configFile: string;
  dir = "";
  machines: string[] = [];
  removed = "";
  private readonly saved: Record<string, string | undefined> = {};

  constructor(
    readonly stack: string,
    /** PULUMI_BACKEND_URL and the credentials both the CLI and smith's reader use. */
    readonly env: NodeJS.ProcessEnv & { PULUMI_BACKEND_URL: string },
    simName: string,
  ) {
    this.sim = simPaths(REPO_ROOT, path.join(REPO_ROOT, ".smith", simName));
    this.configFile = path.join(REPO_ROOT, `Pulumi.${stack}.yaml`);
  }

  get url(): string {
    return this.env.PULUMI_BACKEND_URL;
  }

  /** A scratch directory, before the backend server starts (its log goes there). */
  static scratch(name: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `smith-${name}-`));
  }

  /**
   * A fresh stack in the bucket and the sim fleet at build 2. The credentials go into process.env
   * as well, for the in-process readers (the AWS SDK reads its chain from there).
   */
  async setUp(dir: string): Promise<void> {
    this.dir = dir;
    for (const [k, v] of Object.entries(this.env)) {
      if (k === "PULUMI_BACKEND_URL") continue;
      this.saved[k] = process.env[k];
      process.env[k] = v;
    }
    await runPulumi(["stack", "rm", this.stack, "--force", "--yes", "--non-interactive"], { cwd: REPO_ROOT, env: this.env });
    await downSim(this.sim);
    await this.pulumi(["stack", "init", this.stack, "--no-select", "--non-interactive"]);
    // The test machine first, then the rest: an update killed once the first wave's patch is in
    // the checkpoint still has the second wave to do (the S3 lock test).
    fs.writeFileSync(path.join(dir, "waves.yaml"), stringify({ waves: [{ name: "test", select: { role: "test" } }, { name: "rest" }] }));
    const t0 = Date.now();
    await upSim(this.sim, {
      shape: { machines: 5, clusters: 2, regions: 1, layout: "lab" },
      network: process.env.SMITH_LAB_TEST_NETWORK || "127.0.6",
      // Patches slow enough that an update can be killed half-way (one machine per cluster at a time).
      behaviour: { patchSeconds: 1.5, rebootSeconds: 0.5, rebootRate: 1, jitter: 0 },
      hostKeys: "machine",
      stack: this.stack,
      build: "2",
      waves: path.join(dir, "waves.yaml"),
    });
    log(`a 5-machine sim up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const inv = parse(fs.readFileSync(this.sim.inventory, "utf8")) as { machines: { name: string; role?: string }[] };
    this.machines = inv.machines.map((m) => m.name).sort();
    this.removed = inv.machines.find((m) => m.role === "worker")?.name ?? this.machines[this.machines.length - 1]!;
    fs.writeFileSync(path.join(dir, "inventory-3.yaml"), stringify({ machines: inv.machines.filter((m) => m.name !== this.removed) }));
  }

  /** Sim down, stack removed, process.env restored. The caller stops its server and removes `dir`. */
  async tearDown(): Promise<void> {
    await downSim(this.sim);
    fs.rmSync(this.sim.dir, { recursive: true, force: true });
    await runPulumi(["stack", "rm", this.stack, "--force", "--yes", "--non-interactive"], { cwd: REPO_ROOT, env: this.env }).catch(() => undefined);
    fs.rmSync(this.configFile, { force: true });
    for (const [k, v] of Object.entries(this.saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }

  async pulumi(args: string[]): Promise<string> {
    const r = await runPulumi(args, { cwd: REPO_ROOT, env: this.env, timeoutMs: 10 * 60_000 });
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    return r.stdout;
  }

  /** Build 2 everywhere, then build 3 without `removed`. */
  async twoUpdates(kind: string): Promise<void> {
    let t0 = Date.now();
    await this.pulumi(["up", "-s", this.stack, "--yes", "--skip-preview", "--non-interactive"]);
    log(`up to build 2 (${kind} backend): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await this.pulumi(["config", "set", "-s", this.stack, "smith:build", "3"]);
    await this.pulumi(["config", "set", "-s", this.stack, "smith:inventory", path.join(this.dir, "inventory-3.yaml")]);
    t0 = Date.now();
    await this.pulumi(["up", "-s", this.stack, "--yes", "--skip-preview", "--non-interactive"]);
    log(`up to build 3 without ${this.removed}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }

  /** What `smith audit` reads for `backendUrl`, with this test's credentials. */
  ctxFor(backendUrl: string = this.url): ReportContext {
    const runner = cliRunner(REPO_ROOT);
    return { repoRoot: REPO_ROOT, projectDir: REPO_ROOT, runner, history: historySource(REPO_ROOT, REPO_ROOT, runner, { ...process.env, ...this.env, PULUMI_BACKEND_URL: backendUrl }) };
  }

  async audit(backendUrl: string = this.url, now?: Date): Promise<AuditJson> {
    return JSON.parse(await auditCommand(this.ctxFor(backendUrl), { stack: [this.stack], format: "json" }, now)) as AuditJson;
  }

  /** `smith ARGS` as a process, with this test's credentials and `backendUrl`. */
  smith(args: string[], backendUrl: string = this.url): SpawnSyncReturns<string> {
    return spawnSync(process.execPath, [path.join(REPO_ROOT, "bin", "smith.js"), ...args], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000, env: { ...pulumiEnv(REPO_ROOT), ...this.env, PULUMI_BACKEND_URL: backendUrl } });
  }

  /**
   * `smith audit` on each bad backend URL (with the variables in its third element for that run
   * only) fails with exit 2 and exactly one stderr line matching its pattern.
   */
  expectOneLineErrors(cases: [url: string, want: RegExp, env?: NodeJS.ProcessEnv][]): void {
    for (const [u, want, env] of cases) {
      const saved = Object.fromEntries(Object.keys(env ?? {}).map((k) => [k, this.env[k]]));
      Object.assign(this.env, env);
      try {
        const r = this.smith(["audit", "--stack", this.stack], u);
        expect(r.status, `${u}: ${r.stderr}`).to.equal(2);
        expect(r.stderr.trim().split("\n"), u).to.have.length(1);
        expect(r.stderr.trim(), u).to.match(want);
      } finally {
        Object.assign(this.env, saved);
      }
    }
  }

  /** The CLI with this test's backend and credentials. */
  runner(): PulumiRunner {
    const inner = cliRunner(REPO_ROOT);
    return { run: (args, opts = {}) => inner.run(args, { ...opts, env: { ...this.env, ...opts.env } }) };
  }

  /** The CLI wrote the file backend's layout under the URL's path. */
  async expectLayout(bucket: TestBucket, prefix: string): Promise<void> {
    const keys = (await bucket.list(`${prefix}/`)).map((k) => k.replace(/-\d+\./, "-N."));
    expect(keys).to.include.members([
      `${prefix}/.pulumi/meta.yaml`,
      `${prefix}/.pulumi/stacks/smith/${this.stack}.json`,
      `${prefix}/.pulumi/history/smith/${this.stack}/${this.stack}-N.history.json`,
      `${prefix}/.pulumi/history/smith/${this.stack}/${this.stack}-N.checkpoint.json`,
    ]);
  }

  /**
   * Both updates' events from the bucket, the removed machine's too, with `source` naming the
   * backend; an unknown stack is one line listing the bucket's stacks; and the CLI path alone
   * (no checkpoint per update) misses the removed machine: the gap the bucket reader closes.
   */
  async expectBothUpdates(source: string): Promise<void> {
    const json = await this.audit();
    expect(json.sources[0]!.source).to.equal(source);
    expect(json.updates.map((u) => [u.build, u.result])).to.deep.equal([
      ["2", "succeeded"],
      ["3", "succeeded"],
    ]);
    for (const m of this.machines) {
      const want = m === this.removed ? ["2"] : ["2", "3"];
      expect(json.events.filter((e) => e.machine === m).map((e) => e.build), m).to.deep.equal(want);
    }
    const ids = json.updates.map((u) => u.id);
    expect(json.events.filter((e) => e.build === "2").every((e) => e.updateId === ids[0])).to.equal(true);
    expect(json.events.filter((e) => e.build === "3").every((e) => e.updateId === ids[1])).to.equal(true);
    expect(json.events.every((e) => e.packages.length > 0)).to.equal(true);
    expect(json.current[this.stack]).to.not.include(this.removed);
    try {
      await auditCommand(this.ctxFor(), { stack: ["lab-nope"], format: "json" });
      expect.fail("no error");
    } catch (e) {
      expect((e as Error).message).to.equal(`--stack lab-nope: no such stack of project smith in ${source} (stacks: ${this.stack})`);
    }
    const viaCli = await new CliHistory(this.runner(), this.url).read(this.stack);
    expect(viaCli.updates).to.have.length(2);
    expect(patchEvents(viaCli).map((e) => e.machine)).to.not.include(this.removed);
  }

  /** The bucket's objects under `prefix` copied to a directory: the report over it equals the bucket's. */
  async expectSameAsFileBackend(bucket: TestBucket, prefix: string): Promise<void> {
    const copy = path.join(this.dir, "state-copy");
    for (const key of await bucket.list(`${prefix}/`)) {
      const file = path.join(copy, key.slice(prefix.length + 1));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, await bucket.read(key));
    }
    const now = new Date("2026-12-02T12:00:00Z");
    const onBucket = await this.audit(this.url, now);
    const fileCtx = this.ctxFor(`file://${copy}`);
    expect(fileCtx.history).to.be.instanceOf(FileBackendHistory);
    const onFile = await this.audit(`file://${copy}`, now);
    expect(onFile.sources[0]!.source).to.equal(`file://${copy}`);
    for (const r of [onBucket, onFile]) r.sources[0]!.source = "-";
    expect(onBucket).to.deep.equal(onFile);
  }
}

/** What a bucket backend's suite hands the shared cases once its `before` has run. */
export interface BucketUnderTest {
  fleet: BucketFleet;
  /** The bucket read by the test itself. */
  bucket: TestBucket;
  /** The URL's path (`fleet/audit`). */
  prefix: string;
  /** How smith names the backend in reports (`s3://smith-state/fleet/audit (endpoint …)`). */
  source: string;
}

/**
 * The cases every bucket backend passes, in order: the two updates, the layout the CLI wrote,
 * both updates' events (the removed machine's too), the same report as the file backend's over a
 * copy, and the evidence summary from the smith CLI. `kind` names the backend in titles and logs.
 */
export function itReadsEveryUpdate(kind: string, scheme: string, get: () => BucketUnderTest): void {
  it("two updates into the bucket: build 2 everywhere, then build 3 with one machine removed", () => get().fleet.twoUpdates(kind));

  it("the CLI wrote the file backend's layout under the URL's path", () => get().fleet.expectLayout(get().bucket, get().prefix));

  it(`smith audit on ${scheme}:// lists both updates' events, the removed machine's too`, () => get().fleet.expectBothUpdates(get().source));

  it("reports exactly what the file backend reports for the same objects", () => get().fleet.expectSameAsFileBackend(get().bucket, get().prefix));

  it(`the CLI prints the evidence summary from ${scheme}:// with the removed machine`, () => {
    const { fleet } = get();
    const r = fleet.smith(["audit", "--stack", fleet.stack, "--format", "markdown"]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`\`${fleet.removed}\` (removed)`);
    expect(r.stdout).to.include(`${fleet.stack}: ${get().source.split(" ")[0]}`);
  });
}
