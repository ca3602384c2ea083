import { expect } from "chai";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { rolloutOutput, rolloutWaves } from "../../components/fleet/rollout";
import { haltedFor, parseStackConfig } from "../../src/config/stack-config";
import type { Machine } from "../../src/inventory/schema";
import { layoutLab } from "../../src/lab/layout";
import { budgetProblems, BudgetWatch } from "../../src/pipeline/budget";
import { heldBehindHalts, stageWaves } from "../../src/pipeline/context";
import { errorSummary, translateEngineEvent } from "../../src/pipeline/events";
import { resolveStateDir } from "../../src/pipeline/state-dir";
import { stageGroup } from "../../src/pipeline/stage-groups";
import { parsePipeline } from "../../src/pipeline/load";
import type { Plan } from "../../src/plan/types";

const URN = (m: string, step: string) => `urn:pulumi:lab::smith::smith:fleet:PatchWave$smith:fleet:ClusterRollout$smith:fleet:NodePatch$command:remote:Command::${m}-${step}`;

const plan: Plan = {
  build: "3",
  waves: [
    { name: "one", gate: null, clusters: [{ cluster: "a", nodes: ["a1", "a2"] }, { cluster: "b", nodes: ["b1"] }] },
    { name: "two", gate: { approval: true }, clusters: [{ cluster: "a", nodes: ["a3"] }, { cluster: "c", nodes: ["c1"] }] },
    { name: "h/phase-1", gate: null, clusters: [{ cluster: "c", nodes: ["c2"] }], phase: { index: 1, of: 2, wave: "h" } },
    { name: "h/phase-2", gate: null, clusters: [{ cluster: "d", nodes: ["d1"] }], phase: { index: 2, of: 2, wave: "h" } },
  ],
  unassigned: [],
};

describe("pipeline parts", () => {
  it("engine events: a machine's step start/done/failed and error diagnostics; other resources ignored", () => {
    const pre = { timestamp: 100, sequence: 1, resourcePreEvent: { metadata: { op: "create", urn: URN("m1", "patch"), type: "command:remote:Command" } } } as unknown as EngineEvent;
    expect(translateEngineEvent(pre)).to.deep.equal({ kind: "start", machine: "m1", step: "patch", op: "create", urn: URN("m1", "patch"), at: 100_000 });
    const failed = { timestamp: 101, sequence: 2, resOpFailedEvent: { metadata: { op: "replace", urn: URN("m1", "health"), type: "x" }, status: 1, steps: 1 } } as unknown as EngineEvent;
    expect(translateEngineEvent(failed)).to.deep.include({ kind: "failed", machine: "m1", step: "health" });
    const same = { timestamp: 1, sequence: 3, resourcePreEvent: { metadata: { op: "same", urn: URN("m1", "patch"), type: "x" } } } as unknown as EngineEvent;
    expect(translateEngineEvent(same)).to.equal(undefined);
    const diag = { timestamp: 102, sequence: 4, diagnosticEvent: { urn: URN("m1", "patch"), message: "\u001b[31merror: \u001b[0m{\"error\":\"apt-get failed\",\"exitCode\":5}\n", color: "raw", severity: "error" } } as unknown as EngineEvent;
    expect(translateEngineEvent(diag)).to.deep.include({ kind: "error", machine: "m1", step: "patch", message: 'error: {"error":"apt-get failed","exitCode":5}' });
    expect(errorSummary('error: {"error":"apt-get \\"x\\" failed","exitCode":5}')).to.equal('apt-get "x" failed');
    expect(errorSummary("error: \nProcess exited with status 6")).to.equal("Process exited with status 6");
  });

  it("stage ranges: after the previous stage's wave up to untilWave, phases included; unknown waves named", () => {
    expect(stageWaves(plan, "p.yaml", undefined, "one").map((w) => w.name)).to.deep.equal(["one"]);
    expect(stageWaves(plan, "p.yaml", "one", "h").map((w) => w.name)).to.deep.equal(["two", "h/phase-1", "h/phase-2"]);
    expect(stageWaves(plan, "p.yaml", "h", undefined)).to.deep.equal([]);
    expect(() => stageWaves(plan, "p.yaml", undefined, "nope")).to.throw('p.yaml: untilWave: wave "nope" is not in the stack\'s plan (waves: one, two, h)');
  });

  it("a halted machine holds the rest of its cluster, later waves too; budgets count halted clusters per wave", () => {
    const behind = heldBehindHalts(plan.waves, new Set(["a2"]));
    expect([...behind.keys()]).to.deep.equal(["a2", "a3"]);
    expect(budgetProblems(plan.waves, new Set(["a2", "b1"]), 1)).to.deep.equal(["wave one: 2 of 2 cluster(s) halted (a, b), failure budget 1"]);
    expect(budgetProblems(plan.waves, new Set(["a2"]), 1)).to.deep.equal([]);
    expect(budgetProblems(plan.waves, new Set(["a2"]), "10%")).to.deep.equal(["wave one: 1 of 2 cluster(s) halted (a), failure budget 10% = 0"]);
  });

  it("budget while an update runs: only failures with no retry left count, with the clusters already halted, per wave; trips once", () => {
    const cases: { name: string; halted: string[]; budget: number | string; retries: number; before?: Record<string, number>; fails: string[]; trips: (string | null)[] }[] = [
      { name: "budget 0, no retries: the first failure trips", halted: [], budget: 0, retries: 0, fails: ["a1"], trips: ["wave one: 1 of 2 cluster(s) halted (a), failure budget 0"] },
      { name: "budget 1: the second cluster trips", halted: [], budget: 1, retries: 0, fails: ["a1", "b1"], trips: [null, "wave one: 2 of 2 cluster(s) halted (a, b), failure budget 1"] },
      { name: "two machines of one cluster are one cluster", halted: [], budget: 1, retries: 0, fails: ["a1", "a2"], trips: [null, null] },
      { name: "a failure with a retry left does not count", halted: [], budget: 0, retries: 1, fails: ["a1", "b1"], trips: [null, null] },
      { name: "the last retry counts (attempts from the journal)", halted: [], budget: 0, retries: 1, before: { b1: 1 }, fails: ["a1", "b1"], trips: [null, "wave one: 1 of 2 cluster(s) halted (b), failure budget 0"] },
      { name: "a cluster halted in an earlier update counts", halted: ["a2"], budget: 1, retries: 0, fails: ["b1"], trips: ["wave one: 2 of 2 cluster(s) halted (a, b), failure budget 1"] },
      { name: "per wave: a halt in another wave does not count", halted: ["c1"], budget: 1, retries: 0, fails: ["a1", "b1"], trips: [null, "wave one: 2 of 2 cluster(s) halted (a, b), failure budget 1"] },
      { name: "percentages round down (50% of 2 = 1)", halted: [], budget: "50%", retries: 0, fails: ["a1", "b1"], trips: [null, "wave one: 2 of 2 cluster(s) halted (a, b), failure budget 50% = 1"] },
      { name: "trips once; the same machine twice counts once", halted: [], budget: 0, retries: 0, fails: ["a1", "a1", "b1"], trips: ["wave one: 1 of 2 cluster(s) halted (a), failure budget 0", null, null] },
      { name: "machines outside the stage's waves are ignored", halted: [], budget: 0, retries: 0, fails: ["zz"], trips: [null] },
    ];
    for (const c of cases) {
      const before = c.before ?? {};
      const watch = new BudgetWatch(plan.waves, new Set(c.halted), c.budget, c.retries, (m) => before[m] ?? 0);
      const got = c.fails.map((m) => watch.failed(m)?.join("; ") ?? null);
      expect(got, c.name).to.deep.equal(c.trips);
    }
  });

  it("state dir: --state-dir, else $SMITH_PIPELINE_STATE_DIR, else <repo>/.smith/pipeline; relative to the working directory", () => {
    expect(resolveStateDir(undefined, {}, "/repo", "/cwd")).to.equal("/repo/.smith/pipeline");
    expect(resolveStateDir(undefined, { SMITH_PIPELINE_STATE_DIR: "" }, "/repo", "/cwd")).to.equal("/repo/.smith/pipeline");
    expect(resolveStateDir(undefined, { SMITH_PIPELINE_STATE_DIR: "/var/lib/smith/pipeline" }, "/repo", "/cwd")).to.equal("/var/lib/smith/pipeline");
    expect(resolveStateDir(undefined, { SMITH_PIPELINE_STATE_DIR: "state" }, "/repo", "/cwd")).to.equal("/cwd/state");
    expect(resolveStateDir("/pv/journal", { SMITH_PIPELINE_STATE_DIR: "/ignored" }, "/repo", "/cwd")).to.equal("/pv/journal");
    expect(resolveStateDir("j", {}, "/repo", "/cwd")).to.equal("/cwd/j");
    expect(() => resolveStateDir(" ", {}, "/repo", "/cwd")).to.throw('flag --state-dir: must be a directory (got " ")');
  });

  it("stage groups: consecutive run stages of one stack, not past --until, only with smith:untilWave, never shards", () => {
    const p = parsePipeline(
      ["stages:", "  - { name: a, run: { stacks: [s], untilWave: w1 } }", "  - { name: b, run: { stacks: [s], untilWave: w2 } }", "  - { name: c, run: { stacks: [s] } }", "  - { name: d, approval: { stack: s, wave: w4 } }", "  - { name: e, run: { stacks: [s] } }", "  - { name: f, run: { stacks: [t] } }", "  - { name: g, run: { stacks: [t, u] } }", "  - { name: h, run: { stacks: [t, u] } }", ""].join("\n"),
      "g.yaml",
    );
    const names = (i: number, until?: string, supported = true) => stageGroup(p.stages, i, until, supported).map((s) => s.name).join("");
    expect(names(0)).to.equal("abc"); // the approval ends it
    expect(names(0, "b")).to.equal("ab");
    expect(names(0, "a")).to.equal("a");
    expect(names(0, undefined, false)).to.equal("a");
    expect(names(4)).to.equal("e"); // another stack next
    expect(names(6)).to.equal("g"); // shards go wave by wave in lockstep
  });

  it("the program holds halted clusters the same way (rolloutWaves), and says so in the rollout output", () => {
    const m = (name: string, cluster: string): Machine => ({ name, host: "10.0.0.1", environment: "prod", region: "r", cluster, role: "worker" });
    const machines = new Map(["a1", "a2", "a3", "b1", "c1", "c2", "d1"].map((n) => [n, m(n, n[0]!)]));
    const decisions = plan.waves.map((w) => ({ wave: w.name, held: false }));
    const previous = new Map([["a3", { build: "2", rebooted: true, finishedAt: null, changed: 1 }]]);
    const waves = rolloutWaves(plan, machines, decisions, previous, new Map(), new Set(["a2"]));
    const nodes = (i: number) => waves[i]!.clusters.flatMap((c) => c.nodes.map((n) => `${n.machine.name}@${n.build}${n.frozen ? " frozen" : ""}`));
    expect(nodes(0)).to.deep.equal(["a1@3", "b1@3"]);
    expect(nodes(1)).to.deep.equal(["a3@2 frozen", "c1@3"]);
    expect(rolloutOutput("3", waves, [], ["a2"]).halted).to.deep.equal(["a2"]);
    expect(rolloutOutput("3", waves, [])).to.not.have.property("halted");
  });

  it("stack config: pipeline keys validated, webhook URLs must be secrets, halted entries per build", () => {
    const base = { build: "3", inventory: "i.yaml", waves: "w.yaml", repoUrl: "http://r", sshPrivateKeyPath: "k" };
    const c = parseStackConfig({ values: { ...base, retries: "2", retryBackoffSeconds: "10", failureBudget: "25%", escalationFormat: "pagerduty", escalationWebhook: "<secret>", halted: '["m1@3","m2@2"]', approvedBy: '["main@3 by a at t"]' }, secret: new Set(["escalationWebhook"]) }, "/p");
    expect(c).to.deep.include({ retries: 2, retryBackoffSeconds: 10, failureBudget: "25%", escalationFormat: "pagerduty", halted: ["m1@3", "m2@2"] });
    expect([...haltedFor(c.halted, "3")]).to.deep.equal(["m1"]);
    expect(() => parseStackConfig({ values: { ...base, escalationWebhook: "https://hooks.example/x" }, secret: new Set() }, "/p")).to.throw("config: smith:escalationWebhook: must be stored as a secret");
    expect(() => parseStackConfig({ values: { ...base, failureBudget: "lots" }, secret: new Set() }, "/p")).to.throw(/smith:failureBudget: must be a count/);
    expect(() => parseStackConfig({ values: { ...base, halted: '["m1"]' }, secret: new Set() }, "/p")).to.throw(/smith:halted\[0\]: must be <machine>@<build>/);
  });

  it("lab production: ap-south and eu-west clusters, each master, worker and a haproxy pair, after the pre-production machines", () => {
    const ms = layoutLab({ machines: 5, clusters: 2, regions: 1, prodClusters: 3 }, "127.0.9");
    const prod = ms.filter((m) => m.environment === "prod");
    expect(prod.map((m) => m.name)).to.deep.equal([
      "prod-bom01-carrier1-master-01", "prod-bom01-carrier1-worker-01", "prod-bom01-carrier1-haproxy01", "prod-bom01-carrier1-haproxy02",
      "prod-dub01-carrier1-master-01", "prod-dub01-carrier1-worker-01", "prod-dub01-carrier1-haproxy01", "prod-dub01-carrier1-haproxy02",
      "prod-bom01-carrier2-master-01", "prod-bom01-carrier2-worker-01", "prod-bom01-carrier2-haproxy01", "prod-bom01-carrier2-haproxy02",
    ]);
    expect([...new Set(prod.map((m) => m.region))]).to.deep.equal(["ap-south", "eu-west"]);
    expect(ms[5]!.host).to.equal("127.0.9.15");
    expect(layoutLab({ machines: 5, clusters: 2, regions: 1 }).some((m) => m.environment === "prod")).to.equal(false);
    expect(() => layoutLab({ machines: 240, clusters: 2, regions: 1, prodClusters: 2 })).to.throw("flag --prod-clusters: must be an integer from 0 to 1 (got 2)");
  });
});
