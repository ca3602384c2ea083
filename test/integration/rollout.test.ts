/**
 * The main job end to end: smith's real Pulumi program, the real engine and command provider, the
 * real lab (24 Debian machines with apt, dpkg, reboots). Steps build on each other, in order:
 *
 *   1. every machine from build 1 to 2: agent status, package versions, one node per cluster at a
 *      time in plan order, waves in order, reboots where the kernel package asked, new boot ids,
 *      the audit history;
 *   2. a second `up` changes nothing;
 *   2b. an input change that re-runs node commands (the reboot delay) replaces every node's
 *      chain in order, one node per cluster at a time, health included (issue 7 §4);
 *   2c. dynamic fleet (issue 9 §9): a machine reinstalled under the same name (new host key, back
 *      at build 1) is patched again; a machine removed from the inventory is dropped from the
 *      stack untouched and stays in the audit history;
 *   3. crash and resume: `up` to build 3 is SIGKILLed after the first node finished, the stale lock
 *      is cleared, the re-run completes, and every machine installed build 3 exactly once;
 *   4. a failure stays in its cluster: postinst-fail on a non-first node of a cluster, `up
 *      --continue-on-error` (fresh stack, machines back at 2, target 3): that cluster stops at
 *      that machine, the other clusters of the wave finish, the error names the machine.
 *
 * Uses the shared lab as it runs (never `lab down`), stacks `lab-e2e` and `lab-e2e-fail` (removed
 * at the end), and puts every machine back at the build they all had before (else 3), no fault.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { collectStatus } from "../../src/agent/ssh-runner";
import { loadInventory } from "../../src/inventory/load";
import type { Machine } from "../../src/inventory/schema";
import { planRollout } from "../../src/plan/planner";
import type { Plan } from "../../src/plan/types";
import { loadWaves } from "../../src/waves/load";
import { ensureLab, labExec, labFault, LabInfo, labSkipReason } from "../support/lab";
import {
  DEMO_PACKAGES,
  demoVersion,
  demoVersions,
  exportStack,
  freshLabStack,
  pidAlive,
  pulumiMust,
  pulumiUp,
  removeLabStack,
  resetMachines,
  spawnPulumiUp,
  stackHistory,
  stackLocks,
  stackOutput,
  tail,
} from "../support/lab-stack";
import { commandProviderUnavailableReason, pulumiUnavailableReason, REPO_ROOT } from "../support/pulumi";
import { chainOverlapProblems, clusterOrderProblems, nodeRunsFromState, nodeWindowsFromEvents, patchesStarted, waveOrderProblems } from "../support/rollout";
import { stringify } from "yaml";
import * as net from "net";
import { execFile } from "child_process";
import { hostKeyFingerprint } from "../../components/fleet/node-commands";

const STACK = "lab-e2e";
const FAIL_STACK = "lab-e2e-fail";
const REBOOT_DELAY = 1;

function log(msg: string): void {
  console.log(`      ${msg}`);
}

function planFor(machines: Machine[], build: string): Plan {
  return planRollout(machines, loadWaves(path.join(REPO_ROOT, "waves", "lab.yaml")), build);
}

async function bootIds(lab: LabInfo): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(lab.machines.map(async (m) => out.set(m.name, (await labExec(m.name, "cat /proc/sys/kernel/random/boot_id")).stdout.trim())));
  return out;
}

async function agentBuilds(lab: LabInfo, machines: Machine[]): Promise<Map<string, string | null>> {
  const statuses = await collectStatus(machines, { privateKey: fs.readFileSync(lab.keyPath), concurrency: 24 });
  const out = new Map<string, string | null>();
  for (const s of statuses) {
    if (!s.ok) throw new Error(`agent status on ${s.name}: ${s.error}`);
    out.set(s.name, s.status!.build);
  }
  return out;
}

/** dpkg.log line counts, to count installs of a version after a point in time. */
async function dpkgLogLines(lab: LabInfo): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await Promise.all(lab.machines.map(async (m) => out.set(m.name, Number((await labExec(m.name, "wc -l </var/log/dpkg.log")).stdout.trim()))));
  return out;
}

/** How many times each machine's dpkg unpacked `pkg` at `version` since `from` lines of its log. */
async function installsSince(lab: LabInfo, from: Map<string, number>, pkg: string, version: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await Promise.all(
    lab.machines.map(async (m) => {
      const r = await labExec(m.name, `tail -n +${(from.get(m.name) ?? 0) + 1} /var/log/dpkg.log`);
      const re = new RegExp(` (install|upgrade) ${pkg}:\\S+ \\S+ ${version.replace(/\./g, "\\.")}$`);
      out.set(m.name, r.stdout.split("\n").filter((l) => re.test(l)).length);
    }),
  );
  return out;
}

async function bootIdsExcept(lab: LabInfo, skip: string[]): Promise<Map<string, string>> {
  const all = await bootIds({ ...lab, machines: lab.machines.filter((m) => !skip.includes(m.name)) });
  return all;
}

/** Reboots a lab machine and waits until its next boot accepts TCP connections on its SSH port. */
async function rebootAndWait(name: string): Promise<void> {
  const idFile = path.join(REPO_ROOT, ".smith", "lab", "machines", name, "boot_id");
  const before = fs.readFileSync(idFile, "utf8");
  const m = (await loadInventory([path.join(REPO_ROOT, ".smith", "lab", "inventory.yaml")])).find((x) => x.name === name)!;
  await labExecAnyKey(m.host, "nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1 &");
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && fs.readFileSync(idFile, "utf8") === before) await new Promise((r) => setTimeout(r, 200));
  while (Date.now() < deadline && !(await portOpen(m.host, m.port ?? 22))) await new Promise((r) => setTimeout(r, 200));
}

/** Root shell on a lab machine whose host key this test changed on purpose (not checked here). */
function labExecAnyKey(host: string, cmd: string): Promise<void> {
  const key = path.join(REPO_ROOT, ".smith", "lab", "id_ed25519");
  const args = ["-i", key, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", `root@${host}`, "--", cmd];
  return new Promise((resolve, reject) => execFile("ssh", args, { timeout: 60_000 }, (err, _o, stderr) => (err ? reject(new Error(`ssh ${host}: ${stderr || err.message}`)) : resolve())));
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 1000 }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
    s.on("timeout", () => {
      s.destroy();
      resolve(false);
    });
  });
}

describe("rollout on the lab (real engine, real machines)", function () {
  this.timeout(15 * 60_000);
  let lab: LabInfo;
  let machines: Machine[];
  let scratch: string;
  let initialBuild = "3";
  const started = Date.now();

  before(async function () {
    const why = labSkipReason() ?? pulumiUnavailableReason() ?? commandProviderUnavailableReason();
    if (why) {
      console.log(`      skipping the lab rollout test: ${why}`);
      this.skip();
    }
    lab = await ensureLab();
    machines = await loadInventory([lab.inventoryPath]);
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "smith-rollout-"));
    for (const m of lab.machines) await labFault(m.name, "postinst-fail", false);
    // Put back afterwards what other users of the shared lab (the `lab` stack) last saw.
    const kernels = new Set(await Promise.all(lab.machines.map(async (m) => (await demoVersions(m.name))["smith-demo-kernel"])));
    const only = kernels.size === 1 ? /^1\.(\d+)$/.exec([...kernels][0] ?? "") : null;
    if (only) initialBuild = String(Number(only[1]) + 1);
    const t0 = Date.now();
    const reset = await resetMachines(lab, "1");
    log(`reset to build 1: ${reset.length} machine(s) changed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await freshLabStack(STACK, lab, { build: "2", rebootDelaySeconds: REBOOT_DELAY });
  });

  after(async function () {
    if (!lab) return;
    for (const m of lab.machines) await labFault(m.name, "postinst-fail", false).catch(() => undefined);
    // Every machine back at the build they all had before (else 3), dpkg consistent again.
    await resetMachines(lab, initialBuild).catch((e: Error) => log(`cleanup reset failed: ${e.message}`));
    await removeLabStack(FAIL_STACK).catch(() => undefined);
    await removeLabStack(STACK).catch(() => undefined);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    log(`lab rollout test: ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
  });

  it("patches every machine from build 1 to 2, one node per cluster at a time, waves in order", async function () {
    const before = await bootIds(lab);
    const events = path.join(scratch, "up-2.events.jsonl");
    const up = await pulumiUp(STACK, { eventLog: events });
    log(`pulumi up to build 2: exit ${up.code} in ${up.seconds.toFixed(1)} s`);
    expect(up.code, `pulumi up failed:\n${tail(up.stdout)}\n${tail(up.stderr)}`).to.equal(0);

    const builds = await agentBuilds(lab, machines);
    expect([...builds].filter(([, b]) => b !== "2"), "machines whose agent status is not build 2").to.deep.equal([]);
    const versions = await Promise.all(lab.machines.map(async (m) => [m.name, await demoVersions(m.name)] as const));
    for (const [name, v] of versions) for (const p of DEMO_PACKAGES) expect(v[p], `${name} ${p}`).to.equal(demoVersion("2"));

    const runs = nodeRunsFromState(await exportStack(STACK));
    const plan = planFor(machines, "2");
    expect(runs.size).to.equal(lab.machines.length);
    expect(clusterOrderProblems(plan, runs, "2", nodeWindowsFromEvents(fs.readFileSync(events, "utf8")))).to.deep.equal([]);
    expect(waveOrderProblems(plan, runs, "2")).to.deep.equal([]);

    // The kernel package asks for a reboot (postinst touches /var/run/reboot-required): a machine
    // reboots exactly when its patch reported that, and comes back with a new boot id.
    const after = await bootIds(lab);
    for (const [name, r] of runs) {
      expect(r.patch?.build, `${name} patch build`).to.equal("2");
      expect(r.patch?.changed.map((c) => c.name).sort(), `${name} changed packages`).to.deep.equal([...DEMO_PACKAGES].sort());
      expect(r.reboot?.rebooting, `${name} rebooted`).to.equal(r.patch?.rebootRequired);
      expect(r.health?.healthy, `${name} healthy`).to.equal(true);
      if (r.reboot?.rebooting) {
        expect(r.health?.bootId, `${name} boot id after the reboot`).to.not.equal(r.reboot.bootId);
        expect(after.get(name), `${name} boot id now`).to.not.equal(before.get(name));
      } else {
        expect(after.get(name), `${name} did not reboot`).to.equal(before.get(name));
      }
    }
    expect([...runs.values()].filter((r) => r.reboot?.rebooting).length, "machines rebooted").to.equal(lab.machines.length);

    const nodes = (await stackOutput(STACK, "nodes")) as Record<string, { build: string; rebooted: boolean; finishedAt: string | null }>;
    expect(Object.keys(nodes).sort()).to.deep.equal(lab.machines.map((m) => m.name).sort());
    for (const [name, n] of Object.entries(nodes)) {
      expect(n.build, name).to.equal("2");
      expect(n.finishedAt, name).to.equal(runs.get(name)!.patch!.finishedAt);
    }

    // Audit: the file backend's history holds this update, its build and the per-node result.
    const history = stackHistory(STACK);
    const last = history[history.length - 1]!;
    expect(last.kind).to.equal("update");
    expect(last.result).to.equal("succeeded");
    expect(last.config["smith:build"]).to.equal("2");
    expect(last.config["smith:sshPrivateKey"], "the key is recorded only encrypted").to.have.property("secure");
    const audited = nodeRunsFromState({ deployment: (last.checkpoint as { checkpoint?: { latest?: unknown } })?.checkpoint?.latest });
    expect([...audited.values()].filter((r) => r.patch?.build === "2").length, "nodes at build 2 in the audit checkpoint").to.equal(lab.machines.length);
    expect(fs.readFileSync(last.file, "utf8")).to.not.include("BEGIN OPENSSH PRIVATE KEY");
  });

  it("a second up changes nothing", async function () {
    const before = await bootIds(lab);
    const up = await pulumiUp(STACK);
    log(`second pulumi up: exit ${up.code} in ${up.seconds.toFixed(1)} s`);
    expect(up.code, `pulumi up failed:\n${tail(up.stdout)}\n${tail(up.stderr)}`).to.equal(0);
    const last = stackHistory(STACK).pop()!;
    const changes = Object.entries(last.resourceChanges ?? {}).filter(([op, n]) => n > 0 && !["same", "read"].includes(op));
    expect(changes, "resource changes of the second up").to.deep.equal([]);
    expect(await bootIds(lab), "nothing rebooted").to.deep.equal(before);
  });

  it("an input change that re-runs node commands (reboot delay) replaces every node's chain in order, one node per cluster at a time", async function () {
    await pulumiMust(["config", "set", "-s", STACK, "smith:rebootDelaySeconds", String(REBOOT_DELAY + 1)]);
    const events = path.join(scratch, "up-delay.events.jsonl");
    const up = await pulumiUp(STACK, { eventLog: events });
    log(`pulumi up after changing smith:rebootDelaySeconds: exit ${up.code} in ${up.seconds.toFixed(1)} s`);
    expect(up.code, `pulumi up failed:\n${tail(up.stdout)}\n${tail(up.stderr)}`).to.equal(0);
    const windows = nodeWindowsFromEvents(fs.readFileSync(events, "utf8"));
    // Every node's chain ran again (patch through health), not one step on its own...
    expect([...windows.keys()].sort(), "nodes whose patch and health re-ran").to.deep.equal(lab.machines.map((m) => m.name).sort());
    // ...and never two nodes of a cluster at once, waves in order.
    const plan = planFor(machines, "2");
    expect(chainOverlapProblems(plan, windows)).to.deep.equal([]);
    const waveSpans = plan.waves.map((w) => w.clusters.flatMap((c) => c.nodes).map((n) => windows.get(n)!));
    for (let i = 1; i < waveSpans.length; i++) {
      const prevEnd = Math.max(...waveSpans[i - 1]!.map((x) => x.end));
      expect(Math.min(...waveSpans[i]!.map((x) => x.start)), `wave ${plan.waves[i]!.name} starts after wave ${plan.waves[i - 1]!.name} ended`).to.be.at.least(prevEnd);
    }
    const changes = stackHistory(STACK).pop()!.resourceChanges ?? {};
    expect(changes.update ?? 0, "no resource updated in place").to.equal(0);
    expect(changes.replace ?? 0, "resources replaced").to.equal(lab.machines.length * 3);
    const runs = nodeRunsFromState(await exportStack(STACK));
    expect([...runs.values()].filter((r) => r.patch?.noop !== true).map((r) => r.name), "agent no-ops (same build)").to.deep.equal([]);
  });

  it("dynamic fleet: a reinstalled machine (new host key, old build) is patched again; a removed one is dropped untouched", async function () {
    const plan = planFor(machines, "2");
    const cluster = plan.waves[plan.waves.length - 1]!.clusters.find((c) => c.nodes.length >= 2)!;
    const [reinstalled, removed] = [cluster.nodes[0]!, cluster.nodes[1]!];
    // "Reinstall": back at build 1, then a new host key (sshd reads it at boot).
    await resetMachines({ ...lab, machines: lab.machines.filter((m) => m.name === reinstalled) }, "1");
    const keygen = await labExec(
      reinstalled,
      "mkdir -p /root/hk && cp -a /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key.pub /root/hk/ && rm -f /etc/ssh/ssh_host_ed25519_key* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub",
    );
    expect(keygen.code, keygen.stderr).to.equal(0);
    const newKey = keygen.stdout.trim();
    await rebootAndWait(reinstalled);

    const bootsBefore = await bootIdsExcept(lab, [reinstalled]);
    const dpkgBefore = (await labExec(removed, "wc -l </var/log/dpkg.log")).stdout.trim();
    const inventory = path.join(scratch, "inventory-dynamic.yaml");
    const changed = machines.filter((m) => m.name !== removed).map((m) => (m.name === reinstalled ? { ...m, hostKey: newKey } : m));
    fs.writeFileSync(inventory, stringify({ machines: changed }));
    await pulumiMust(["config", "set", "-s", STACK, "smith:inventory", inventory]);
    try {
      const up = await pulumiUp(STACK);
      log(`pulumi up with ${reinstalled} reinstalled and ${removed} removed: exit ${up.code} in ${up.seconds.toFixed(1)} s`);
      expect(up.code, `pulumi up failed:\n${tail(up.stdout)}\n${tail(up.stderr)}`).to.equal(0);
      const builds = await agentBuilds(lab, changed);
      expect(builds.get(reinstalled), `${reinstalled} patched again`).to.equal("2");
      // labExec pins the lab's known_hosts, which still has the old key: read the agent's report from the state.
      const patch = nodeRunsFromState(await exportStack(STACK)).get(reinstalled)?.patch;
      expect(patch?.noop, `${reinstalled} really patched`).to.equal(false);
      expect(patch?.changed.map((c) => c.to)).to.include(demoVersion("2"));
      const nodes = (await stackOutput(STACK, "nodes")) as Record<string, { hostKey?: string }>;
      expect(Object.keys(nodes), "the removed machine left the outputs").to.not.include(removed);
      expect(nodes[reinstalled]!.hostKey).to.equal(hostKeyFingerprint(newKey));
      // Untouched: the removed machine and every other machine (no reboot, no dpkg run).
      expect((await labExec(removed, "wc -l </var/log/dpkg.log")).stdout.trim(), `${removed} dpkg log`).to.equal(dpkgBefore);
      expect(await bootIdsExcept(lab, [reinstalled]), "no other machine rebooted").to.deep.equal(bootsBefore);
      const history = stackHistory(STACK);
      const state = (h: (typeof history)[number]) => nodeRunsFromState({ deployment: (h.checkpoint as { checkpoint?: { latest?: unknown } })?.checkpoint?.latest });
      expect(state(history[history.length - 1]!).has(removed), "gone from the current state").to.equal(false);
      expect(history.slice(0, -1).some((h) => state(h).has(removed)), "still in the audit history").to.equal(true);
    } finally {
      // Put the machine's own host key back and the lab inventory, so later steps and users see the lab as it was.
      const m = machines.find((x) => x.name === reinstalled)!;
      await labExecAnyKey(m.host, "cp -a /root/hk/ssh_host_ed25519_key /root/hk/ssh_host_ed25519_key.pub /etc/ssh/ && rm -rf /root/hk");
      await rebootAndWait(reinstalled).catch(() => undefined);
      await pulumiMust(["config", "set", "-s", STACK, "smith:inventory", path.relative(REPO_ROOT, lab.inventoryPath)]);
    }
  });

  it("resumes after the CLI is killed mid-rollout: every machine installs build 3 exactly once", async function () {
    await pulumiMust(["config", "set", "-s", STACK, "smith:build", "3"]);
    const dpkgBefore = await dpkgLogLines(lab);
    const bootsBefore = await bootIds(lab);
    const events = path.join(scratch, "up-3-killed.events.jsonl");
    const output = path.join(scratch, "up-3-killed.out");
    const run = spawnPulumiUp(STACK, { eventLog: events, outputFile: output });
    // Kill the whole group once the first node finished (its healthcheck's outputs) and the next
    // wave's patches have started: those are in flight on the machines when the CLI dies.
    const deadline = Date.now() + 5 * 60_000;
    let finished = new Set<string>();
    let inFlight: string[] = [];
    while (Date.now() < deadline && !run.hasExited()) {
      const text = fs.existsSync(events) ? fs.readFileSync(events, "utf8") : "";
      finished = new Set(nodeWindowsFromEvents(text).keys());
      inFlight = [...patchesStarted(text)].filter((n) => !finished.has(n));
      if (finished.size > 0 && inFlight.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(run.hasExited(), `pulumi up ended before the kill:\n${tail(fs.readFileSync(output, "utf8"))}`).to.equal(false);
    expect(finished.size, "a node finished before the kill").to.be.greaterThan(0);
    await new Promise((r) => setTimeout(r, 500)); // the in-flight agents are running apt now
    process.kill(-run.pid, "SIGKILL");
    const code = await run.exited;
    log(`killed pulumi up (pid ${run.pid}, exit ${code}) after ${finished.size} node(s) finished, ${inFlight.length} patch(es) in flight: ${inFlight.join(", ")}`);

    // The file backend leaves the dead run's lock; clear it only if no live process owns it.
    const locks = stackLocks(STACK);
    expect(locks.length, "the killed run's lock").to.be.greaterThan(0);
    for (const l of locks) {
      expect(l.hostname === null || l.hostname === os.hostname(), `lock ${l.file} is held from ${l.hostname}`).to.equal(true);
      expect(l.pid !== null && pidAlive(l.pid), `lock ${l.file} owner ${l.pid} is alive`).to.equal(false);
      fs.rmSync(l.file);
    }

    const up = await pulumiUp(STACK, { eventLog: path.join(scratch, "up-3-resumed.events.jsonl") });
    log(`resumed pulumi up: exit ${up.code} in ${up.seconds.toFixed(1)} s`);
    expect(up.code, `resumed pulumi up failed:\n${tail(up.stdout)}\n${tail(up.stderr)}`).to.equal(0);

    const builds = await agentBuilds(lab, machines);
    expect([...builds].filter(([, b]) => b !== "3"), "machines whose agent status is not build 3").to.deep.equal([]);
    const installs = await installsSince(lab, dpkgBefore, "smith-demo-kernel", demoVersion("3"));
    expect([...installs].filter(([, n]) => n !== 1), "machines that did not install build 3 exactly once").to.deep.equal([]);
    const runs = nodeRunsFromState(await exportStack(STACK));
    expect([...runs.values()].filter((r) => r.health?.healthy !== true || r.patch?.build !== "3").map((r) => r.name)).to.deep.equal([]);
    // A patch the dead run left in flight finished on its machine; the resumed run found it done.
    const noops = inFlight.filter((n) => runs.get(n)?.patch?.noop === true);
    log(`resumed: ${noops.length} of ${inFlight.length} in-flight patch(es) were agent no-ops (${noops.join(", ") || "none"})`);
    const bootsAfter = await bootIds(lab);
    expect(lab.machines.filter((m) => bootsAfter.get(m.name) === bootsBefore.get(m.name)).map((m) => m.name), "machines that did not reboot for build 3").to.deep.equal([]);
    expect(stackHistory(STACK).pop()!.result).to.equal("succeeded");
  });

  it("a failed node stops its own cluster only; the other clusters of the wave finish", async function () {
    const t0 = Date.now();
    await resetMachines(lab, "2");
    log(`reset to build 2 in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const plan = planFor(machines, "3");
    // The last wave's longest cluster; its second node fails, so one node before it is patched.
    const wave = plan.waves[plan.waves.length - 1]!;
    const cluster = [...wave.clusters].sort((a, b) => b.nodes.length - a.nodes.length)[0]!;
    expect(cluster.nodes.length, `cluster ${cluster.cluster} size`).to.be.greaterThan(2);
    const failing = cluster.nodes[1]!;
    await labFault(failing, "postinst-fail", true);
    await freshLabStack(FAIL_STACK, lab, { build: "3", rebootDelaySeconds: REBOOT_DELAY });

    const up = await pulumiUp(FAIL_STACK, { continueOnError: true });
    log(`pulumi up --continue-on-error with ${failing} failing: exit ${up.code} in ${up.seconds.toFixed(1)} s`);
    expect(up.code, "exit status").to.not.equal(0);
    expect(up.stdout + up.stderr, "the error names the machine").to.include(failing);

    const builds = await agentBuilds(lab, machines);
    const expected = new Map(lab.machines.map((m) => [m.name, "3"]));
    for (const n of cluster.nodes.slice(1)) expected.set(n, "2");
    expect(Object.fromEntries(builds)).to.deep.equal(Object.fromEntries(expected));
    for (const n of cluster.nodes.slice(2)) {
      expect((await demoVersions(n))["smith-demo-kernel"], `${n} (after the failed node) untouched`).to.equal(demoVersion("2"));
    }
    for (const c of wave.clusters.filter((x) => x.cluster !== cluster.cluster)) {
      for (const n of c.nodes) expect(builds.get(n), `${n} of cluster ${c.cluster}`).to.equal("3");
    }
    const history = stackHistory(FAIL_STACK).pop()!;
    expect(history.result).to.equal("failed");
  });
});
