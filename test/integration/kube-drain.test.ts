import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import * as k8s from "@kubernetes/client-node";
import { DRAIN_RULES } from "../../src/kube/rbac";
import { CORDONED_BY_ANNOTATION } from "../../src/kube/pods";
import { FakeKubelet, kubeUnavailableReason, runningPod, startTestCluster, TestCluster } from "../support/kube";
import { REPO_ROOT } from "../support/pulumi";

/**
 * `smith kube drain|uncordon` against a real kube-apiserver (scripts/kube-apiserver.sh): Node and
 * Pod objects made through the API, a fake kubelet finishing pod deletions, the steps running as
 * a user whose only rights are DRAIN_RULES (what the platform's ClusterRole grants).
 */
describe("kube drain/uncordon on a real API server", function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let core: k8s.CoreV1Api;
  let kubelet: FakeKubelet;
  let drainer: string;

  before(async function () {
    const reason = kubeUnavailableReason();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    cluster = await startTestCluster();
    core = cluster.admin.makeApiClient(k8s.CoreV1Api);
    const rbac = cluster.admin.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createClusterRole({ body: { metadata: { name: "smith-node-drainer" }, rules: DRAIN_RULES } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: "smith-node-drainer" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "smith-node-drainer" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "smith-drainer" }],
      },
    });
    drainer = await cluster.user("smith-drainer");
    await core.createNamespace({ body: { metadata: { name: "apps" } } });
    // No controller-manager: the ServiceAccount admission plugin needs the default account to exist.
    await core.createNamespacedServiceAccount({ namespace: "apps", body: { metadata: { name: "default" } } });
    kubelet = new FakeKubelet(core);
    kubelet.start();
  });
  after(async () => {
    kubelet?.stop();
    await cluster?.stop();
  });

  let seq = 0;
  async function node(opts: { unschedulable?: boolean } = {}): Promise<string> {
    const name = `node-${++seq}`;
    await core.createNode({ body: { metadata: { name }, spec: { unschedulable: opts.unschedulable ?? false } } });
    return name;
  }
  const pod = (nodeName: string, name: string, extra: Partial<k8s.V1ObjectMeta> = {}) => runningPod(core, "apps", nodeName, { name, ...extra });
  async function podsOn(nodeName: string): Promise<string[]> {
    const l = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` });
    return l.items.map((p) => p.metadata!.name!).sort();
  }
  const readNode = (name: string) => core.readNode({ name });

  function smith(args: string[]): { child: ChildProcess; done: Promise<{ code: number; json: any; stderr: string }> } {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "bin", "smith.js"), "kube", ...args, "--kubeconfig", drainer], { cwd: REPO_ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d));
    child.stderr!.on("data", (d: Buffer) => (stderr += d));
    const done = new Promise<{ code: number; json: any; stderr: string }>((resolve) =>
      child.on("close", (code, signal) => {
        const last = stdout.trim().split("\n").pop() ?? "";
        resolve({ code: code ?? (signal ? 128 : 1), json: last ? JSON.parse(last) : undefined, stderr });
      }),
    );
    return { child, done };
  }
  const kube = async (...args: string[]) => smith(args).done;

  it("cordons (marked as smith's), evicts the pods, leaves DaemonSet pods; uncordon undoes exactly that", async () => {
    const n = await node();
    await pod(n, "web-1");
    await pod(n, "web-2");
    await pod(n, "agent", { ownerReferences: [{ apiVersion: "apps/v1", kind: "DaemonSet", name: "agent", uid: "00000000-0000-0000-0000-000000000001", controller: true }] });

    const r = await kube("drain", "--node", n, "--timeout", "60", "--build", "7");
    expect(r.code, r.stderr).to.equal(0);
    expect(r.json).to.include({ node: n, cordonedBy: "smith", cordonedNow: true });
    expect(r.json.evicted).to.deep.equal(["apps/web-1", "apps/web-2"]);
    expect(r.json.daemonSet).to.deep.equal(["apps/agent"]);
    expect(await podsOn(n)).to.deep.equal(["agent"]);
    const cordoned = await readNode(n);
    expect(cordoned.spec!.unschedulable).to.equal(true);
    expect(cordoned.metadata!.annotations).to.include({ [CORDONED_BY_ANNOTATION]: "smith", "smith.fleet/cordoned-for": "7" });

    const u = await kube("uncordon", "--node", n);
    expect(u.code, u.stderr).to.equal(0);
    expect(u.json).to.deep.equal({ node: n, uncordoned: true });
    const after = await readNode(n);
    expect(after.spec!.unschedulable ?? false).to.equal(false);
    expect(after.metadata!.annotations ?? {}).to.not.have.property(CORDONED_BY_ANNOTATION);
  });

  it("a node cordoned by someone else is drained and stays cordoned", async () => {
    const n = await node({ unschedulable: true });
    await pod(n, "batch-1");
    const r = await kube("drain", "--node", n, "--timeout", "60");
    expect(r.code, r.stderr).to.equal(0);
    expect(r.json).to.include({ cordonedBy: "other", cordonedNow: false });
    const u = await kube("uncordon", "--node", n);
    expect(u.json).to.deep.equal({ node: n, uncordoned: false, reason: "cordoned by someone else: left cordoned" });
    expect((await readNode(n)).spec!.unschedulable).to.equal(true);
  });

  it("a PodDisruptionBudget that forbids the eviction: bounded wait, exit 3, the pod and the reason named, node stays cordoned", async () => {
    const n = await node();
    await pod(n, "db-0", { labels: { app: "db" } });
    const policy = cluster.admin.makeApiClient(k8s.PolicyV1Api);
    await policy.createNamespacedPodDisruptionBudget({
      namespace: "apps",
      body: { metadata: { name: "db" }, spec: { minAvailable: 1, selector: { matchLabels: { app: "db" } } } },
    });
    const r = await kube("drain", "--node", n, "--timeout", "3");
    expect(r.code).to.equal(3);
    expect(r.json.exitCode).to.equal(3);
    expect(r.json.error).to.match(new RegExp(`^node ${n}: drain not finished after 3 s: 1 pod\\(s\\) left: apps/db-0 \\(`));
    expect(r.json.remaining).to.have.length(1);
    expect(r.json.remaining[0].pod).to.equal("apps/db-0");
    // The API server's own words: the budget (no controller has computed it, so it allows nothing).
    expect(r.json.remaining[0].reason).to.match(/disruption budget/i);
    expect(await podsOn(n)).to.deep.equal(["db-0"]);
    expect((await readNode(n)).spec!.unschedulable).to.equal(true);
  });

  it("resumes after a crash in the middle of a drain, and the node is still smith's to uncordon", async () => {
    const n = await node();
    await pod(n, "slow-1");
    kubelet.stop(); // the pod will stay terminating: the drain waits
    const first = smith(["drain", "--node", n, "--timeout", "120"]);
    // Wait until the drain has cordoned and evicted, then kill it mid-wait.
    for (let i = 0; i < 300; i++) {
      const p = await core.readNamespacedPod({ name: "slow-1", namespace: "apps" }).catch(() => undefined);
      if (p?.metadata?.deletionTimestamp) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    first.child.kill("SIGKILL");
    expect((await first.done).code).to.equal(128);
    expect((await readNode(n)).metadata!.annotations).to.include({ [CORDONED_BY_ANNOTATION]: "smith" });
    expect(await podsOn(n)).to.deep.equal(["slow-1"]);

    kubelet.start();
    const again = await kube("drain", "--node", n, "--timeout", "60");
    expect(again.code, again.stderr).to.equal(0);
    expect(again.json).to.include({ cordonedBy: "smith", cordonedNow: false });
    expect(await podsOn(n)).to.deep.equal([]);
    expect((await kube("uncordon", "--node", n)).json).to.deep.equal({ node: n, uncordoned: true });
  });

  it("the drainer's rights are exactly enough: it cannot delete pods or read secrets", async () => {
    const limited = new k8s.KubeConfig();
    limited.loadFromFile(drainer);
    const api = limited.makeApiClient(k8s.CoreV1Api);
    const n = await node();
    await pod(n, "keep");
    const del = await api.deleteNamespacedPod({ name: "keep", namespace: "apps" }).catch((e) => e);
    expect(del.code).to.equal(403);
    const sec = await api.listNamespacedSecret({ namespace: "apps" }).catch((e) => e);
    expect(sec.code).to.equal(403);
  });

  it("names a node the cluster does not have (exit 4)", async () => {
    const r = await kube("drain", "--node", "ghost", "--timeout", "5");
    expect(r.code).to.equal(4);
    expect(r.json).to.include({ error: "node ghost: no such Node in the cluster", exitCode: 4 });
  });
});
