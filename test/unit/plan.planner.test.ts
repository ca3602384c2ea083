import { expect } from "chai";
import { UserError } from "../../src/errors";
import type { Machine } from "../../src/inventory/schema";
import { compareNodes, naturalCompare, sampleKey } from "../../src/plan/order";
import { phaseSizes, planRollout } from "../../src/plan/planner";
import type { Plan } from "../../src/plan/types";
import type { WaveFile } from "../../src/waves/schema";

const mk = (name: string, cluster: string, role = "worker", environment = "prod", region = "ap-southeast", labels?: Record<string, string>): Machine => ({
  name,
  host: "10.0.0.1",
  environment,
  region,
  cluster,
  role,
  ...(labels ? { labels } : {}),
});

const wf = (waves: WaveFile["waves"], scope?: WaveFile["scope"]): WaveFile => ({ source: "w.yaml", waves, ...(scope ? { scope } : {}) });

function layout(plan: Plan): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  for (const w of plan.waves) out[w.name] = Object.fromEntries(w.clusters.map((c) => [c.cluster, c.nodes]));
  return out;
}

function planError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error("expected a UserError");
}

describe("plan: planRollout (table-driven)", () => {
  const fleet: Machine[] = [
    mk("c1-worker-10", "c1"),
    mk("c1-master-1", "c1", "master"),
    mk("c1-worker-2", "c1"),
    mk("c1-haproxy01", "c1", "haproxy"),
    mk("c1-haproxy02", "c1", "haproxy"),
    mk("c10-worker-1", "c10", "worker", "prod", "ap-south"),
    mk("c2-worker-1", "c2", "worker", "prod", "ap-south", { tier: "gold" }),
    mk("d1-test-1", "d1", "test", "dev"),
  ];

  const cases: { what: string; waves: WaveFile; expect: Record<string, Record<string, string[]>>; unassigned?: Plan["unassigned"] }[] = [
    {
      what: "first wave that selects a machine wins; clusters in natural order; workers before masters",
      waves: wf([{ name: "south", select: { region: "ap-south" } }, { name: "all" }], { environment: "prod" }),
      expect: {
        south: { c2: ["c2-worker-1"], c10: ["c10-worker-1"] },
        all: { c1: ["c1-haproxy01", "c1-haproxy02", "c1-worker-2", "c1-worker-10", "c1-master-1"] },
      },
      unassigned: [{ name: "d1-test-1", reason: "environment dev is not in scope of w.yaml" }],
    },
    {
      what: "negation and lists keep haproxy pairs apart",
      waves: wf([
        { name: "main", select: { name: { not: "*-haproxy0[12]" }, role: ["worker", "master"], environment: "prod" } },
        { name: "ha1", select: { name: "*-haproxy01" } },
        { name: "ha2", select: { name: "*-haproxy02" } },
      ]),
      expect: {
        main: { c1: ["c1-worker-2", "c1-worker-10", "c1-master-1"], c2: ["c2-worker-1"], c10: ["c10-worker-1"] },
        ha1: { c1: ["c1-haproxy01"] },
        ha2: { c1: ["c1-haproxy02"] },
      },
      unassigned: [{ name: "d1-test-1", reason: "no wave in w.yaml selects it" }],
    },
    {
      what: "labels select; a scope on labels explains the absent label",
      waves: wf([{ name: "gold", select: { labels: { tier: "gold" } } }], { labels: { tier: { in: ["gold", "silver"] } } }),
      expect: { gold: { c2: ["c2-worker-1"] } },
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const plan = planRollout(fleet, c.waves, "7");
      expect(layout(plan)).to.deep.equal(c.expect);
      expect(plan.build).to.equal("7");
      if (c.unassigned) expect(plan.unassigned).to.deep.equal(c.unassigned);
    });
  }

  it("explains an absent label in the scope reason", () => {
    const plan = planRollout(fleet, cases[2].waves, "7");
    expect(plan.unassigned.find((u) => u.name === "c1-master-1")!.reason).to.equal("label tier (absent) is not in scope of w.yaml");
    expect(plan.unassigned).to.have.length(fleet.length - 1);
  });

  it("maps gates: approval, soak, both, none", () => {
    const plan = planRollout(
      fleet,
      wf([
        { name: "a", select: { cluster: "c1" }, gate: { approval: true } },
        { name: "b", select: { cluster: "c2" }, gate: { soak: { hours: 24, stack: "dev" } } },
        { name: "c", select: { cluster: "c10" }, gate: { approval: true, soak: { hours: 1.5, stack: "stage" } } },
        { name: "d", gate: { approval: false } },
      ]),
      "7",
    );
    expect(plan.waves.map((w) => w.gate)).to.deep.equal([
      { approval: true },
      { approval: false, soak: { hours: 24, stack: "dev" } },
      { approval: true, soak: { hours: 1.5, stack: "stage" } },
      null,
    ]);
  });

  it("sets concurrency on clusters only when above 1", () => {
    const plan = planRollout(fleet, wf([{ name: "a", select: { cluster: "c1" }, concurrency: 2 }, { name: "b", concurrency: 1 }]), "7");
    expect(plan.waves[0].clusters[0]).to.deep.equal({ cluster: "c1", nodes: ["c1-haproxy01", "c1-haproxy02", "c1-worker-2", "c1-worker-10", "c1-master-1"], concurrency: 2 });
    expect(plan.waves[1].clusters.every((c) => !("concurrency" in c))).to.equal(true);
  });

  it("rejects a wave that selects nothing, naming file and wave; lists every empty wave", () => {
    const msg = planError(() =>
      planRollout(fleet, wf([{ name: "all" }, { name: "again" }, { name: "ghost", select: { role: "db" } }]), "7"),
    );
    expect(msg).to.equal(
      "w.yaml: waves[1] (again): selects no machine: the 8 machine(s) its select matches are all taken by earlier waves (set optional: true if that is expected) " +
        "(and 1 more: w.yaml: waves[2] (ghost): selects no machine: its select matches no machine in scope (set optional: true if that is expected))",
    );
  });

  it("allows an empty wave marked optional and leaves it out of the plan", () => {
    const plan = planRollout(fleet, wf([{ name: "ghost", select: { role: "db" }, optional: true }, { name: "all" }]), "7");
    expect(plan.waves.map((w) => w.name)).to.deep.equal(["all"]);
  });

  it("names the wave file from opts.source over waves.source", () => {
    const msg = planError(() => planRollout(fleet, wf([{ name: "ghost", select: { role: "db" } }]), "7", { source: "waves/other.yaml" }));
    expect(msg).to.match(/^waves\/other\.yaml: waves\[0\] \(ghost\)/);
  });

  it("gives the same plan for the same input in any order", () => {
    const waves = wf([{ name: "s", sample: { perEnvironment: 2, always: { role: "master" } } }, { name: "rest" }]);
    const a = planRollout(fleet, waves, "9");
    const b = planRollout([...fleet].reverse(), waves, "9");
    expect(b).to.deep.equal(a);
  });
});

describe("plan: phases", () => {
  const clusters = Array.from({ length: 10 }, (_, i) => `k${i + 1}`);
  const fleet = clusters.flatMap((c) => [mk(`${c}-haproxy01`, c, "haproxy"), mk(`${c}-haproxy02`, c, "haproxy")]);

  it("splits a wave by cluster into named phases; the gate holds the first phase only", () => {
    const plan = planRollout(
      fleet,
      wf([
        { name: "ha1", select: { name: "*-haproxy01" }, phases: ["10%", "30%", "rest"], gate: { approval: true } },
        { name: "ha2", select: { name: "*-haproxy02" }, phases: ["10%", "30%", "rest"] },
      ]),
      "3",
    );
    expect(plan.waves.map((w) => [w.name, w.clusters.map((c) => c.cluster), w.phase, w.gate])).to.deep.equal([
      ["ha1/phase-1", ["k1"], { index: 1, of: 3, wave: "ha1" }, { approval: true }],
      ["ha1/phase-2", ["k2", "k3", "k4"], { index: 2, of: 3, wave: "ha1" }, null],
      ["ha1/phase-3", ["k5", "k6", "k7", "k8", "k9", "k10"], { index: 3, of: 3, wave: "ha1" }, null],
      ["ha2/phase-1", ["k1"], { index: 1, of: 3, wave: "ha2" }, null],
      ["ha2/phase-2", ["k2", "k3", "k4"], { index: 2, of: 3, wave: "ha2" }, null],
      ["ha2/phase-3", ["k5", "k6", "k7", "k8", "k9", "k10"], { index: 3, of: 3, wave: "ha2" }, null],
    ]);
  });

  const sizes: [Parameters<typeof phaseSizes>[0], number, number[]][] = [
    [["10%", "30%", "rest"], 10, [1, 3, 6]],
    [["10%", "30%", "rest"], 8, [1, 2, 5]],
    [["10%", "30%", "rest"], 3, [1, 1, 1]],
    [["10%", "30%", "rest"], 2, [1, 1]],
    [["10%", "30%", "rest"], 1, [1]],
    [["10%", "30%", "rest"], 0, []],
    [["40%", "45%", "rest"], 10, [4, 6]], // rest (1) would shrink: merged into the phase before
    [[1, 3, "rest"], 3, [1, 2]],
    [[1, 3, "rest"], 100, [1, 3, 96]],
    [["1%", "rest"], 1000, [10, 990]],
  ];
  for (const [phases, n, want] of sizes) {
    it(`phaseSizes(${JSON.stringify(phases)}, ${n}) = ${JSON.stringify(want)}`, () => expect(phaseSizes(phases, n)).to.deep.equal(want));
  }
});

describe("plan: samples", () => {
  const fleet: Machine[] = [];
  for (const env of ["dev", "prestage"]) {
    for (const c of ["a", "b", "c"]) {
      const cluster = `${env}-${c}`;
      fleet.push(mk(`${cluster}-master-1`, cluster, "master", env));
      for (let i = 1; i <= 10; i++) fleet.push(mk(`${cluster}-worker-${i}`, cluster, "worker", env));
    }
  }
  const waves = wf([{ name: "sample", sample: { perEnvironment: 5, always: { role: "master" } } }, { name: "rest" }]);
  const sampled = (build: string) => planRollout(fleet, waves, build).waves[0].clusters.flatMap((c) => c.nodes).sort(naturalCompare);

  it("takes N per environment, every master included, the rest chosen by the build", () => {
    const names = sampled("100");
    expect(names).to.have.length(10);
    for (const env of ["dev", "prestage"]) {
      const mine = names.filter((n) => n.startsWith(`${env}-`));
      expect(mine).to.have.length(5);
      expect(mine).to.include.members([`${env}-a-master-1`, `${env}-b-master-1`, `${env}-c-master-1`]);
    }
    expect(sampled("100")).to.deep.equal(names);
    expect(sampled("101")).not.to.deep.equal(names);
  });

  it("keeps every always-machine when they exceed the size", () => {
    const plan = planRollout(fleet, wf([{ name: "s", sample: { perEnvironment: 1, always: { role: "master" } } }, { name: "rest" }]), "5");
    expect(plan.waves[0].clusters.flatMap((c) => c.nodes).every((n) => n.includes("master"))).to.equal(true);
    expect(plan.waves[0].clusters.flatMap((c) => c.nodes)).to.have.length(6);
  });

  it("says why a machine left out of a sample is unassigned", () => {
    const plan = planRollout(fleet, wf([{ name: "sample", sample: { perEnvironment: 5 } }]), "100");
    expect(plan.unassigned).to.have.length(fleet.length - 10);
    expect(plan.unassigned[0].reason).to.equal("not in the sample of wave sample for build 100, and no later wave in w.yaml selects it");
  });

  it("sampleKey is a stable seeded hash", () => {
    expect(sampleKey("1", "a")).to.equal(sampleKey("1", "a"));
    expect(sampleKey("1", "a")).not.to.equal(sampleKey("2", "a"));
    expect(sampleKey("12", "3")).not.to.equal(sampleKey("1", "23"));
  });
});

describe("plan: node order", () => {
  it("natural order: digits compare as numbers, ties broken so the order is total", () => {
    const names = ["w-10", "w-2", "w-01", "w-1", "a", "w-b"];
    expect([...names].sort(naturalCompare)).to.deep.equal(["a", "w-01", "w-1", "w-2", "w-10", "w-b"]);
  });

  it("workers (and every other role) before masters", () => {
    const ms = [mk("m-1", "c", "master"), mk("w-2", "c"), mk("h-1", "c", "haproxy"), mk("cp-1", "c", "control-plane")];
    expect(ms.sort(compareNodes).map((m) => m.name)).to.deep.equal(["h-1", "w-2", "cp-1", "m-1"]);
  });
});
