/**
 * The weekly process end to end on the lab (its production machines: `smith lab up --with-prod`):
 * `smith rollout` over two lab stacks, real engine, real machines, a local HTTP receiver for the
 * PagerDuty/Slack webhooks and ServiceNow.
 *
 *   1. build 2 with a faulty canary machine: escalated once, its cluster halts, the rest of the
 *      pipeline goes on to the decision, stops there; after `smith approve` it finishes; the change
 *      record names the failure; --retry-halted once fixed patches it and resolves the incident;
 *   2. build 3 with a machine added and one removed between runs, `smith rollout` or its `pulumi`
 *      SIGKILLed at seeded random points, then the same command until it completes: every machine
 *      at 3, each installed build 3 exactly once, never two machines of a cluster in flight (engine
 *      events), no duplicate escalation; the removed machine untouched and still in the history.
 *
 * Stacks lab-pl-dev / lab-pl-prod (removed at the end); machines are left at build 3.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import type { ChangeRecord } from "../../src/change/record";
import { labDown } from "../../src/lab/lab";
import { ensureLab, labExec, labFault, LabInfo, labSkipReason } from "../support/lab";
import { demoVersion, pulumiMust, removeLabStack, resetMachines, stackConfigPath, stackHistory, tail } from "../support/lab-stack";
import { commandProviderUnavailableReason, pulumiUnavailableReason, REPO_ROOT } from "../support/pulumi";
import { Receiver, startReceiver } from "../support/receiver";
import { childProcesses, seeded, smith, spawnSmith } from "../support/smith-cli";

const DEV = "lab-pl-dev";
const PROD = "lab-pl-prod";
const FAULTY = "prod-bom01-carrier1-worker-01";
const ADDED = "dev-syd01-carrier1-worker-02";
const REMOVED = "dev-syd01-carrier1-worker-01";
const SEEDS = [1, 2, 3];

function log(msg: string): void {
  console.log(`      ${msg}`);
}

describe("smith rollout: the weekly process on the lab", function () {
  this.timeout(60 * 60_000);
  let lab: LabInfo;
  /** This test brought the lab to its shape: it takes it down when done. */
  let ownLab = false;
  let scratch: string;
  let rx: Receiver;
  let inventory: string;
  let pipelineFile: string;
  let events: string;
  const journalDir = path.join(REPO_ROOT, ".smith", "pipeline", "pipeline.e2e");

  const rollout = (build: string, name: string, extra: string[] = []) =>
    smith(["rollout", "--build", build, "--pipeline", pipelineFile, "--events", events, "--servicenow", rx.url, ...extra], path.join(scratch, `${name}.out`), {
      SMITH_SERVICENOW_USER: "smith",
      SMITH_SERVICENOW_PASSWORD: "pw",
    });
  const record = (build: string) => JSON.parse(fs.readFileSync(path.join(journalDir, `change-${build}.json`), "utf8")) as ChangeRecord;
  const triggers = () => rx.requests.filter((r) => (r.body as { event_action?: string })?.event_action === "trigger" || String((r.body as { text?: string })?.text ?? "").startsWith(":rotating_light:"));

  function writeInventory(drop: string[]): void {
    const all = parse(fs.readFileSync(lab.inventoryPath, "utf8")) as { machines: { name: string }[] };
    fs.writeFileSync(inventory, stringify({ machines: all.machines.filter((m) => !drop.includes(m.name)) }));
  }

  async function stack(name: string, waves: string, secrets: Record<string, string>, plain: Record<string, string>): Promise<void> {
    await removeLabStack(name);
    const lines = ["config:", '  smith:build: "1"', `  smith:inventory: ${inventory}`, `  smith:waves: ${waves}`, `  smith:repoUrl: ${lab.repoUrl}`, `  smith:sshPrivateKeyPath: ${lab.keyPath}`, '  smith:rebootDelaySeconds: "1"'];
    for (const [k, v] of Object.entries(plain)) lines.push(`  smith:${k}: ${JSON.stringify(v)}`);
    fs.writeFileSync(stackConfigPath(name), lines.join("\n") + "\n");
    await pulumiMust(["stack", "init", name, "--no-select", "--non-interactive"]);
    for (const [k, v] of Object.entries(secrets)) await pulumiMust(["config", "set", "--secret", `smith:${k}`, "-s", name], { input: v });
  }

  before(async function () {
    const why = labSkipReason() ?? pulumiUnavailableReason() ?? commandProviderUnavailableReason();
    if (why) {
      console.log(`      skipping the pipeline test: ${why}`);
      this.skip();
    }
    const shape = { shape: { machines: 8, clusters: 2, regions: 1, prodClusters: 2 }, rebootDelaySeconds: 1 };
    const needed = [FAULTY, ADDED, REMOVED, "prod-dub01-carrier1-haproxy02"];
    lab = await ensureLab(shape);
    if (needed.some((m) => !lab.machines.some((x) => x.name === m))) {
      // Another test's lab (no production machines) is running: replace it with the shape this
      // test needs, and take ours down afterwards so later tests start their own again.
      console.log("      pipeline test: the running lab has no production machines; restarting it with --with-prod");
      await labDown();
      lab = await ensureLab(shape);
    }
    ownLab = true;
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "smith-pipeline-"));
    fs.rmSync(journalDir, { recursive: true, force: true });
    rx = await startReceiver();
    inventory = path.join(scratch, "inventory.yaml");
    events = path.join(scratch, "events.jsonl");
    writeInventory([ADDED]);
    const prodWaves = path.join(scratch, "lab-prod.yaml");
    fs.writeFileSync(prodWaves, fs.readFileSync(path.join(REPO_ROOT, "waves", "lab-prod.yaml"), "utf8").replace("stack: lab-dev", `stack: ${DEV}`));
    pipelineFile = path.join(scratch, "pipeline.e2e.yaml");
    fs.writeFileSync(pipelineFile, fs.readFileSync(path.join(REPO_ROOT, "waves", "pipeline.lab.yaml"), "utf8").replace(/lab-dev/g, DEV).replace(/lab-prod/g, PROD));
    for (const m of lab.machines) await labFault(m.name, "postinst-fail", false);
    const t0 = Date.now();
    await resetMachines(lab, "1");
    log(`machines reset to build 1 in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    await stack(DEV, path.join(REPO_ROOT, "waves", "lab.yaml"), { escalationWebhook: `${rx.url}/slack` }, {});
    await stack(PROD, prodWaves, { escalationWebhook: `${rx.url}/v2/enqueue`, escalationRoutingKey: "R0UTING" }, { escalationFormat: "pagerduty" });
  });

  after(async function () {
    if (!lab) return;
    await labFault(FAULTY, "postinst-fail", false).catch(() => undefined);
    await removeLabStack(DEV).catch(() => undefined);
    await removeLabStack(PROD).catch(() => undefined);
    await rx?.close();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    if (ownLab) await labDown();
  });

  it("build 2: a faulty canary machine is escalated once and halted, everything else finishes after the decision", async function () {
    await labFault(FAULTY, "postinst-fail", true);
    const r1 = await rollout("2", "b2-1");
    log(`rollout build 2: exit ${r1.code}: ${tail(r1.output, 1)}`);
    expect(r1.code, tail(r1.output)).to.equal(3);
    expect(r1.output).to.include(`npx smith approve --stack ${PROD} --wave main --build 2`);
    expect(triggers().map((r) => (r.body as { dedup_key: string }).dedup_key)).to.deep.equal([`${PROD}/${FAULTY}/2`]);

    const a = await smith(["approve", "--stack", PROD, "--wave", "main", "--build", "2", "--by", "e2e-reviewer"], path.join(scratch, "approve.out"));
    expect(a.code, a.output).to.equal(0);
    const r2 = await rollout("2", "b2-2");
    log(`rollout build 2 after approval: exit ${r2.code}: ${tail(r2.output, 1)}`);
    expect(r2.code, tail(r2.output)).to.equal(0);
    const rec = record("2");
    const by = Object.fromEntries(rec.machines.map((m) => [m.machine, m]));
    expect(by[FAULTY]!.result).to.equal("halted");
    expect(by[FAULTY]!.error).to.match(/^patch: /);
    expect(by["prod-bom01-carrier1-master-01"]!.result).to.equal("held");
    const others = rec.machines.filter((m) => m.cluster !== "prod-bom01-carrier1" || ["prod-bom01-carrier1-haproxy01", "prod-bom01-carrier1-haproxy02"].includes(m.machine));
    expect(others.filter((m) => m.result !== "patched" || m.build !== "2").map((m) => `${m.machine}: ${m.result}`)).to.deep.equal([]);
    expect(rec.stages.find((s) => s.name === "decision")!.detail).to.match(/approved: main@2 by e2e-reviewer at /);
    expect(rec.incidents.map((i) => `${i.key} ${i.state}`)).to.deep.equal([`${PROD}/${FAULTY}/2 open`]);
    expect(triggers(), "one escalation across retries and two runs").to.have.length(1);
    const md = fs.readFileSync(path.join(journalDir, "change-2.md"), "utf8");
    expect(md).to.include(`| ${FAULTY} | ${PROD} | canary |`);
    const sn = rx.requests.filter((r) => r.path.startsWith("/api/now/table/change_request"));
    expect(sn.filter((r) => r.method === "POST"), "one change request for the rollout").to.have.length(1);
    expect(sn.some((r) => (r.body as { close_code?: string }).close_code === "successful_issues")).to.equal(true);

    await labFault(FAULTY, "postinst-fail", false);
    const r3 = await rollout("2", "b2-3", ["--retry-halted"]);
    log(`rollout build 2 --retry-halted: exit ${r3.code}`);
    expect(r3.code, tail(r3.output)).to.equal(0);
    expect(record("2").machines.filter((m) => m.result !== "patched").map((m) => m.machine)).to.deep.equal([]);
    const resolves = rx.requests.filter((r) => (r.body as { event_action?: string })?.event_action === "resolve");
    expect(resolves.map((r) => (r.body as { dedup_key: string }).dedup_key)).to.deep.equal([`${PROD}/${FAULTY}/2`]);
  });

  it("build 3: kill -9 at seeded random points, machines added and removed; the same command completes", async function () {
    writeInventory([REMOVED]); // ADDED joins (at build 1), REMOVED leaves (at build 2)
    await pulumiMust(["config", "set", "--path", "smith:approvals[1]", "main@3", "-s", PROD]);
    const before = new Map<string, number>();
    for (const m of lab.machines) before.set(m.name, Number((await labExec(m.name, "wc -l </var/log/dpkg.log")).stdout.trim()));
    const triggersBefore = triggers().length;
    fs.writeFileSync(events, "");

    for (const seed of SEEDS) {
      const rnd = seeded(seed);
      const delay = 8_000 + Math.floor(rnd() * 50_000);
      // Both kinds of kill: smith rollout first, its pulumi last (after which smith itself goes on).
      const target = seed === SEEDS[SEEDS.length - 1] ? "pulumi" : "smith";
      const run = spawnSmith(["rollout", "--build", "3", "--pipeline", pipelineFile, "--events", events], path.join(scratch, `b3-seed${seed}.out`));
      const deadline = Date.now() + delay;
      let victim: number | undefined;
      while (Date.now() < deadline && !run.hasExited()) await new Promise((r) => setTimeout(r, 250));
      while (!run.hasExited() && victim === undefined) {
        victim = target === "smith" ? run.pid : childProcesses(run.pid, "bin/pulumi")[0];
        if (victim === undefined) await new Promise((r) => setTimeout(r, 250));
      }
      if (victim !== undefined) process.kill(victim, "SIGKILL");
      // A killed smith is gone; after a killed pulumi, smith itself goes on (it restarts the update).
      await run.exited;
      log(`seed ${seed}: kill -9 ${target} (pid ${victim ?? "-"}) after ${(delay / 1000).toFixed(0)} s${victim === undefined ? " (it had already exited)" : ""}`);
    }
    let final: { code: number | null; output: string } | undefined;
    for (let i = 0; i < 4; i++) {
      final = await rollout("3", `b3-final-${i}`);
      log(`rollout build 3 (run ${i + 1} after the kills): exit ${final.code}: ${tail(final.output, 1)}`);
      if (final.code === 0) break;
    }
    expect(final!.code, tail(final!.output)).to.equal(0);
    log(tail(final!.output, 3));

    const planned = lab.machines.map((m) => m.name).filter((n) => n !== REMOVED);
    for (const n of planned) {
      const st = await labExec(n, `cat /var/lib/smith/build; tail -n +${(before.get(n) ?? 0) + 1} /var/log/dpkg.log | grep -c ' upgrade smith-demo-kernel:[^ ]* [^ ]* ${demoVersion("3").replace(".", "\\.")}$' || true`);
      const [build, installs] = st.stdout.trim().split("\n");
      expect(`${n} build ${build} installs ${installs}`).to.equal(`${n} build 3 installs 1`);
    }
    const removed = await labExec(REMOVED, "cat /var/lib/smith/build");
    expect(removed.stdout.trim(), "the removed machine is left untouched").to.equal("2");
    const history = stackHistory(DEV);
    expect(history.some((h) => JSON.stringify(h.checkpoint ?? {}).includes(`${REMOVED}-patch`)), "the removed machine stays in the history").to.equal(true);
    const last = history[history.length - 1]!;
    expect(JSON.stringify(last.checkpoint ?? {}).includes(`${REMOVED}-patch`), "and is dropped from the latest state").to.equal(false);

    // Never two machines of one cluster in flight, from the engine events every run saw.
    const windows = new Map<string, { cluster: string; start: number; end: number }[]>();
    const open = new Map<string, { cluster: string; start: number }>();
    for (const line of fs.readFileSync(events, "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      const e = JSON.parse(line) as { type: string; stack: string; cluster: string; machine: string; step: string; state: string; ts: string };
      if (e.type !== "node") continue;
      const key = `${e.stack}/${e.machine}`;
      if (e.step === "patch" && e.state === "start" && !open.has(key)) open.set(key, { cluster: `${e.stack}/${e.cluster}`, start: Date.parse(e.ts) });
      if (e.step === "health" && e.state === "done" && open.has(key)) {
        const o = open.get(key)!;
        open.delete(key);
        windows.set(o.cluster, [...(windows.get(o.cluster) ?? []), { ...o, end: Date.parse(e.ts) }]);
      }
    }
    const overlaps: string[] = [];
    for (const [cluster, ws] of windows) {
      const sorted = ws.sort((x, y) => x.start - y.start);
      for (let i = 1; i < sorted.length; i++) if (sorted[i]!.start < sorted[i - 1]!.end) overlaps.push(cluster);
    }
    expect(overlaps, "clusters with two machines in flight").to.deep.equal([]);
    expect(triggers().length - triggersBefore, "no escalation without a failure").to.equal(0);
    const rec = record("3");
    expect(rec.result).to.equal("completed");
    expect(rec.machines.map((m) => m.machine)).to.include(ADDED);
    expect(rec.machines.map((m) => m.machine)).to.not.include(REMOVED);
  });
});
