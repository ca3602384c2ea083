import { expect } from "chai";
import * as path from "path";
import { generateFleet } from "../../src/inventory/generate";
import { runLockstep, lockstepSteps } from "../../src/shard/lockstep";
import { planRollout } from "../../src/plan/planner";
import { selectShard, shardFleet, shardWaves } from "../../src/shard/shard";
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

  it("plans a shard without the canary region: the wave file's waves become optional there", () => {
    const waves = loadWaves(path.join(__dirname, "..", "..", "waves", "production.yaml"));
    const shard = shardFleet(fleet, { size: 2000, by: "region" }).find((s) => s.group === "eu-west")!;
    const noGates = { ...waves, waves: waves.waves.map(({ gate: _g, ...w }) => w) };
    expect(() => planRollout(shard.machines, noGates, "2")).to.throw(/selects no machine/);
    const plan = planRollout(shard.machines, shardWaves(noGates), "2");
    expect(plan.unassigned).to.deep.equal([]);
    expect(plan.waves.find((w) => w.name === "canary")?.clusters ?? []).to.deep.equal([]);
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
