/**
 * The failure budget while an update runs, on the lab (its production machines and the prestage
 * cluster: `smith lab up --with-prod`, the shape of pipeline.test.ts so both share one lab).
 *
 * One wave of three clusters, budget 1 cluster, no retries. The first machine of both production
 * clusters fails its patch (lab fault postinst-fail); the prestage cluster's first machine is slow
 * (lab fault slow: its patch takes 90 s more), so it is in flight when the second failure takes
 * the wave over budget. Expected, from the engine events and the machines themselves: the update
 * is cancelled gracefully (no lock and no pending operation left behind, which a SIGKILL leaves);
 * after the trip no step of any machine starts, the slow machine's patch in flight finishes; the
 * prestage cluster's second machine is never touched; the pipeline stops (exit 1) naming the wave,
 * both clusters and the budget. With the faults off, `--retry-halted` finishes every machine.
 *
 * Stack lab-pb (removed at the end); the journal lives in a scratch --state-dir. Machines are left
 * at build 2.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ChangeRecord } from "../../src/change/record";
import { loadInventory } from "../../src/inventory/load";
import { planRollout } from "../../src/plan/planner";
import { labDown } from "../../src/lab/lab";
import { loadWaves } from "../../src/waves/load";
import { ensureLab, labExec, labFault, LabInfo, labSkipReason } from "../support/lab";
import { DEMO_PACKAGES, demoVersion, demoVersions, exportStack, pulumiMust, removeLabStack, resetMachines, STATE_DIR, stackConfigPath, stackLocks, tail } from "../support/lab-stack";
import { commandProviderUnavailableReason, pulumiUnavailableReason } from "../support/pulumi";
import { smith } from "../support/smith-cli";

const STACK = "lab-pb";
const PROD = ["prod-bom01-carrier1", "prod-dub01-carrier1"];
const PRESTAGE = "prestage-syd01-carrier1";
const SLOW_SECONDS = 90;

function log(msg: string): void {
  console.log(`      ${msg}`);
}

interface NodeEvent {
  ts: string;
  type: string;
  machine: string;
  cluster: string;
  step: string;
  state: string;
}

describe("smith rollout: the failure budget stops an update in flight (lab)", function () {
  this.timeout(30 * 60_000);
  let lab: LabInfo;
  let scratch: string;
  let pipelineFile: string;
  let wavesFile: string;
  let events: string;
  let stateDir: string;
  /** Plan order per cluster of the one wave. */
  let order: Map<string, string[]>;
  const faulty: string[] = [];

  const rollout = async (name: string, extra: string[] = []) => {
    const t0 = Date.now();
    const r = await run(name, extra);
    return { ...r, seconds: (Date.now() - t0) / 1000 };
  };
  const run = (name: string, extra: string[]) => smith(["rollout", "--build", "2", "--pipeline", pipelineFile, "--events", events, "--state-dir", stateDir, ...extra], path.join(scratch, `${name}.out`));

  before(async function () {
    const why = labSkipReason() ?? pulumiUnavailableReason() ?? commandProviderUnavailableReason();
    if (why) {
      console.log(`      skipping the failure-budget test: ${why}`);
      this.skip();
    }
    const shape = { shape: { machines: 8, clusters: 2, regions: 1, prodClusters: 2 }, rebootDelaySeconds: 1 };
    lab = await ensureLab(shape);
    if (![...PROD, PRESTAGE].every((c) => lab.machines.some((m) => m.cluster === c))) {
      // Another test's lab (no production machines) is running: replace it with pipeline.test.ts's
      // shape (that test then reuses it, and takes it down when it is done).
      console.log("      failure-budget test: the running lab has no production machines; restarting it with --with-prod");
      await labDown();
      lab = await ensureLab(shape);
    }
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "smith-budget-"));
    stateDir = path.join(scratch, "state");
    events = path.join(scratch, "events.jsonl");
    wavesFile = path.join(scratch, "waves.yaml");
    fs.writeFileSync(wavesFile, "description: one wave of three clusters\nscope:\n  environment: [prod, prestage]\nwaves:\n  - name: all\n");
    pipelineFile = path.join(scratch, "pipeline.budget.yaml");
    fs.writeFileSync(pipelineFile, `retries: { count: 0, backoffSeconds: 1 }\nfailureBudget: 1\nstages:\n  - name: all\n    run: { stacks: [${STACK}] }\n`);
    const plan = planRollout(await loadInventory([lab.inventoryPath]), loadWaves(wavesFile), "2");
    order = new Map(plan.waves[0]!.clusters.map((c) => [c.cluster, c.nodes]));
    expect([...order.keys()].sort()).to.deep.equal([...PROD, PRESTAGE].sort());

    for (const m of lab.machines) for (const k of ["postinst-fail", "slow"] as const) await labFault(m.name, k, false);
    const ours = [...order.values()].flat();
    // A patch failed by postinst-fail (an interrupted earlier run of this test) leaves a package
    // half-configured; finish it first, so the reset below sees a clean dpkg and goes back to 1.
    await Promise.all(ours.map((m) => labExec(m, "dpkg --configure -a >/dev/null 2>&1 || true")));
    const t0 = Date.now();
    await resetMachines(lab, "1");
    log(`machines reset to build 1 in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const at1 = await Promise.all(ours.map(async (m) => `${m} ${Object.values(await demoVersions(m)).join(",")}`));
    expect(at1, "machines at build 1 before the test").to.deep.equal(ours.map((m) => `${m} ${DEMO_PACKAGES.map(() => demoVersion("1")).join(",")}`));
    fs.mkdirSync(path.dirname(STATE_DIR), { recursive: true }); // the checkout's file backend (a fresh worktree has none)
    await removeLabStack(STACK);
    const lines = ["config:", '  smith:build: "1"', `  smith:inventory: ${lab.inventoryPath}`, `  smith:waves: ${wavesFile}`, `  smith:repoUrl: ${lab.repoUrl}`, `  smith:sshPrivateKeyPath: ${lab.keyPath}`, '  smith:rebootDelaySeconds: "1"'];
    fs.writeFileSync(stackConfigPath(STACK), lines.join("\n") + "\n");
    await pulumiMust(["stack", "init", STACK, "--no-select", "--non-interactive"]);
  });

  after(async function () {
    if (!lab) return;
    for (const m of lab.machines) for (const k of ["postinst-fail", "slow"] as const) await labFault(m.name, k, false).catch(() => undefined);
    await removeLabStack(STACK).catch(() => undefined);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it("cancels the update when the second cluster fails: in-flight steps finish, nothing new starts; --retry-halted finishes once fixed", async function () {
    for (const c of PROD) faulty.push(order.get(c)![0]!);
    const [slow, untouched] = order.get(PRESTAGE)!;
    for (const m of faulty) await labFault(m, "postinst-fail", true);
    await labFault(slow!, "slow", true, SLOW_SECONDS);

    const r1 = await rollout("run-1");
    log(`rollout with 2 faulty clusters: exit ${r1.code} after ${r1.seconds.toFixed(0)} s: ${tail(r1.output, 1)}`);
    expect(r1.code, tail(r1.output)).to.equal(1);
    expect(r1.output).to.match(/wave all: 2 of 3 cluster\(s\) halted \((prod-bom01-carrier1, prod-dub01-carrier1|prod-dub01-carrier1, prod-bom01-carrier1)\), failure budget 1; update cancelled/);

    const lines = fs.readFileSync(events, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as NodeEvent);
    const trip = lines.findIndex((e) => e.type === "budget");
    const firstPatch = lines.find((e) => e.type === "node" && e.step === "patch" && e.state === "start");
    const upEnd = lines.find((e, i) => i > trip && e.type === "up");
    if (firstPatch && trip >= 0 && upEnd) {
      const at = (e: NodeEvent) => Date.parse(e.ts) / 1000;
      log(`trip ${(at(lines[trip]!) - at(firstPatch)).toFixed(0)} s after the first patch start; the cancelled update ended ${(at(upEnd) - at(lines[trip]!)).toFixed(0)} s after the trip (the slow patch in flight)`);
    }
    expect(trip, "a budget event").to.be.greaterThan(0);
    const after = lines.slice(trip + 1).filter((e) => e.type === "node");
    const before = lines.slice(0, trip).filter((e) => e.type === "node");
    log(`engine events after the trip: ${after.map((e) => `${e.machine} ${e.step} ${e.state}`).join("; ") || "none"}`);
    // Nothing starts after the trip: no step, so no machine's (or cluster's) first patch either.
    expect(after.filter((e) => e.state === "start").map((e) => `${e.machine} ${e.step}`)).to.deep.equal([]);
    // The slow machine was in its patch and finished it; its health check waits for the next run.
    expect(before.some((e) => e.machine === slow && e.step === "patch" && e.state === "start")).to.equal(true);
    expect(after.some((e) => e.machine === slow && e.step === "patch" && e.state === "done"), "the step in flight finished").to.equal(true);
    expect(lines.some((e) => e.type === "node" && e.machine === untouched)).to.equal(false);
    // A graceful cancel: pulumi released its lock and left no pending operation (a SIGKILL leaves both).
    expect(stackLocks(STACK)).to.deep.equal([]);
    const state = (await exportStack(STACK)) as { deployment?: { pending_operations?: unknown[] } };
    expect(state.deployment?.pending_operations ?? []).to.deep.equal([]);
    // The untouched machine still has build 1's packages (the slow one reboots into build 2 now).
    expect(Object.values(await demoVersions(untouched!))).to.deep.equal(DEMO_PACKAGES.map(() => demoVersion("1")));

    // Fixed: the faults off, the halted machines tried again; every machine of the wave at 2.
    for (const m of faulty) await labFault(m, "postinst-fail", false);
    await labFault(slow!, "slow", false);
    const r2 = await rollout("run-2", ["--retry-halted"]);
    log(`rollout --retry-halted: exit ${r2.code} after ${r2.seconds.toFixed(0)} s: ${tail(r2.output, 1)}`);
    expect(r2.code, tail(r2.output)).to.equal(0);
    const rec = JSON.parse(fs.readFileSync(path.join(stateDir, "pipeline.budget", "change-2.json"), "utf8")) as ChangeRecord;
    expect(rec.machines.filter((m) => m.result !== "patched" || m.build !== "2").map((m) => `${m.machine} ${m.result}`)).to.deep.equal([]);
    const builds = async (ms: string[]) => Promise.all(ms.map(async (m) => `${m} ${(await labExec(m, "cat /var/lib/smith/build")).stdout.trim()}`));
    const all = [...order.values()].flat();
    expect(await builds(all)).to.deep.equal(all.map((m) => `${m} 2`));
  });
});
