import { expect } from "chai";
import fc from "fast-check";
import { UserError } from "../../src/errors";
import { generateFleet } from "../../src/inventory/generate";
import type { Machine } from "../../src/inventory/schema";
import { compareNodes } from "../../src/plan/order";
import { planRollout } from "../../src/plan/planner";
import type { Plan } from "../../src/plan/types";
import type { Selector, Wave, WaveFile } from "../../src/waves/schema";
import { compileSelector } from "../../src/waves/select";

const ENVS = ["dev", "prestage", "stgiks", "prod"];
const REGIONS = ["ap-south", "ap-southeast", "eu-west"];
const ROLES = ["master", "worker", "haproxy", "test"];

/** Random fleets: unique names, a handful of clusters, all roles and environments. */
const fleetArb: fc.Arbitrary<Machine[]> = fc
  .array(
    fc.record({
      env: fc.constantFrom(...ENVS),
      region: fc.constantFrom(...REGIONS),
      cluster: fc.integer({ min: 1, max: 12 }),
      role: fc.constantFrom(...ROLES),
      tier: fc.option(fc.constantFrom("gold", "silver"), { nil: undefined }),
    }),
    { minLength: 0, maxLength: 120 },
  )
  .map((rows) =>
    rows.map((r, i) => {
      const cluster = `${r.env}-c${r.cluster}`;
      const name = r.role === "haproxy" ? `${cluster}-haproxy0${(i % 2) + 1}-${i}` : `${cluster}-${r.role}-${i}`;
      const m: Machine = { name, host: `10.0.${i >> 8}.${i & 255}`, environment: r.env, region: r.region, cluster, role: r.role };
      if (r.tier) m.labels = { tier: r.tier };
      return m;
    }),
  );

const matcherArb = (values: string[]) =>
  fc.oneof(
    fc.constantFrom(...values),
    fc.subarray(values, { minLength: 1 }),
    fc.record({ not: fc.constantFrom(...values) }),
    fc.record({ in: fc.subarray(values, { minLength: 1 }), not: fc.constantFrom(...values) }),
  );

const selectorArb: fc.Arbitrary<Selector> = fc.record(
  {
    environment: matcherArb(ENVS),
    region: matcherArb(REGIONS),
    role: matcherArb(ROLES),
    name: matcherArb(["*-haproxy01-*", "*-haproxy0[12]-*", "*-master-*", "*"]),
    labels: fc.record({ tier: matcherArb(["gold", "silver"]) }),
  },
  { requiredKeys: [] },
);

// Every wave is optional: random selectors often select nothing, which is tested separately.
const waveArb = (i: number): fc.Arbitrary<Wave> =>
  fc
    .record(
      {
        select: selectorArb,
        sample: fc.record({ perEnvironment: fc.integer({ min: 1, max: 8 }), always: fc.constant<Selector>({ role: "master" }) }),
        phases: fc.constantFrom<Wave["phases"]>(["10%", "30%", "rest"], ["50%", "rest"], [1, 2, "rest"], ["20%", "20%", "20%", "rest"]),
        concurrency: fc.integer({ min: 1, max: 3 }),
        gate: fc.record({ approval: fc.boolean() }),
      },
      { requiredKeys: [] },
    )
    .map((w) => ({ name: `w${i}`, optional: true, ...w }));

const wavesArb: fc.Arbitrary<WaveFile> = fc
  .record({ n: fc.integer({ min: 1, max: 5 }), scope: fc.option(selectorArb, { nil: undefined }) })
  .chain(({ n, scope }) =>
    fc.tuple(...Array.from({ length: n }, (_, i) => waveArb(i))).map((waves) => ({ source: "w.yaml", waves, ...(scope ? { scope } : {}) })),
  );

const buildArb = fc.integer({ min: 1, max: 1_000_000 }).map(String);

const names = (plan: Plan) => plan.waves.flatMap((w) => w.clusters.flatMap((c) => c.nodes));
const waveOf = (name: string) => name.replace(/\/phase-\d+$/, "");

describe("plan: properties over random fleets", () => {
  it("every machine is planned exactly once or unassigned with a reason", () => {
    fc.assert(
      fc.property(fleetArb, wavesArb, buildArb, (fleet, waves, build) => {
        const plan = planRollout(fleet, waves, build);
        const planned = names(plan);
        const all = [...planned, ...plan.unassigned.map((u) => u.name)];
        expect(all.length).to.equal(fleet.length);
        expect(new Set(all)).to.deep.equal(new Set(fleet.map((m) => m.name)));
        for (const u of plan.unassigned) expect(u.reason).to.be.a("string").and.not.equal("");
      }),
    );
  });

  it("clusters are serial: no cluster twice in a wave, nodes in stable patch order, no empty cluster", () => {
    const byName = (fleet: Machine[]) => new Map(fleet.map((m) => [m.name, m]));
    fc.assert(
      fc.property(fleetArb, wavesArb, buildArb, (fleet, waves, build) => {
        const ms = byName(fleet);
        for (const w of planRollout(fleet, waves, build).waves) {
          const cs = w.clusters.map((c) => c.cluster);
          expect(new Set(cs).size).to.equal(cs.length);
          for (const c of w.clusters) {
            expect(c.nodes.length).to.be.greaterThan(0);
            const nodes = c.nodes.map((n) => ms.get(n)!);
            expect(nodes.every((m) => m.cluster === c.cluster)).to.equal(true);
            expect([...nodes].sort(compareNodes).map((m) => m.name)).to.deep.equal(c.nodes);
          }
        }
      }),
    );
  });

  it("preserves wave order, phases consecutive and numbered", () => {
    fc.assert(
      fc.property(fleetArb, wavesArb, buildArb, (fleet, waves, build) => {
        const plan = planRollout(fleet, waves, build);
        const order = waves.waves.map((w) => w.name);
        const idx = plan.waves.map((w) => order.indexOf(waveOf(w.name)));
        expect(idx.every((i) => i >= 0)).to.equal(true);
        expect([...idx].sort((a, b) => a - b)).to.deep.equal(idx);
        for (const w of plan.waves) {
          if (!w.phase) continue;
          expect(w.name).to.equal(`${w.phase.wave}/phase-${w.phase.index}`);
          const siblings = plan.waves.filter((x) => x.phase?.wave === w.phase!.wave);
          expect(siblings.map((x) => x.phase!.index)).to.deep.equal(Array.from({ length: w.phase.of }, (_, i) => i + 1));
        }
      }),
    );
  });

  it("phases never shrink, are never empty and never share a cluster", () => {
    fc.assert(
      fc.property(fleetArb, wavesArb, buildArb, (fleet, waves, build) => {
        const plan = planRollout(fleet, waves, build);
        for (const wave of waves.waves.filter((w) => w.phases)) {
          const phases = plan.waves.filter((w) => w.phase?.wave === wave.name);
          const sizes = phases.map((p) => p.clusters.length);
          expect(sizes.every((s) => s >= 1)).to.equal(true);
          for (let i = 1; i < sizes.length; i++) expect(sizes[i]).to.be.at.least(sizes[i - 1]);
          const cs = phases.flatMap((p) => p.clusters.map((c) => c.cluster));
          expect(new Set(cs).size).to.equal(cs.length);
        }
      }),
    );
  });

  it("is deterministic per build, whatever the inventory order", () => {
    fc.assert(
      fc.property(fleetArb, wavesArb, buildArb, fc.integer(), (fleet, waves, build, seed) => {
        const shuffled = fc.sample(fc.shuffledSubarray(fleet, { minLength: fleet.length, maxLength: fleet.length }), { seed, numRuns: 1 })[0];
        expect(planRollout(shuffled, waves, build)).to.deep.equal(planRollout(fleet, waves, build));
      }),
    );
  });

  it("samples: every master among the candidates, sizes within bounds", () => {
    fc.assert(
      fc.property(fleetArb, wavesArb, buildArb, (fleet, waves, build) => {
        const plan = planRollout(fleet, waves, build);
        const scope = compileSelector(waves.scope);
        const taken = new Set<string>();
        for (const wave of waves.waves) {
          const select = compileSelector(wave.select);
          const candidates = fleet.filter((m) => scope.test(m) && select.test(m) && !taken.has(m.name));
          const got = new Set(plan.waves.filter((w) => waveOf(w.name) === wave.name).flatMap((w) => w.clusters.flatMap((c) => c.nodes)));
          if (wave.sample) {
            for (const env of new Set(candidates.map((m) => m.environment))) {
              const inEnv = candidates.filter((m) => m.environment === env);
              const masters = inEnv.filter((m) => m.role === "master");
              const picked = inEnv.filter((m) => got.has(m.name));
              for (const m of masters) expect(got.has(m.name)).to.equal(true);
              expect(picked.length).to.equal(Math.min(inEnv.length, Math.max(wave.sample.perEnvironment, masters.length)));
            }
          } else {
            expect(got).to.deep.equal(new Set(candidates.map((m) => m.name)));
          }
          got.forEach((n) => taken.add(n));
        }
      }),
    );
  });

  it("a wave that ends up empty is an error unless optional", () => {
    fc.assert(
      fc.property(fleetArb, wavesArb, buildArb, (fleet, waves, build) => {
        const strict: WaveFile = { ...waves, waves: waves.waves.map((w) => ({ ...w, optional: false })) };
        const lenient = planRollout(fleet, waves, build);
        const present = new Set(lenient.waves.map((w) => waveOf(w.name)));
        const missing = waves.waves.filter((w) => !present.has(w.name));
        if (missing.length === 0) {
          expect(planRollout(fleet, strict, build)).to.deep.equal(lenient);
        } else {
          expect(() => planRollout(fleet, strict, build)).to.throw(UserError, `waves[${waves.waves.indexOf(missing[0])}] (${missing[0].name}): selects no machine`);
        }
      }),
    );
  });

  it("samples change with the build", () => {
    const fleet = generateFleet({ machines: 400, clusters: 12 });
    const waves: WaveFile = { source: "w.yaml", waves: [{ name: "s", sample: { perEnvironment: 40, always: { role: "master" } } }, { name: "rest" }] };
    const sampled = (b: number) => planRollout(fleet, waves, String(b)).waves[0].clusters;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (b) => {
        expect(sampled(b + 1)).not.to.deep.equal(sampled(b));
      }),
    );
  });
});
