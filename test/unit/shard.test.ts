import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { abortBarriers, arrive, BarrierError, clearAbort, markerPath, missingShards, passBarrier, readAbort } from "../../src/shard/barrier";
import { generateFleet } from "../../src/inventory/generate";
import { runLockstep, lockstepSteps, runTogether } from "../../src/shard/lockstep";
import { planRollout } from "../../src/plan/planner";
import { selectShard, shardFleet, shardPlan } from "../../src/shard/shard";
import { applyUntilWave, runsUntil } from "../../src/shard/until-wave";
import { loadWaves } from "../../src/waves/load";

const fleet = generateFleet({ machines: 5000, clusters: 1000, environments: ["prod"], testMachine: false, masters: 3, seed: 3 });

describe("shard: splitting a fleet", () => {
  it("keeps a small fleet in one shard named all", () => {
    const s = shardFleet(fleet.slice(0, 100), { size: 1000, by: "region" });
    expect(s.map((x) => x.name)).to.deep.equal(["all"]);
    expect(s[0]!.machines).to.have.length(100);
  });

  it("splits by region, big regions by cluster hash; every machine in exactly one shard, no cluster split", () => {
    const shards = shardFleet(fleet, { size: 500, by: "region" });
    const seen = new Map<string, string>();
    for (const sh of shards) for (const m of sh.machines) {
      expect(seen.has(m.name), m.name).to.equal(false);
      seen.set(m.name, sh.name);
    }
    expect(seen.size).to.equal(fleet.length);
    const clusterShard = new Map<string, string>();
    for (const m of fleet) {
      const s = seen.get(m.name)!;
      expect(clusterShard.get(m.cluster) ?? s, m.cluster).to.equal(s);
      clusterShard.set(m.cluster, s);
    }
    for (const sh of shards) expect(new Set(sh.machines.map((m) => m.region)).size).to.equal(1);
    expect(shards.length).to.be.at.least(10);
    // Hash shards are balanced on average: none is more than 40% over size here.
    for (const sh of shards) expect(sh.machines.length, sh.name).to.be.at.most(700);
  });

  it("is stable: removing one cluster moves no other cluster", () => {
    const a = shardFleet(fleet, { size: 500, by: "region" });
    const gone = fleet[0]!.cluster;
    const b = shardFleet(fleet.filter((m) => m.cluster !== gone), { size: 500, by: "region" });
    const where = (ss: typeof a) => new Map(ss.flatMap((s) => s.clusters.map((c) => [c, s.name] as const)));
    const wa = where(a);
    for (const [c, s] of where(b)) expect(s, c).to.equal(wa.get(c));
  });

  it("selects a shard by name and names the shards on a typo", () => {
    const name = shardFleet(fleet, { size: 500, by: "region" })[0]!.name;
    expect(selectShard(fleet, { size: 500, by: "region", shard: name }).length).to.be.greaterThan(0);
    expect(() => selectShard(fleet, { size: 500, by: "region", shard: "nope" })).to.throw(/smith:shard: no shard "nope".*shards: /);
  });

  it("plans a shard as its part of the fleet's plan: the fleet's samples and phases, waves it has no machine in left out", () => {
    const waves = loadWaves(path.join(__dirname, "..", "..", "waves", "production.yaml"));
    const fleetPlan = planRollout(fleet, waves, "2");
    const shards = shardFleet(fleet, { size: 2000, by: "region" });
    const shard = shards.find((s) => s.group === "eu-west")!;
    const plan = shardPlan(fleetPlan, shard.machines);
    const names = new Set(shard.machines.map((m) => m.name));
    expect(plan.waves.map((w) => w.name)).to.not.include("canary");
    for (const w of plan.waves) {
      const fw = fleetPlan.waves.find((x) => x.name === w.name)!;
      // Same clusters, same nodes, same order as in the fleet's plan: whole clusters of this shard only.
      expect(w.clusters).to.deep.equal(fw.clusters.filter((c) => names.has(c.nodes[0]!)));
      expect(w.gate).to.deep.equal(fw.gate);
    }
    // Every machine of the fleet plan is in exactly one shard's plan.
    const all = shards.flatMap((s) => shardPlan(fleetPlan, s.machines).waves.flatMap((w) => w.clusters.flatMap((c) => c.nodes)));
    expect(all.length).to.equal(new Set(all).size);
    expect(new Set(all)).to.deep.equal(new Set(fleetPlan.waves.flatMap((w) => w.clusters.flatMap((c) => c.nodes))));
  });

  it("refuses by cell without cell labels, naming the machine", () => {
    expect(() => shardFleet(fleet, { size: 10, by: "cell" })).to.throw(/labels\.cell/);
  });
});

describe("shard: smith:untilWave", () => {
  const order = ["canary", "main", "haproxy01", "haproxy02"];
  it("holds the waves after it, phases included", () => {
    expect(runsUntil("main", "main", order)).to.equal(true);
    expect(runsUntil("haproxy01/phase-1", "main", order)).to.equal(false);
    expect(runsUntil("haproxy01/phase-2", "haproxy01/phase-2", order)).to.equal(true);
    expect(runsUntil("haproxy01/phase-3", "haproxy01/phase-2", order)).to.equal(false);
    expect(runsUntil("haproxy01/phase-3", "haproxy01", order)).to.equal(true);
    const d = applyUntilWave<{ wave: string; held: boolean; reason?: string }>(
      [
        { wave: "canary", held: false },
        { wave: "main", held: false },
        { wave: "haproxy01/phase-1", held: false },
      ],
      "canary",
      order,
    );
    expect(d.map((x) => [x.held, x.reason])).to.deep.equal([
      [false, undefined],
      [true, "untilWave"],
      [true, "untilWave"],
    ]);
  });
  it("refuses a wave the wave file does not have", () => {
    expect(() => runsUntil("main", "mian", order)).to.throw(/smith:untilWave: no wave "mian"/);
  });
});

describe("shard: lockstep", () => {
  it("steps are the production waves with phases expanded", () => {
    const steps = lockstepSteps(loadWaves(path.join(__dirname, "..", "..", "waves", "production.yaml")));
    expect(steps).to.deep.equal(["canary", "main", "haproxy01/phase-1", "haproxy01/phase-2", "haproxy01/phase-3", "haproxy02/phase-1", "haproxy02/phase-2", "haproxy02/phase-3"]);
  });

  it("starts a step in any shard only when the previous one finished in all", async () => {
    const log: string[] = [];
    let inFlight = new Map<string, string>();
    const r = await runLockstep({
      stacks: ["a", "b", "c"],
      steps: ["w1", "w2", "w3"],
      run: async (stack, step) => {
        for (const other of inFlight.values()) expect(other, `${stack} started ${step} while a shard ran ${other}`).to.equal(step);
        inFlight.set(stack, step);
        log.push(`${stack}:${step}:start`);
        await new Promise((res) => setTimeout(res, stack === "b" ? 20 : 1));
        inFlight.delete(stack);
        log.push(`${stack}:${step}:end`);
        return { ok: !(stack === "c" && step === "w2"), summary: "x" };
      },
    });
    expect(r.completed).to.deep.equal(["w1"]);
    expect(r.failed?.step).to.equal("w2");
    expect(r.failed?.stacks.map((s) => s.stack)).to.deep.equal(["c"]);
    expect(log.filter((l) => l.includes("w3"))).to.deep.equal([]);
    inFlight = new Map();
  });
});

describe("shard: wave barriers (src/shard/barrier.ts)", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-barrier-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const spec = (shard: string, wave = "haproxy01/phase-2") => ({ dir, build: "7", wave, shard, shards: ["eu-west", "ap-south", "us-east"] });
  /** A clock that only moves when the barrier sleeps. */
  const clock = () => {
    let t = 0;
    return { now: () => t, sleep: async (ms: number) => void (t += ms) };
  };

  it("passes once every shard arrived; markers are per build and wave", async () => {
    arrive(spec("eu-west"));
    arrive(spec("us-east", "main"));
    expect(missingShards(spec("x"))).to.deep.equal(["ap-south", "us-east"]);
    expect(fs.existsSync(markerPath(dir, "7", "haproxy01/phase-2", "eu-west"))).to.equal(true);
    expect(path.basename(path.dirname(markerPath(dir, "7", "haproxy01/phase-2", "eu-west")))).to.equal("haproxy01%2Fphase-2");
    const c = clock();
    const waits: string[][] = [];
    let late = 0;
    const r = await passBarrier(spec("ap-south"), {
      timeoutMs: 60_000,
      ...c,
      sleep: async (ms) => {
        await c.sleep(ms);
        if (++late === 3) arrive(spec("us-east"));
      },
      onWaiting: (m) => waits.push(m),
    });
    expect(r.waitedMs).to.equal(3000);
    expect(waits).to.deep.equal([["us-east"]]);
    expect(missingShards(spec("x"))).to.deep.equal([]);
    // Another build starts from nothing.
    expect(missingShards({ ...spec("x"), build: "8" })).to.have.length(3);
  });

  it("stops waiting when another shard's update aborted, until the abort is cleared", async () => {
    abortBarriers(dir, "7", "us-east", "pulumi up failed: 1 machine failed");
    const err = await passBarrier(spec("eu-west"), { timeoutMs: 60_000, ...clock() }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(BarrierError);
    expect((err as BarrierError).kind).to.equal("aborted");
    expect((err as Error).message).to.equal("wave haproxy01/phase-2: shard us-east stopped (pulumi up failed: 1 machine failed); not waiting for ap-south, us-east");
    // Its own marker is left: it did finish the wave.
    expect(missingShards(spec("x"))).to.deep.equal(["ap-south", "us-east"]);
    clearAbort(dir, "7");
    expect(readAbort(dir, "7")).to.equal(undefined);
  });

  it("gives up after the timeout, naming the shards that never arrived", async () => {
    const err = await passBarrier(spec("eu-west"), { timeoutMs: 120_000, pollMs: 10_000, ...clock() }).catch((e: unknown) => e);
    expect((err as BarrierError).kind).to.equal("timeout");
    expect((err as Error).message).to.equal("wave haproxy01/phase-2: shard(s) ap-south, us-east did not finish it within 2 min");
  });

  it("refuses a shard that is not one of the fleet's", async () => {
    const err = await passBarrier({ ...spec("nowhere") }, { timeoutMs: 1, ...clock() }).catch((e: unknown) => e);
    expect((err as Error).message).to.match(/shard nowhere is not one of eu-west, ap-south, us-east/);
  });
});

describe("shard: every shard in one update (runTogether)", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-together-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const shards = [
    { stack: "prod-eu-west", shard: "eu-west" },
    { stack: "prod-ap-south", shard: "ap-south" },
  ];

  it("runs all shard stacks at once; a failed one aborts the build's barriers for the others", async () => {
    abortBarriers(dir, "7", "eu-west", "stale abort of an earlier attempt");
    let running = 0;
    let most = 0;
    const seenAbort: (string | undefined)[] = [];
    const r = await runTogether({
      shards,
      dir,
      build: "7",
      run: async (stack) => {
        seenAbort.push(readAbort(dir, "7")?.reason);
        most = Math.max(most, ++running);
        await new Promise((res) => setTimeout(res, 5));
        running--;
        return stack === "prod-ap-south" ? { ok: false, summary: "prod-ap-south: failed (1 machine)" } : { ok: true, summary: "ok" };
      },
    });
    expect(most).to.equal(2);
    expect(seenAbort).to.deep.equal([undefined, undefined]);
    expect(r.failed).to.deep.equal([{ stack: "prod-ap-south", summary: "prod-ap-south: failed (1 machine)" }]);
    expect(readAbort(dir, "7")).to.deep.include({ shard: "ap-south", reason: "prod-ap-south: failed (1 machine)" });
  });
});
