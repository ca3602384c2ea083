import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { DRAIN_RULES } from "../../src/kube/rbac";
import { EGRESS_LABEL, labels, MIRROR_PORT } from "../../src/platform/workloads";
import { meta, MetaSettings } from "./meta";

export interface BaseArgs extends MetaSettings {
  /** Bind the rollout runner's ServiceAccount to the node-drain ClusterRole. */
  drainNodes: boolean;
  /** CIDRs allowed to reach the mirror; empty = every pod of the cluster, nothing outside. */
  mirrorIngressCidrs: string[];
  /** CIDRs the egress-labelled jobs may reach. */
  egressCidrs: string[];
}

/** The ServiceAccounts: one per workload, so each gets exactly its own rights. */
export const SERVICE_ACCOUNTS = ["builder", "mirror", "rollout", "compliance"] as const;
export type Workload = (typeof SERVICE_ACCOUNTS)[number];

/**
 * `smith:platform:Base`: the Namespace, a ServiceAccount per workload (no API token mounted
 * except the rollout runner's, and only when it drains nodes), the node-drain ClusterRole, and
 * NetworkPolicies: deny everything, then allow DNS, the mirror's port, and the jobs' egress.
 */
export class Base extends pulumi.ComponentResource {
  public readonly namespace: k8s.core.v1.Namespace;
  public readonly serviceAccounts: Record<Workload, k8s.core.v1.ServiceAccount>;
  /** Everything the workloads must wait for. */
  public readonly ready: pulumi.Resource[];

  constructor(name: string, args: BaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("smith:platform:Base", name, { namespace: args.namespace, drainNodes: args.drainNodes }, opts);
    const o = { parent: this };
    this.namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: args.namespace, labels: { "app.kubernetes.io/name": "smith" } } }, o);
    const inNs = { parent: this, dependsOn: [this.namespace] };

    const sa = (w: Workload) =>
      new k8s.core.v1.ServiceAccount(
        `${name}-sa-${w}`,
        { metadata: meta(args, `smith-${w}`, w), automountServiceAccountToken: w === "rollout" && args.drainNodes },
        inNs,
      );
    this.serviceAccounts = { builder: sa("builder"), mirror: sa("mirror"), rollout: sa("rollout"), compliance: sa("compliance") };
    this.ready = [this.namespace, ...Object.values(this.serviceAccounts)];

    if (args.drainNodes) {
      // Cluster-scoped: Nodes and pods of every namespace. The name carries the namespace so two
      // platform stacks on one cluster do not collide.
      const role = new k8s.rbac.v1.ClusterRole(
        `${name}-node-drainer`,
        { metadata: { name: `smith-node-drainer-${args.namespace}`, labels: labels("rollout") }, rules: DRAIN_RULES },
        o,
      );
      const binding = new k8s.rbac.v1.ClusterRoleBinding(
        `${name}-node-drainer`,
        {
          metadata: { name: `smith-node-drainer-${args.namespace}`, labels: labels("rollout") },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
          subjects: [{ kind: "ServiceAccount", name: this.serviceAccounts.rollout.metadata.name, namespace: args.namespace }],
        },
        o,
      );
      this.ready.push(role, binding);
    }

    const policy = (suffix: string, spec: k8s.types.input.networking.v1.NetworkPolicySpec) =>
      new k8s.networking.v1.NetworkPolicy(`${name}-netpol-${suffix}`, { metadata: meta(args, `smith-${suffix}`), spec }, inNs);
    this.ready.push(
      policy("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
      policy("dns", {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [{ ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] }],
      }),
      policy("mirror-ingress", {
        podSelector: { matchLabels: { "app.kubernetes.io/component": "mirror" } },
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: args.mirrorIngressCidrs.length ? args.mirrorIngressCidrs.map((cidr) => ({ ipBlock: { cidr } })) : [{ namespaceSelector: {} }],
            ports: [{ protocol: "TCP", port: MIRROR_PORT }],
          },
        ],
      }),
      policy("jobs-egress", {
        podSelector: { matchLabels: EGRESS_LABEL },
        policyTypes: ["Egress"],
        egress: [{ to: args.egressCidrs.map((cidr) => ({ ipBlock: { cidr } })) }],
      }),
    );
    this.registerOutputs({ namespace: this.namespace.metadata.name });
  }
}
