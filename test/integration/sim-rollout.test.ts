import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseInventory } from "../../src/inventory/load";
import { planRollout } from "../../src/plan/planner";
import { pulumiEnv } from "../../src/pulumi/env";
import { downSim, statusSim, upSim } from "../../src/sim/control";
import { simPaths } from "../../src/sim/files";
import { loadWaves } from "../../src/waves/load";
import { parseDocument } from "yaml";
import { runTogether } from "../../src/shard/lockstep";
import { automationStepRunner } from "../../src/shard/automation";
import { shardFleet } from "../../src/shard/shard";
import { commandProviderUnavailableReason, pulumiUnavailableReason, REPO_ROOT } from "../support/pulumi";
import { clusterOrderProblems, nodeRunsFromState, nodeWindowsFromEvents, waveLockstepProblems } from "../support/rollout";

/**
 * The real program and engine over a simulated fleet of a few hundred machines (`smith sim`):
 * every machine reaches the build, one machine per cluster at a time (engine events and the
 * machines' own patch times), and a second `up` changes nothing. Timings are short and few
 * machines reboot, so the run is mostly engine work; figures are for `npm run bench -- scale`.
 */
const MACHINES = 200;

/** A sim of the production shape (clusters of 5, 4 regions) with short timings: the run is mostly engine work. */
function startSim(p: ReturnType<typeof simPaths>, stack: string, machines: number, rebootRate: number) {
  return upSim(p, {
    shape: { machines, clusters: machines / 5, regions: 4, layout: "fleet" },
    network: process.env.SMITH_LAB_TEST_NETWORK || "127.0.2",
    behaviour: { patchSeconds: 0.2, rebootSeconds: 1, rebootRate, jitter: 0.5 },
    hostKeys: "machine",
    stack,
    build: BUILD,
    waves: null,
  });
}
const STACK = "lab-simtest";
const BUILD = "2";

describe("sim rollout (real engine, simulated fleet)", function () {
  this.timeout(1_800_000);
  const why = pulumiUnavailableReason() ?? commandProviderUnavailableReason();
  const p = simPaths(REPO_ROOT, path.join(REPO_ROOT, ".smith", "sim-test"));
  // --event-log exists only with PULUMI_DEBUG_COMMANDS set.
  const env = { ...pulumiEnv(REPO_ROOT, process.env, STACK), PULUMI_DEBUG_COMMANDS: "true" };
  const pulumi = (args: string[]) => spawnSync("pulumi", args, { cwd: REPO_ROOT, env, encoding: "utf8", maxBuffer: 1 << 30 });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "smith-sim-rollout-"));

  before(async function () {
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    await downSim(p);
    pulumi(["stack", "rm", "-s", STACK, "--yes", "--force"]);
    const init = pulumi(["stack", "init", STACK]);
    expect(init.status, init.stderr).to.equal(0);
    await startSim(p, STACK, MACHINES, 0.1);
  });

  after(async () => {
    if (why) return;
    await downSim(p);
    pulumi(["stack", "rm", "-s", STACK, "--yes", "--force"]);
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it(`patches all ${MACHINES} machines, one per cluster at a time, and a second up is a no-op`, async () => {
    const events = path.join(scratch, "events.jsonl");
    const up = pulumi(["up", "-s", STACK, "--yes", "--non-interactive", "--skip-preview", "--continue-on-error", "--event-log", events]);
    expect(up.status, up.stdout.slice(-3000) + up.stderr.slice(-2000)).to.equal(0);

    const st = await statusSim(p);
    expect(st.machines.filter((m) => m.build !== BUILD).map((m) => m.name)).to.deep.equal([]);
    const inventory = parseInventory(fs.readFileSync(p.inventory, "utf8"), p.inventory);
    const plan = planRollout(inventory, loadWaves(p.waves), BUILD);
    const exported = JSON.parse(pulumi(["stack", "export", "-s", STACK]).stdout);
    const windows = nodeWindowsFromEvents(fs.readFileSync(events, "utf8"));
    expect(windows.size).to.equal(MACHINES);
    expect(clusterOrderProblems(plan, nodeRunsFromState(exported), BUILD, windows)).to.deep.equal([]);
    // Every machine's own history: exactly one patch, to the build, and it passed health.
    for (const m of st.machines) {
      const patches = m.history.filter((h) => h.what === "patch");
      expect(patches.map((h) => [h.exitCode, h.detail]), m.name).to.deep.equal([[0, BUILD]]);
    }

    const again = pulumi(["up", "-s", STACK, "--yes", "--non-interactive", "--skip-preview"]);
    expect(again.status, again.stderr.slice(-2000)).to.equal(0);
    expect(again.stdout).to.not.match(/\+\s+\d+ created|~\s+\d+ updated|\+-\s+\d+ replaced/);
    const after = await statusSim(p);
    expect(after.machines.every((m) => m.history.filter((h) => h.what === "patch").length === 1)).to.equal(true);
  });
});

/**
 * A fleet split into shard stacks that keep their waves in lockstep through wave barriers
 * (smith:lockstepDir): one `pulumi up` per shard, all at once. No wave starts in any shard
 * before the previous one ended in every shard (engine events of all stacks), one machine per
 * cluster at a time, every machine at the build, and running it again changes nothing.
 */
describe("sim rollout in shard stacks with wave barriers (real engine, simulated fleet)", function () {
  this.timeout(1_800_000);
  const SHARD_MACHINES = 100;
  const BASE = "lab-simshard";
  const why = pulumiUnavailableReason() ?? commandProviderUnavailableReason();
  const p = simPaths(REPO_ROOT, path.join(REPO_ROOT, ".smith", "sim-test-shards"));
  const lockDir = path.join(REPO_ROOT, ".smith", "sim-test-shards-lockstep");
  const env = pulumiEnv(REPO_ROOT, process.env, BASE);
  const pulumi = (args: string[]) => spawnSync("pulumi", args, { cwd: REPO_ROOT, env, encoding: "utf8", maxBuffer: 1 << 30 });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "smith-sim-shards-"));
  let shards: { stack: string; shard: string }[] = [];

  before(async function () {
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    await downSim(p);
    fs.rmSync(lockDir, { recursive: true, force: true });
    await startSim(p, BASE, SHARD_MACHINES, 0.2);
    // Regions of 25 machines, shards of at most 30: one shard stack per region.
    const inventory = parseInventory(fs.readFileSync(p.inventory, "utf8"), p.inventory);
    const base = fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${BASE}.yaml`), "utf8");
    shards = shardFleet(inventory, { size: 30, by: "region" }).map((s) => ({ stack: `${BASE}-${s.name}`, shard: s.name }));
    for (const { stack, shard } of shards) {
      pulumi(["stack", "rm", "-s", stack, "--yes", "--force"]);
      const init = pulumi(["stack", "init", stack]);
      expect(init.status, init.stderr).to.equal(0);
      const doc = parseDocument(base);
      doc.setIn(["config", "smith:shard"], shard);
      doc.setIn(["config", "smith:shardSize"], "30");
      doc.setIn(["config", "smith:lockstepDir"], path.relative(REPO_ROOT, lockDir));
      fs.writeFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), doc.toString());
    }
  });

  after(async () => {
    if (why) return;
    await downSim(p);
    for (const { stack } of shards) pulumi(["stack", "rm", "-s", stack, "--yes", "--force"]);
    fs.rmSync(path.join(REPO_ROOT, `Pulumi.${BASE}.yaml`), { force: true });
    fs.rmSync(lockDir, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it(`patches ${SHARD_MACHINES} machines in 4 shards, waves in lockstep across them, and again is a no-op`, async () => {
    expect(shards.map((s) => s.shard)).to.have.length(4);
    const events = path.join(scratch, "events.jsonl");
    const fd = fs.openSync(events, "w");
    const run = automationStepRunner({ workDir: REPO_ROOT, env: process.env, onEvent: (_s, e) => fs.writeSync(fd, JSON.stringify(e) + "\n") });
    const first = await runTogether({ shards, run: (stack) => run(stack, undefined), dir: lockDir, build: BUILD });
    fs.closeSync(fd);
    expect(first.failed).to.deep.equal([]);

    const st = await statusSim(p);
    expect(st.machines.filter((m) => m.build !== BUILD).map((m) => m.name)).to.deep.equal([]);
    const inventory = parseInventory(fs.readFileSync(p.inventory, "utf8"), p.inventory);
    const plan = planRollout(inventory, loadWaves(p.waves), BUILD);
    const runs = new Map(shards.flatMap(({ stack }) => [...nodeRunsFromState(JSON.parse(pulumi(["stack", "export", "-s", stack]).stdout))]));
    const windows = nodeWindowsFromEvents(fs.readFileSync(events, "utf8"));
    expect(windows.size).to.equal(SHARD_MACHINES);
    expect(clusterOrderProblems(plan, runs, BUILD, windows)).to.deep.equal([]);
    expect(waveLockstepProblems(plan, windows)).to.deep.equal([]);
    // Every shard passed every barrier of the fleet's waves (regions without a canary machine too).
    const barriers = fs.readdirSync(path.join(lockDir, `build-${BUILD}`)).map(decodeURIComponent).sort();
    expect(barriers).to.deep.equal(plan.waves.slice(0, -1).map((w) => w.name).sort());
    for (const wave of barriers) expect(fs.readdirSync(path.join(lockDir, `build-${BUILD}`, encodeURIComponent(wave))).sort()).to.deep.equal(shards.map((s) => `${s.shard}.json`).sort());

    const summaries: string[] = [];
    const quiet = automationStepRunner({ workDir: REPO_ROOT, env: process.env });
    const again = await runTogether({
      shards,
      run: async (stack) => {
        const r = await quiet(stack, undefined);
        summaries.push(r.summary);
        return r;
      },
      dir: lockDir,
      build: BUILD,
    });
    expect(again.failed).to.deep.equal([]);
    for (const s of summaries) expect(s).to.not.match(/create|update|replace|delete/);
    const after = await statusSim(p);
    expect(after.machines.every((m) => m.history.filter((h) => h.what === "patch").length === 1)).to.equal(true);
  });
});
