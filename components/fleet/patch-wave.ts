import * as pulumi from "@pulumi/pulumi";
import { ClusterRollout } from "./cluster-rollout";
import type { NodeSettings, NodeTarget } from "./node-patch";

export interface WaveCluster {
  cluster: string;
  /** Nodes in plan order. */
  nodes: NodeTarget[];
  /** Nodes of the cluster patched at the same time. Defaults to 1. */
  concurrency?: number;
}

export interface PatchWaveArgs {
  /** The wave's clusters; they run in parallel. Clusters without nodes are skipped. */
  clusters: WaveCluster[];
  /** Settings shared by every node. */
  settings: NodeSettings;
  /**
   * What the wave waits for: every chain end of the previous wave and the wave's gate (the
   * soak StackReference). Defaults to none (the first wave).
   */
  after?: pulumi.Resource[];
  /** The wave is held by a gate: its nodes are frozen. Defaults to false. Recorded as an output. */
  held?: boolean;
}

/**
 * `smith:fleet:PatchWave`: one plan wave. Its clusters roll out in parallel and independently;
 * the wave starts only after everything in `after`.
 */
export class PatchWave extends pulumi.ComponentResource {
  public readonly clusters: ClusterRollout[];
  /** Chain ends of every cluster: the next wave depends on all of them. */
  public readonly last: pulumi.Resource[];
  public readonly held: boolean;

  constructor(name: string, args: PatchWaveArgs, opts?: pulumi.ComponentResourceOptions) {
    // A summary, not the args (every node of the wave, key, resource references): see NodePatch.
    super("smith:fleet:PatchWave", name, { held: args.held ?? false, clusters: args.clusters.filter((c) => c.nodes.length > 0).length }, opts);
    this.held = args.held ?? false;
    this.clusters = args.clusters
      .filter((c) => c.nodes.length > 0)
      .map(
        (c) =>
          new ClusterRollout(
            `${name}/${c.cluster}`,
            { nodes: c.nodes, concurrency: c.concurrency, settings: args.settings, after: args.after },
            { parent: this },
          ),
      );
    // A wave with no registered node passes its own `after` on, so ordering still holds.
    const ends = this.clusters.flatMap((c) => c.last);
    this.last = ends.length > 0 ? ends : [...(args.after ?? [])];
    this.registerOutputs({ held: this.held, clusters: this.clusters.length });
  }
}
