import * as pulumi from "@pulumi/pulumi";
import { chainIndexes } from "./chains";
import { NodePatch, NodeSettings, NodeTarget } from "./node-patch";

export interface ClusterRolloutArgs {
  /** The cluster's nodes in plan order (the order they are patched). */
  nodes: NodeTarget[];
  /** Nodes of this cluster patched at the same time (parallel chains). Defaults to 1. */
  concurrency?: number;
  /** Settings shared by every node (repo, key, agent, timeouts). */
  settings: NodeSettings;
  /** Resources the first node of every chain waits for (previous wave, gates). Defaults to none. */
  after?: pulumi.Resource[];
}

/**
 * `smith:fleet:ClusterRollout`: one cluster of a wave, node after node. Node k+1's patch waits for
 * node k's healthcheck; with concurrency c there are c such chains side by side. A node that
 * fails stops its chain (its dependents are skipped, even with --continue-on-error), so a bad
 * build never takes down more than `concurrency` machines of a cluster.
 */
export class ClusterRollout extends pulumi.ComponentResource {
  /** The node components, in plan order. */
  public readonly nodes: NodePatch[];
  /** The end (healthcheck or afterHealth hooks) of the last node of every chain: the cluster is done when all are. */
  public readonly last: pulumi.Resource[];

  constructor(name: string, args: ClusterRolloutArgs, opts?: pulumi.ComponentResourceOptions) {
    // A summary, not the args (node list, key, resource references): see NodePatch's recordedInputs.
    super("smith:fleet:ClusterRollout", name, { nodes: args.nodes.length, concurrency: args.concurrency ?? 1 }, opts);
    const chains = chainIndexes(args.nodes.length, args.concurrency ?? 1);
    this.nodes = [];
    const lastOfChain = new Map<number, pulumi.Resource[]>();
    args.nodes.forEach((target, i) => {
      const { previous, chain } = chains[i];
      const after = previous === undefined ? (args.after ?? []) : this.nodes[previous].last;
      const { hooks, ...settings } = args.settings;
      // Named after the machine alone (unique fleet-wide): a machine that moves to another wave
      // or phase keeps its URN, so the move is not a re-patch.
      const node = new NodePatch(target.machine.name, { ...settings, ...target, hooks: hooks?.(target.machine), after }, { parent: this });
      this.nodes.push(node);
      lastOfChain.set(chain, node.last);
    });
    this.last = [...lastOfChain.values()].flat();
    this.registerOutputs({ nodes: this.nodes.length });
  }
}
