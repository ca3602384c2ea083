import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { inventoryYaml, PROD_800 } from "../../examples/generate";
import { generateFleet } from "../../src/inventory/generate";
import { loadInventory } from "../../src/inventory/load";
import type { Machine } from "../../src/inventory/schema";
import { DEFAULT_SHAPE, layoutLab } from "../../src/lab/layout";
import { planRollout } from "../../src/plan/planner";
import type { Plan, PlanWave } from "../../src/plan/types";
import { loadWaves } from "../../src/waves/load";

/**
 * The committed runbook (waves/*.yaml) checked against the fleets it is written for: the
 * 800-machine example inventory, a larger generated fleet, and the lab.
 */
const ROOT = path.join(__dirname, "..", "..");
/** Plans with the committed wave file, named in messages as the CLI run from the repo names it. */
const planWith = (machines: Machine[], f: string, build: string) => planRollout(machines, loadWaves(path.join(ROOT, "waves", f)), build, { source: `waves/${f}` });
const nodesOf = (w: PlanWave) => w.clusters.flatMap((c) => c.nodes);
const wavesOf = (plan: Plan, wave: string) => plan.waves.filter((w) => w.name === wave || w.phase?.wave === wave);
const names = (ms: Machine[]) => ms.map((m) => m.name).sort();
const sorted = (xs: string[]) => [...xs].sort();

describe("runbook: examples/prod-800.yaml", () => {
  it("is what examples/generate.ts produces (regenerate with npx ts-node examples/generate.ts)", async () => {
    const file = path.join(ROOT, "examples", "prod-800.yaml");
    const header = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("#")).map((l) => l.slice(1)).join("\n");
    expect(fs.readFileSync(file, "utf8")).to.equal(inventoryYaml(PROD_800, header));
    const fleet = await loadInventory([file]);
    expect(fleet).to.deep.equal(generateFleet(PROD_800));
    expect(fleet).to.have.length(800);
    const prodClusters = new Set(fleet.filter((m) => m.environment === "prod").map((m) => m.cluster));
    expect(prodClusters.size).to.equal(12);
    expect(new Set(fleet.filter((m) => m.environment === "prod" && m.region === "ap-south").map((m) => m.cluster)).size).to.equal(3);
    expect(fleet.filter((m) => m.role === "test").map((m) => m.name)).to.deep.equal(["dev-syd01-test-01"]);
  });
});

for (const [label, fleet] of [
  ["prod-800 example", () => generateFleet(PROD_800)],
  ["3,000-machine fleet", () => generateFleet({ machines: 3000, clusters: 64, seed: 3 })],
] as const) {
  describe(`runbook on the ${label}`, () => {
    let machines: Machine[];
    before(() => (machines = fleet()));

    for (const build of ["1", "42", "1234"]) {
      it(`production.yaml, build ${build}: canary ap-south → approval → rest without haproxy → haproxy01 then haproxy02 in growing phases`, () => {
        const plan = planWith(machines, "production.yaml", build);
        const prod = machines.filter((m) => m.environment === "prod");
        const [canary, main] = plan.waves;
        expect(canary.name).to.equal("canary");
        expect(canary.gate).to.deep.equal({ approval: false, soak: { hours: 24, stack: "dev" } });
        expect(sorted(nodesOf(canary))).to.deep.equal(names(prod.filter((m) => m.region === "ap-south")));
        expect(main.name).to.equal("main");
        expect(main.gate).to.deep.equal({ approval: true });
        expect(sorted(nodesOf(main))).to.deep.equal(names(prod.filter((m) => m.region !== "ap-south" && m.role !== "haproxy")));

        const outside = prod.filter((m) => m.region !== "ap-south");
        for (const [i, ha] of (["haproxy01", "haproxy02"] as const).entries()) {
          const phases = wavesOf(plan, ha);
          expect(phases.map((w) => w.name)).to.deep.equal([`${ha}/phase-1`, `${ha}/phase-2`, `${ha}/phase-3`]);
          const sizes = phases.map((w) => w.clusters.length);
          expect(sizes[0]).to.be.lessThan(sizes[1]);
          expect(sizes[1]).to.be.lessThan(sizes[2]);
          for (let p = 1; p < sizes.length; p++) expect(sizes[p]).to.be.at.least(sizes[p - 1]);
          expect(sorted(phases.flatMap(nodesOf))).to.deep.equal(names(outside.filter((m) => m.name.endsWith(`-${ha}`))));
          expect(phases.every((w) => w.clusters.every((c) => c.nodes.length === 1))).to.equal(true);
          expect(plan.waves.indexOf(phases[0])).to.equal(2 + 3 * i);
        }
        // A haproxy pair is never down together: both only ever share a wave inside one cluster's serial chain.
        for (const w of plan.waves) {
          const ha = nodesOf(w).filter((n) => /-haproxy0[12]$/.test(n));
          for (const n of ha.filter((x) => x.endsWith("01"))) {
            const pair = n.replace(/01$/, "02");
            if (ha.includes(pair)) expect(w.clusters.some((c) => c.nodes.includes(n) && c.nodes.includes(pair))).to.equal(true);
          }
        }
        expect(plan.unassigned.map((u) => u.name).sort()).to.deep.equal(names(machines.filter((m) => m.environment !== "prod")));
        for (const u of plan.unassigned) expect(u.reason).to.match(/^environment (dev|prestage|stgiks) is not in scope of waves\/production\.yaml$/);
      });

      it(`buildTestDevToStage.yaml, build ${build}: test machine alone → 20-30 per environment with every carrier master → the rest`, () => {
        const plan = planWith(machines, "buildTestDevToStage.yaml", build);
        expect(plan.waves.map((w) => w.name)).to.deep.equal(["test", "sample", "rest"]);
        const [test, sample, rest] = plan.waves;
        expect(nodesOf(test)).to.deep.equal(names(machines.filter((m) => m.role === "test")));
        expect(nodesOf(test)).to.have.length(1);
        const preprod = machines.filter((m) => m.environment !== "prod" && m.role !== "test");
        const sampled = new Set(nodesOf(sample));
        for (const env of ["dev", "prestage", "stgiks"]) {
          const inEnv = preprod.filter((m) => m.environment === env);
          const masters = inEnv.filter((m) => m.role === "master" && m.cluster.includes("-carrier"));
          const picked = inEnv.filter((m) => sampled.has(m.name));
          for (const m of masters) expect(sampled.has(m.name), m.name).to.equal(true);
          expect(picked.length).to.equal(Math.max(25, masters.length));
          if (masters.length <= 25) expect(picked.length).to.be.within(20, 30);
        }
        expect(sorted([...nodesOf(sample), ...nodesOf(rest)])).to.deep.equal(names(preprod));
        expect(plan.unassigned.map((u) => u.name).sort()).to.deep.equal(names(machines.filter((m) => m.environment === "prod")));
        expect(plan.unassigned[0].reason).to.equal("environment prod is not in scope of waves/buildTestDevToStage.yaml");
      });
    }
  });
}

describe("runbook: lab.yaml on the lab fleet", () => {
  it("test machine → 2 per environment with masters → the rest; every lab machine planned", () => {
    const lab: Machine[] = layoutLab(DEFAULT_SHAPE);
    expect(lab).to.have.length(24);
    const plan = planWith(lab, "lab.yaml", "7");
    expect(plan.waves.map((w) => w.name)).to.deep.equal(["test", "sample", "rest"]);
    expect(nodesOf(plan.waves[0])).to.deep.equal(names(lab.filter((m) => m.role === "test")));
    const sampled = new Set(nodesOf(plan.waves[1]));
    for (const env of ["dev", "prestage", "stgiks"]) {
      const inEnv = lab.filter((m) => m.environment === env && m.role !== "test");
      const masters = inEnv.filter((m) => m.role === "master");
      expect(inEnv.filter((m) => sampled.has(m.name)).length).to.equal(Math.max(2, masters.length));
      for (const m of masters) expect(sampled.has(m.name)).to.equal(true);
    }
    expect(plan.unassigned).to.deep.equal([]);
    expect(plan.waves.flatMap(nodesOf)).to.have.length(24);
  });
});
