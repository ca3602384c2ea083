import { expect } from "chai";
import { DrainError, drainNode, KubeApi, uncordonNode } from "../../src/kube/drain";
import { CORDONED_BY_ANNOTATION, cordonState, NodeLike, planPods, PodLike } from "../../src/kube/pods";

/** An in-memory API server: nodes, pods, and PodDisruptionBudgets as "pods that may not be evicted now". */
class FakeApi implements KubeApi {
  nodes = new Map<string, NodeLike>();
  pods: (PodLike & { node: string })[] = [];
  blocked = new Set<string>();
  evictions: string[] = [];
  /** Pods the fake kubelet removes right after eviction (default: all). */
  finishes = (_ref: string) => true;

  async readNode(name: string) {
    const n = this.nodes.get(name);
    return n && JSON.parse(JSON.stringify(n));
  }
  async patchNode(name: string, patch: { metadata?: { annotations?: Record<string, string | null> }; spec?: { unschedulable?: boolean } }) {
    const n = this.nodes.get(name)!;
    const ann = { ...(n.metadata?.annotations ?? {}) };
    for (const [k, v] of Object.entries(patch.metadata?.annotations ?? {})) {
      if (v === null) delete ann[k];
      else ann[k] = v;
    }
    n.metadata = { ...n.metadata, annotations: ann };
    n.spec = { ...n.spec, ...patch.spec };
  }
  async listPods(node: string) {
    return this.pods.filter((p) => p.node === node);
  }
  async evictPod(namespace: string, name: string) {
    const ref = `${namespace}/${name}`;
    if (this.blocked.has(ref)) return { outcome: "blocked" as const, reason: "Cannot evict pod as it would violate the pod's disruption budget." };
    this.evictions.push(ref);
    const pod = this.pods.find((p) => p.metadata?.namespace === namespace && p.metadata?.name === name);
    if (pod && this.finishes(ref)) this.pods = this.pods.filter((p) => p !== pod);
    else if (pod) pod.metadata!.deletionTimestamp = "2026-12-02T00:00:00Z";
    return { outcome: "evicted" as const };
  }
}

function pod(node: string, ns: string, name: string, extra: Partial<NonNullable<PodLike["metadata"]>> = {}): PodLike & { node: string } {
  return { node, metadata: { namespace: ns, name, ...extra } };
}

/** A fake clock: sleep advances it, so bounded waits end without real time passing. */
function clock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

describe("kube: pod plan and cordon state", () => {
  it("evicts everything but DaemonSet and static pods, and waits for terminating ones", () => {
    const plan = planPods([
      pod("n", "a", "web", { ownerReferences: [{ kind: "ReplicaSet", controller: true }] }),
      pod("n", "kube-system", "proxy", { ownerReferences: [{ kind: "DaemonSet", controller: true }] }),
      pod("n", "kube-system", "etcd-n", { annotations: { "kubernetes.io/config.mirror": "x" } }),
      pod("n", "a", "bare"),
      pod("n", "a", "going", { deletionTimestamp: "2026-12-02T00:00:00Z" }),
    ]);
    expect(plan).to.deep.equal({ evict: ["a/bare", "a/web"], terminating: ["a/going"], daemonSet: ["kube-system/proxy"], mirror: ["kube-system/etcd-n"] });
  });

  it("tells smith's cordon from someone else's", () => {
    expect(cordonState({ spec: {} })).to.equal("schedulable");
    expect(cordonState({ spec: { unschedulable: true } })).to.equal("other");
    expect(cordonState({ spec: { unschedulable: true }, metadata: { annotations: { [CORDONED_BY_ANNOTATION]: "smith" } } })).to.equal("smith");
  });
});

describe("kube: drainNode / uncordonNode (fake API)", () => {
  it("cordons with smith's mark, evicts, leaves DaemonSet pods; uncordon removes the mark", async () => {
    const api = new FakeApi();
    api.nodes.set("n1", { metadata: { name: "n1" }, spec: {} });
    api.pods = [pod("n1", "a", "web"), pod("n1", "a", "ds", { ownerReferences: [{ kind: "DaemonSet", controller: true }] }), pod("n2", "a", "other")];
    const r = await drainNode(api, { node: "n1", build: "7", timeoutMs: 10_000, ...clock() });
    expect(r).to.include({ node: "n1", cordonedBy: "smith", cordonedNow: true });
    expect(r.evicted).to.deep.equal(["a/web"]);
    expect(r.daemonSet).to.deep.equal(["a/ds"]);
    expect(api.nodes.get("n1")!.spec!.unschedulable).to.equal(true);
    expect(api.nodes.get("n1")!.metadata!.annotations).to.deep.equal({ [CORDONED_BY_ANNOTATION]: "smith", "smith.fleet/cordoned-for": "7" });

    expect(await uncordonNode(api, "n1")).to.deep.equal({ node: "n1", uncordoned: true });
    expect(api.nodes.get("n1")!.spec!.unschedulable).to.equal(false);
    expect(api.nodes.get("n1")!.metadata!.annotations).to.deep.equal({});
  });

  it("a node cordoned by someone else is drained but stays cordoned", async () => {
    const api = new FakeApi();
    api.nodes.set("n1", { metadata: { name: "n1" }, spec: { unschedulable: true } });
    api.pods = [pod("n1", "a", "web")];
    const r = await drainNode(api, { node: "n1", timeoutMs: 10_000, ...clock() });
    expect(r).to.include({ cordonedBy: "other", cordonedNow: false });
    expect(await uncordonNode(api, "n1")).to.deep.equal({ node: "n1", uncordoned: false, reason: "cordoned by someone else: left cordoned" });
    expect(api.nodes.get("n1")!.spec!.unschedulable).to.equal(true);
  });

  it("resumes a drain smith started (its mark is there) and still uncordons afterwards", async () => {
    const api = new FakeApi();
    api.nodes.set("n1", { metadata: { name: "n1", annotations: { [CORDONED_BY_ANNOTATION]: "smith" } }, spec: { unschedulable: true } });
    const r = await drainNode(api, { node: "n1", timeoutMs: 10_000, ...clock() });
    expect(r).to.include({ cordonedBy: "smith", cordonedNow: false });
    expect((await uncordonNode(api, "n1")).uncordoned).to.equal(true);
  });

  it("retries evictions a PodDisruptionBudget blocks until it allows them", async () => {
    const api = new FakeApi();
    api.nodes.set("n1", { metadata: { name: "n1" }, spec: {} });
    api.pods = [pod("n1", "a", "db")];
    api.blocked.add("a/db");
    const c = clock();
    const sleep = async (ms: number) => {
      await c.sleep(ms);
      if (c.now() >= 3000) api.blocked.clear(); // the budget allows it after 3 s
    };
    const r = await drainNode(api, { node: "n1", timeoutMs: 60_000, now: c.now, sleep });
    expect(r.evicted).to.deep.equal(["a/db"]);
    // Evicted on the first round after the budget allowed it; done one poll later.
    expect(c.now()).to.equal(4000);
  });

  it("gives up at the bound with the blocked pods and why; the node stays cordoned", async () => {
    const api = new FakeApi();
    api.nodes.set("n1", { metadata: { name: "n1" }, spec: {} });
    api.pods = [pod("n1", "a", "db"), pod("n1", "a", "slow")];
    api.blocked.add("a/db");
    api.finishes = (ref) => ref !== "a/slow";
    const err = await drainNode(api, { node: "n1", timeoutMs: 5000, pollMs: 1000, ...clock() }).catch((e) => e);
    expect(err).to.be.instanceOf(DrainError);
    expect(err.code).to.equal("timeout");
    expect(err.remaining).to.deep.equal([
      { pod: "a/db", reason: "Cannot evict pod as it would violate the pod's disruption budget." },
      { pod: "a/slow", reason: "still terminating" },
    ]);
    expect(err.message).to.match(/^node n1: drain not finished after 5 s: 2 pod\(s\) left: a\/db \(Cannot evict/);
    expect(api.nodes.get("n1")!.spec!.unschedulable).to.equal(true);
  });

  it("fails clearly for a node the cluster does not have", async () => {
    const err = await drainNode(new FakeApi(), { node: "ghost", timeoutMs: 1000, ...clock() }).catch((e) => e);
    expect(err).to.be.instanceOf(DrainError);
    expect(err.message).to.equal("node ghost: no such Node in the cluster");
  });
});
