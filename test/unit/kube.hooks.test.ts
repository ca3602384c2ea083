import { expect } from "chai";
import type * as pulumiType from "@pulumi/pulumi";
import type { Machine } from "../../src/inventory/schema";
import { installMocks, Recorder } from "./components.mocks";

type Hooks = typeof import("../../components/kube/hooks");

const machine = (name: string, role = "kubernetes-node"): Machine => ({ name, host: "10.0.0.1", environment: "prod", region: "eu", cluster: "c1", role });

describe("kube hooks (components/kube/hooks.ts, Pulumi mocks)", () => {
  let rec: Recorder;
  let pulumi: typeof pulumiType;
  let hooks: Hooks;
  let local: typeof import("@pulumi/command").local;
  let remote: typeof import("@pulumi/command").remote;

  before(async () => {
    rec = installMocks({ stack: "dev" });
    pulumi = await import("@pulumi/pulumi");
    hooks = await import("../../components/kube/hooks");
    ({ local, remote } = await import("@pulumi/command"));
  });
  beforeEach(() => rec.reset());

  const settings = { kubeconfig: "/etc/kube/config", drainTimeoutSeconds: 300, projectDir: "/p" };

  function chain(ctxExtra: Partial<import("../../components/fleet/hooks").NodeHookContext> = {}) {
    const factory = hooks.kubeNodeHooks(settings);
    const parent = new pulumi.ComponentResource("test:index:Node", "n1", {}, {});
    const previous = new local.Command("prev", { create: "true" });
    const m = machine("n1");
    const h = factory(m)!;
    const ctx = { name: "n1", machine: m, build: "7", parent, after: [previous], triggers: ["7", "rev1"], frozen: false, ...ctxExtra };
    const drain = h.beforePatch!(ctx);
    const health = new remote.Command("n1-health", { connection: { host: "10.0.0.1" }, create: "true" }, { dependsOn: drain });
    const uncordon = h.afterHealth!({ ...ctx, health });
    return { drain, uncordon };
  }

  it("no hooks for machines that are not Kubernetes nodes, nor without a kubeconfig", () => {
    expect(hooks.kubeNodeHooks(settings)(machine("db1", "db"))).to.equal(undefined);
    expect(hooks.kubeNodeHooks(undefined)(machine("n1"))).to.equal(undefined);
    expect(hooks.kubeHookSettings({ kubernetesNodeRoles: ["k"], kubernetesDrainTimeoutSeconds: 9 })).to.equal(undefined);
  });

  it("drain waits for what the node waits for; uncordon waits for health; both carry the node's triggers", async () => {
    chain();
    await rec.settle();
    const drain = rec.byName("n1-kube-drain");
    const uncordon = rec.byName("n1-kube-uncordon");
    expect(drain.type).to.equal("command:local:Command");
    expect(drain.inputs.create).to.equal(
      "'node' 'bin/smith.js' 'kube' 'drain' '--node' 'n1' '--kubeconfig' '/etc/kube/config' '--timeout' '300' '--build' '7'",
    );
    expect(drain.inputs.triggers).to.deep.equal(["7", "rev1"]);
    expect(drain.dependencies.map((u) => rec.nameOfUrn(u))).to.deep.equal(["prev"]);
    expect(drain.parentUrn).to.match(/::n1$/);
    expect(drain.customTimeouts?.create).to.equal("420s");
    expect(drain.ignoreChanges).to.deep.equal([]);
    expect(uncordon.inputs.create).to.equal("'node' 'bin/smith.js' 'kube' 'uncordon' '--node' 'n1' '--kubeconfig' '/etc/kube/config'");
    expect(uncordon.dependencies.map((u) => rec.nameOfUrn(u))).to.deep.equal(["n1-health"]);
    expect(uncordon.inputs.triggers).to.deep.equal(["7", "rev1"]);
  });

  it("while the node's build is unchanged (or the wave is held) config changes do not re-run the steps", async () => {
    chain({ previousBuild: "7" });
    await rec.settle();
    expect(rec.byName("n1-kube-drain").ignoreChanges).to.include.members(["create", "environment"]);
    rec.reset();
    chain({ previousBuild: "6" });
    await rec.settle();
    expect(rec.byName("n1-kube-drain").ignoreChanges).to.deep.equal([]);
    rec.reset();
    chain({ frozen: true });
    await rec.settle();
    expect(rec.byName("n1-kube-uncordon").ignoreChanges).to.include("create");
  });
});
