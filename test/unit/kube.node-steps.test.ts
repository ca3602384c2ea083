import { expect } from "chai";
import type { Machine } from "../../src/inventory/schema";
import { drainCommand, kubeNodeOf, uncordonCommand } from "../../src/kube/node-steps";

const m = (over: Partial<Machine> = {}): Machine => ({
  name: "Web-1",
  host: "10.0.0.1",
  environment: "prod",
  region: "eu",
  cluster: "c1",
  role: "kubernetes-node",
  ...over,
});

describe("kube: node steps", () => {
  it("a machine is a Kubernetes node by role or by label; the label names the Node", () => {
    expect(kubeNodeOf(m())).to.deep.equal({ node: "web-1" });
    expect(kubeNodeOf(m({ role: "db" }))).to.equal(undefined);
    expect(kubeNodeOf(m({ role: "db", labels: { "kubernetes-node": "n7", "kubernetes-context": "eu" } }))).to.deep.equal({ node: "n7", context: "eu" });
    expect(kubeNodeOf(m({ role: "worker" }), ["worker"])).to.deep.equal({ node: "web-1" });
  });

  it("renders quoted command lines, kubeconfig relative to the project when inside it", () => {
    const s = { kubeconfig: "/p/.smith/kube/admin.kubeconfig", projectDir: "/p", drainTimeoutSeconds: 90 };
    expect(drainCommand(s, { node: "n1", context: "c" }, "7")).to.equal(
      "'node' 'bin/smith.js' 'kube' 'drain' '--node' 'n1' '--kubeconfig' '.smith/kube/admin.kubeconfig' '--context' 'c' '--timeout' '90' '--build' '7'",
    );
    expect(uncordonCommand({ kubeconfig: "/etc/k/it's", projectDir: "/p" }, { node: "n1" })).to.equal(
      "'node' 'bin/smith.js' 'kube' 'uncordon' '--node' 'n1' '--kubeconfig' '/etc/k/it'\\''s'",
    );
  });
});
