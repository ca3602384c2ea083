import { expect } from "chai";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as k8s from "@kubernetes/client-node";
import { findPulumi, pulumiEnv } from "../../src/pulumi/env";
import { CORDONED_BY_ANNOTATION } from "../../src/kube/pods";
import { FakeKubelet, kubeUnavailableReason, runningPod, startTestCluster, TestCluster } from "../support/kube";
import { commandProviderUnavailableReason, createTempProject, pulumiOk, pulumiUnavailableReason, REPO_ROOT, runPulumi, TempProject } from "../support/pulumi";

/**
 * The drain/uncordon hooks in a node chain under the real engine, against a real API server.
 * Each "machine" is a chain like NodePatch's (hooks.beforePatch → patch → health →
 * hooks.afterHealth, the next node after the previous one's last step), with local commands
 * standing in for the SSH steps: what is tested is the hooks' place in the chain.
 */
const PROGRAM = `
import * as pulumi from "@pulumi/pulumi";
import { local } from "@pulumi/command";
import { kubeNodeHooks } from ${JSON.stringify(path.join(REPO_ROOT, "components", "kube", "hooks"))};

const cfg = new pulumi.Config();
const build = cfg.require("build");
const hooks = kubeNodeHooks({ kubeconfig: cfg.require("kubeconfig"), drainTimeoutSeconds: Number(cfg.require("drainTimeout")) });
class Node extends pulumi.ComponentResource {
  constructor(name: string) { super("test:index:Node", name, {}, {}); }
}
let after: pulumi.Resource[] = [];
for (const n of JSON.parse(cfg.require("nodes")) as string[]) {
  const parent = new Node(n);
  const machine = { name: n, host: "127.0.0.1", environment: "t", region: "r", cluster: "c", role: "kubernetes-node" };
  const h = hooks(machine)!;
  const ctx = { name: n, machine, build, parent, after, triggers: [build], frozen: false };
  const before = h.beforePatch!(ctx);
  const patch = new local.Command(n + "-patch", { create: "echo patched " + n, triggers: [build] }, { parent, dependsOn: before });
  const health = new local.Command(n + "-health", { create: "true", triggers: [build] }, { parent, dependsOn: [patch] });
  after = h.afterHealth!({ ...ctx, health });
}
`;

describe("kube hooks in the node chain (real engine, real API server)", function () {
  this.timeout(900_000);
  let cluster: TestCluster;
  let core: k8s.CoreV1Api;
  let kubelet: FakeKubelet;
  let project: TempProject;
  const env = () => ({ ...project.env, PULUMI_CONFIG_PASSPHRASE: "kube-hooks-test-only" });

  before(async function () {
    const reason = pulumiUnavailableReason() ?? commandProviderUnavailableReason() ?? kubeUnavailableReason();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    cluster = await startTestCluster();
    core = cluster.admin.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "apps" } } });
    await core.createNamespacedServiceAccount({ namespace: "apps", body: { metadata: { name: "default" } } });
    kubelet = new FakeKubelet(core);
    kubelet.start();
    project = createTempProject("kubehooks", PROGRAM);
    // The hooks run `node bin/smith.js …` from the project directory, as in the smith project.
    fs.symlinkSync(path.join(REPO_ROOT, "bin"), path.join(project.dir, "bin"), "dir");
  });
  after(async () => {
    kubelet?.stop();
    project?.remove();
    await cluster?.stop();
  });

  const opts = () => ({ cwd: project.dir, env: env(), timeoutMs: 10 * 60_000 });
  async function stack(name: string, nodes: string[], drainTimeout = 60): Promise<void> {
    await pulumiOk(["stack", "init", name], opts());
    const set = (k: string, v: string) => pulumiOk(["config", "set", "-s", name, k, "--", v], opts());
    await set("build", "1");
    await set("kubeconfig", cluster.kubeconfig);
    await set("drainTimeout", String(drainTimeout));
    await set("nodes", JSON.stringify(nodes));
    for (const n of nodes) {
      await core.createNode({ body: { metadata: { name: n } } });
      await runningPod(core, "apps", n, { name: `${n}-app`, labels: { app: n } });
    }
  }
  const podsOn = async (n: string) => (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${n}` })).items.length;
  async function resources(name: string): Promise<string[]> {
    const r = await pulumiOk(["stack", "export", "-s", name], opts());
    const dep = JSON.parse(r.stdout).deployment;
    return (dep.resources ?? []).map((x: { urn: string }) => x.urn.split("::").pop()).filter((n: string) => /-(kube-drain|patch|health|kube-uncordon)$/.test(n));
  }

  it("drains before the patch and uncordons after health, node by node; a second up is a no-op", async () => {
    await stack("ok", ["k1", "k2"]);
    const up = await pulumiOk(["up", "-s", "ok", "--yes", "--skip-preview"], opts());
    expect(up.stdout).to.match(/\+ \d+ created/);
    for (const n of ["k1", "k2"]) {
      expect(await podsOn(n), n).to.equal(0);
      const node = await core.readNode({ name: n });
      expect(node.spec!.unschedulable ?? false, n).to.equal(false);
      expect(node.metadata!.annotations ?? {}, n).to.not.have.property(CORDONED_BY_ANNOTATION);
    }
    // Chain order: k2's drain waited for k1's uncordon.
    const exported = JSON.parse((await pulumiOk(["stack", "export", "-s", "ok"], opts())).stdout).deployment.resources;
    const k2drain = exported.find((r: { urn: string }) => r.urn.endsWith("::k2-kube-drain"));
    expect(k2drain.dependencies.map((u: string) => u.split("::").pop())).to.deep.equal(["k1-kube-uncordon"]);
    await pulumiOk(["up", "-s", "ok", "--yes", "--skip-preview", "--expect-no-changes"], opts());
  });

  it("a PodDisruptionBudget blocks a drain: after the bound the node fails, stays cordoned, and its cluster halts", async () => {
    await stack("pdb", ["p1", "p2", "p3"], 5);
    const policy = cluster.admin.makeApiClient(k8s.PolicyV1Api);
    await policy.createNamespacedPodDisruptionBudget({
      namespace: "apps",
      body: { metadata: { name: "p2" }, spec: { minAvailable: 1, selector: { matchLabels: { app: "p2" } } } },
    });
    const up = await runPulumi(["up", "-s", "pdb", "--yes", "--skip-preview", "--continue-on-error"], opts());
    expect(up.code).to.not.equal(0);
    expect(up.stdout + up.stderr).to.match(/node p2: drain not finished after 5 s: 1 pod\(s\) left: apps\/p2-app/);
    expect(await resources("pdb")).to.have.members(["p1-kube-drain", "p1-patch", "p1-health", "p1-kube-uncordon"]);
    expect((await core.readNode({ name: "p1" })).spec!.unschedulable ?? false).to.equal(false);
    expect((await core.readNode({ name: "p2" })).spec!.unschedulable).to.equal(true);
    expect(await podsOn("p3")).to.equal(1); // never drained: the cluster halted at p2
    expect((await core.readNode({ name: "p3" })).spec!.unschedulable ?? false).to.equal(false);
  });

  it("crash in the middle of a drain: the next up resumes it and uncordons the node", async () => {
    await stack("crash", ["c1"]);
    kubelet.stop(); // c1's pod stays terminating: the drain waits
    const bin = findPulumi(REPO_ROOT)!;
    const out = path.join(project.dir, "crash-up.log");
    const fd = fs.openSync(out, "w");
    const child = spawn(bin, ["up", "-s", "crash", "--yes", "--skip-preview"], {
      cwd: project.dir,
      env: { ...pulumiEnv(REPO_ROOT), ...env() },
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    fs.closeSync(fd);
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    let evicted = false;
    for (let i = 0; i < 1200 && !evicted; i++) {
      const p = await core.readNamespacedPod({ name: "c1-app", namespace: "apps" }).catch(() => undefined);
      evicted = Boolean(p?.metadata?.deletionTimestamp);
      if (!evicted) await new Promise((r) => setTimeout(r, 100));
    }
    expect(evicted, fs.readFileSync(out, "utf8")).to.equal(true);
    process.kill(-child.pid!, "SIGKILL");
    await exited;
    killDrains("c1"); // the local command runs in its own process group: end it too, as a lost machine would
    expect((await core.readNode({ name: "c1" })).metadata!.annotations).to.include({ [CORDONED_BY_ANNOTATION]: "smith" });

    // The dead run's lock (no live owner) is cleared, as docs/pulumi.md says.
    const locks = path.join(project.dir, ".state", ".pulumi", "locks");
    fs.rmSync(locks, { recursive: true, force: true });
    kubelet.start();
    const up = await runPulumi(["up", "-s", "crash", "--yes", "--skip-preview"], opts());
    expect(up.code, up.stdout + up.stderr).to.equal(0);
    expect(await podsOn("c1")).to.equal(0);
    const node = await core.readNode({ name: "c1" });
    expect(node.spec!.unschedulable ?? false).to.equal(false);
    expect(node.metadata!.annotations ?? {}).to.not.have.property(CORDONED_BY_ANNOTATION);
  });
});

/** Ends `smith kube drain --node NODE` processes this test started (found by their command line). */
function killDrains(node: string): void {
  for (const pid of fs.readdirSync("/proc").filter((d) => /^[0-9]+$/.test(d))) {
    let cmd = "";
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (cmd.includes(`kube\0drain\0--node\0${node}\0`)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  }
}
