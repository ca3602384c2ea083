import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { EscalationSink, Incident } from "../../src/escalation/incident";
import { renderInventory } from "../../src/lab/files";
import { layoutLab } from "../../src/lab/layout";
import { loadPipeline, parsePipeline } from "../../src/pipeline/load";
import type { ProgressEvent } from "../../src/pipeline/progress";
import { RolloutDeps, runRollout } from "../../src/pipeline/runner";
import { FakeStack } from "./pipeline.fake-stack";

const REPO = path.resolve(__dirname, "..", "..");
const PIPELINE = loadPipeline(path.join(REPO, "waves", "pipeline.lab.yaml"));

class RecordingSink implements EscalationSink {
  readonly name = "recording";
  readonly dedupes = true;
  readonly calls: string[] = [];
  async trigger(i: Incident) {
    this.calls.push(`trigger ${i.key} ${i.step} ${i.error}`);
  }
  async resolve(i: Incident) {
    this.calls.push(`resolve ${i.key}`);
  }
}

describe("smith rollout (runner, against in-memory stacks)", () => {
  let dir: string;
  let dev: FakeStack;
  let prod: FakeStack;
  let clock: number;
  let events: ProgressEvent[];
  let sink: RecordingSink;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-runner-"));
    const machines = layoutLab({ machines: 8, clusters: 2, regions: 1, prodClusters: 2 });
    const inv = path.join(dir, "inventory.yaml");
    fs.writeFileSync(inv, renderInventory(machines, new Map(machines.map((m) => [m.name, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake"]))));
    const base = { inventory: inv, repoUrl: "http://127.0.0.1:1", sshPrivateKeyPath: "/dev/null", build: "2" };
    dev = new FakeStack("lab-dev", { ...base, waves: path.join(REPO, "waves", "lab.yaml") });
    prod = new FakeStack("lab-prod", { ...base, waves: path.join(REPO, "waves", "lab-prod.yaml") });
    clock = Date.parse("2026-12-02T03:00:10Z");
    prod.soakOf = () => dev.out.rollout;
    prod.now = () => new Date(clock);
    events = [];
    sink = new RecordingSink();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const deps = (over: Partial<RolloutDeps> = {}): RolloutDeps => ({
    drivers: async (s) => (s === "lab-dev" ? dev : prod),
    projectDir: REPO,
    stateDir: dir,
    progress: (e) => events.push(e),
    sinksFor: () => [sink],
    changeSinks: [],
    fetchText: async (url) => ({ status: 200, text: `Origin: smith\nLabel: smith-build-${/builds\/(\d+)/.exec(url)![1]}\n` }),
    untilWaveSupported: false,
    now: () => new Date(clock),
    sleep: async (ms) => {
      clock += ms;
    },
    ...over,
  });

  it("runs every stage, stops at the decision with the command that opens it, continues once approved", async () => {
    const r1 = await runRollout(PIPELINE, { build: "3" }, deps());
    expect(r1.exitCode).to.equal(3);
    expect(r1.message).to.include("npx smith approve --stack lab-prod --wave main --build 3");
    expect(r1.record.stages.map((s) => `${s.name}:${s.result}`)).to.deep.equal(["build:done", "dev:done", "soak-review:done", "canary:done", "decision:waiting", "main:pending", "haproxy01:pending", "haproxy02:pending"]);
    expect(events.some((e) => e.type === "soak")).to.equal(true);
    expect(prod.patched).to.deep.equal(["prod-bom01-carrier1-haproxy01", "prod-bom01-carrier1-haproxy02", "prod-bom01-carrier1-worker-01", "prod-bom01-carrier1-master-01"]);

    await prod.setList("approvals", ["main@3"]);
    const r2 = await runRollout(PIPELINE, { build: "3" }, deps());
    expect(r2.exitCode, r2.message).to.equal(0);
    expect(r2.record.machines.filter((m) => m.result !== "patched" || m.build !== "3").map((m) => `${m.machine} ${m.result} ${m.build}`)).to.deep.equal([]);
    expect(r2.record.machines).to.have.length(16);
    expect(dev.ups).to.have.length(1); // the dev stage was done: no second update
    expect(fs.readFileSync(r2.files.markdown, "utf8")).to.include("- Result: **completed**");
    expect(sink.calls).to.deep.equal([]);
  });

  it("retries a failed node's whole sequence, then halts its cluster; the rest goes on; one incident", async () => {
    await prod.setList("approvals", ["main@3"]);
    prod.failing.set("prod-bom01-carrier1-worker-01", 99);
    const r = await runRollout(PIPELINE, { build: "3" }, deps());
    expect(r.exitCode, r.message).to.equal(0);
    // run 1 fails; run 2 re-runs the node's commands; run 3 (halted) lets the rest go on.
    expect(prod.ups).to.have.length(3);
    expect(prod.ups[1]!.replace.every((u) => /::prod-bom01-carrier1-worker-01-(patch|reboot|health)$/.test(u))).to.equal(true);
    expect(JSON.parse(prod.cfg.halted!.value)).to.deep.equal(["prod-bom01-carrier1-worker-01@3"]);
    const by = Object.fromEntries(r.record.machines.map((m) => [m.machine, m.result]));
    expect(by["prod-bom01-carrier1-worker-01"]).to.equal("halted");
    expect(by["prod-bom01-carrier1-master-01"]).to.equal("held");
    expect(by["prod-dub01-carrier1-haproxy02"]).to.equal("patched");
    expect(sink.calls).to.deep.equal(["trigger lab-prod/prod-bom01-carrier1-worker-01/3 patch apt failed on prod-bom01-carrier1-worker-01"]);
    const retry = events.find((e) => e.type === "retry");
    expect(retry).to.deep.include({ machines: ["prod-bom01-carrier1-worker-01"], attempt: 2, backoffSeconds: 2 });
    expect(r.record.incidents).to.have.length(1);
    expect(r.record.machines.find((m) => m.machine === "prod-bom01-carrier1-worker-01")!.error).to.equal("patch: apt failed on prod-bom01-carrier1-worker-01");

    // Resumed run: no new notification; --retry-halted with the machine fixed resolves it once.
    await runRollout(PIPELINE, { build: "3" }, deps());
    expect(sink.calls).to.have.length(1);
    prod.failing.delete("prod-bom01-carrier1-worker-01");
    events.length = 0;
    const fixed = await runRollout(PIPELINE, { build: "3", retryHalted: true }, deps());
    expect(fixed.record.machines.filter((m) => m.result !== "patched").map((m) => `${m.machine} ${m.result}`)).to.deep.equal([]);
    expect(sink.calls.slice(1)).to.deep.equal(["resolve lab-prod/prod-bom01-carrier1-worker-01/3"]);
  });

  it("a node that passes on retry resolves its incident", async () => {
    dev.failing.set("dev-syd01-test-01", 1);
    await runRollout(PIPELINE, { build: "3", until: "dev" }, deps());
    expect(sink.calls).to.deep.equal(["trigger lab-dev/dev-syd01-test-01/3 patch apt failed on dev-syd01-test-01", "resolve lab-dev/dev-syd01-test-01/3"]);
    expect(dev.cfg.halted).to.equal(undefined);
  });

  it("over the failure budget: the pipeline stops before the next stage", async () => {
    dev.failing.set("dev-syd01-carrier1-haproxy02", 99);
    dev.failing.set("prestage-syd01-carrier1-worker-01", 99);
    const r = await runRollout(PIPELINE, { build: "3" }, deps());
    expect(r.exitCode).to.equal(1);
    expect(r.result).to.equal("stopped");
    expect(r.message).to.match(/wave sample: 2 of 2 cluster\(s\) halted .*failure budget 1/);
    expect(r.record.stages.slice(2).every((s) => s.result === "pending")).to.equal(true);
    expect(prod.ups).to.have.length(0);
    expect(sink.calls).to.have.length(2);
  });

  it("over the failure budget while an update runs: the update is cancelled, no new cluster starts; a re-run over budget starts nothing", async () => {
    const strict = parsePipeline("retries: { count: 0, backoffSeconds: 0 }\nfailureBudget: 0\nstages:\n  - name: dev\n    run: { stacks: [lab-dev] }\n", "strict.yaml");
    dev.failing.set("dev-syd01-carrier1-master-01", 99);
    const r = await runRollout(strict, { build: "3" }, deps());
    expect(r.result).to.equal("stopped");
    expect(r.message).to.equal(
      "stage dev: lab-dev: wave sample: 1 of 2 cluster(s) halted (dev-syd01-carrier1), failure budget 0; update cancelled: steps in flight finished, nothing new started",
    );
    const trip = events.findIndex((e) => e.type === "budget");
    expect(events[trip]).to.deep.include({ stack: "lab-dev", machine: "dev-syd01-carrier1-master-01" });
    // The fake runs a wave's clusters one after the other: the cluster after the trip never starts.
    expect(events.slice(trip).filter((e) => e.type === "node" && e.state === "start")).to.deep.equal([]);
    expect(dev.patched.filter((m) => m.startsWith("prestage-"))).to.deep.equal([]);
    expect(JSON.parse(dev.cfg.halted!.value)).to.deep.equal(["dev-syd01-carrier1-master-01@3"]);
    expect(dev.ups).to.have.length(1);

    // Resumed without a fix: still over budget, nothing runs.
    const again = await runRollout(strict, { build: "3" }, deps());
    expect(again.message).to.match(/wave sample: 1 of 2 cluster\(s\) halted \(dev-syd01-carrier1\), failure budget 0 \(already halted/);
    expect(dev.ups).to.have.length(1);
    // Fixed, --retry-halted: the stage finishes.
    dev.failing.delete("dev-syd01-carrier1-master-01");
    const fixed = await runRollout(strict, { build: "3", retryHalted: true }, deps());
    expect(fixed.exitCode, fixed.message).to.equal(0);
    expect(fixed.record.machines.filter((m) => m.result !== "patched").map((m) => m.machine)).to.deep.equal([]);
  });

  it("review: a hard stop while a failure of the build is unresolved, until someone accepts it", async () => {
    dev.failing.set("dev-syd01-carrier1-worker-02", 99);
    const r = await runRollout(PIPELINE, { build: "3" }, deps());
    expect(r.result).to.equal("stopped");
    expect(r.message).to.include("hard stop: 1 unresolved failure(s) of build 3");
    expect(r.message).to.include("npx smith approve --stack lab-dev --wave soak-review --build 3");
    expect(events.some((e) => e.type === "info" && e.message.startsWith("review (soak-review): OPEN lab-dev/dev-syd01-carrier1-worker-02/3"))).to.equal(true);
    await dev.setList("approvals", ["soak-review@3"]);
    const r2 = await runRollout(PIPELINE, { build: "3" }, deps());
    expect(r2.record.stages.find((s) => s.name === "soak-review")!.result).to.equal("done");
  });

  it("a soak is computed from the soaked stack's output: --no-wait says when, a later run goes on", async () => {
    const r = await runRollout(PIPELINE, { build: "3", wait: false }, deps());
    expect(r.exitCode).to.equal(3);
    expect(r.message).to.equal("stage soak-review: soak of lab-dev opens at 2026-12-02T03:00:36.000Z; run the same command again then");
    clock = Date.parse("2026-12-02T03:00:40Z");
    const r2 = await runRollout(PIPELINE, { build: "3", wait: false, until: "soak-review" }, deps());
    expect(r2.exitCode).to.equal(0);
    expect(dev.ups).to.have.length(1);
  });

  it("with smith:untilWave: one stack runs to its stage's last wave; shards go wave by wave in lockstep", async () => {
    const record = (st: FakeStack) => {
      const set: string[] = [];
      const orig = st.setConfig.bind(st);
      st.setConfig = async (k, v, s) => {
        if (k === "untilWave") set.push(v);
        return orig(k, v, s);
      };
      return set;
    };
    const prodSet = record(prod);
    await prod.setList("approvals", ["main@3"]);
    await runRollout(PIPELINE, { build: "3", until: "canary" }, deps({ untilWaveSupported: true }));
    expect(prodSet).to.deep.equal(["canary"]);
    expect((prod.out.waves as { name: string; held: boolean }[]).filter((w) => !w.held).map((w) => w.name)).to.deep.equal(["canary"]);

    const shard = new FakeStack("lab-dev2", Object.fromEntries(Object.entries(dev.cfg).map(([k, v]) => [k, v.value])));
    const devSet = record(dev);
    const shardSet = record(shard);
    const order: string[] = [];
    for (const st of [dev, shard]) {
      const up = st.up.bind(st);
      st.up = async (o) => {
        order.push(`${st.stack}:${st.cfg.untilWave?.value}`);
        return up(o);
      };
    }
    const sharded = parsePipeline("stages:\n  - name: dev\n    run: { stacks: [lab-dev, lab-dev2] }\n", "sharded.yaml");
    const r = await runRollout(sharded, { build: "4" }, deps({ untilWaveSupported: true, drivers: async (s) => (s === "lab-dev" ? dev : shard) }));
    expect(r.exitCode, r.message).to.equal(0);
    expect(devSet).to.deep.equal(["test", "sample", "rest"]);
    expect(shardSet).to.deep.equal(["test", "sample", "rest"]);
    // Every wave's updates of both shards before any update of the next wave.
    expect(order.map((o) => o.split(":")[1])).to.deep.equal(["test", "test", "sample", "sample", "rest", "rest"]);
  });

  it("consecutive run stages of one stack run as one update (main, haproxy01, haproxy02), each with its own outcome; a stop goes to the stage of its wave", async () => {
    const untilSet: string[] = [];
    const orig = prod.setConfig.bind(prod);
    prod.setConfig = async (k, v, sec) => {
      if (k === "untilWave") untilSet.push(v);
      return orig(k, v, sec);
    };
    await prod.setList("approvals", ["main@3"]);
    const r = await runRollout(PIPELINE, { build: "3" }, deps({ untilWaveSupported: true }));
    expect(r.exitCode, r.message).to.equal(0);
    expect(untilSet).to.deep.equal(["canary", "haproxy02"]);
    expect(prod.ups).to.have.length(2); // canary; then main + haproxy01 + haproxy02 in one
    const by = Object.fromEntries(r.record.stages.map((st) => [st.name, `${st.result}: ${st.detail}`]));
    expect(by.main).to.equal("done: lab-prod: main (one update with stages main, haproxy01, haproxy02)");
    expect(by.haproxy01).to.match(/^done: lab-prod: haproxy01\/phase-1.* \(one update with stages main, haproxy01, haproxy02\)$/);
    expect(r.record.machines.filter((m) => m.result !== "patched").map((m) => m.machine)).to.deep.equal([]);

    // Over budget in haproxy01's wave: main is done, haproxy01 stopped, haproxy02 never ran.
    const strict = parsePipeline(fs.readFileSync(path.join(REPO, "waves", "pipeline.lab.yaml"), "utf8").replace("failureBudget: 1", "failureBudget: 0"), "strict.yaml");
    const fresh = new FakeStack("lab-prod", Object.fromEntries(Object.entries(prod.cfg).map(([k, v]) => [k, v.value])));
    fresh.soakOf = prod.soakOf;
    fresh.now = prod.now;
    fresh.failing.set("prod-dub01-carrier1-haproxy01", 99); // haproxy01's only machine outside the canary region
    events.length = 0;
    const stopped = await runRollout(strict, { build: "4" }, deps({ untilWaveSupported: true, drivers: async (st) => (st === "lab-dev" ? dev : fresh) }));
    await fresh.setList("approvals", ["main@4"]);
    const resumed = await runRollout(strict, { build: "4" }, deps({ untilWaveSupported: true, drivers: async (st) => (st === "lab-dev" ? dev : fresh) }));
    expect(stopped.result, stopped.message).to.equal("waiting"); // the decision, before main
    const res = Object.fromEntries(resumed.record.stages.map((st) => [st.name, st.result]));
    expect(resumed.result).to.equal("stopped");
    expect(resumed.message).to.match(/^stage haproxy01: lab-prod: wave haproxy01\/phase-1: 1 of 1 cluster\(s\) halted/);
    expect(res).to.deep.include({ main: "done", haproxy01: "stopped", haproxy02: "pending" });
  });

  it("an unknown --until stage or an unpublished build is refused", async () => {
    const err = await runRollout(PIPELINE, { build: "3", until: "nope" }, deps()).then(() => null, (e: Error) => e);
    expect(err?.message).to.match(/^flag --until: no stage "nope" in .*pipeline\.lab\.yaml \(stages: build, dev,/);
    const r = await runRollout(PIPELINE, { build: "4" }, deps({ fetchText: async () => ({ status: 404, text: "" }) }));
    expect(r.result).to.equal("failed");
    expect(r.message).to.include("builds/4/dists/smith/Release: HTTP 404");
    expect(dev.ups).to.have.length(0);
  });
});
