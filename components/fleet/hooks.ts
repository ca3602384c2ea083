import type * as pulumi from "@pulumi/pulumi";
import type { RemoteCommand } from "./remote-plain";
import type { Machine } from "../../src/inventory/schema";

/**
 * Steps other components put into a node's chain (contract 6; agreed in /work/coord/NOTES.md):
 * e.g. a Kubernetes drain before the patch and an uncordon after the healthcheck
 * (components/kube). They run in the node's place in its cluster chain, so one machine per
 * cluster, crash-resume and "a failed node stops its cluster" hold for them too.
 */
export interface NodeHookContext {
  /** The node's resource name (the machine name); derive child names from it. */
  name: string;
  machine: Machine;
  /** The build this node is patched to. */
  build: string;
  /**
   * The build the previous update recorded for this node (stack output `nodes`), undefined when
   * none. While it equals `build` (and the chain is not replaced), a hook may ignore changes of
   * its own settings, as NodePatch ignores connection changes.
   */
  previousBuild?: string;
  /** The NodePatch: pass it as `parent`. */
  parent: pulumi.Resource;
  /** What the node waits for (the previous node of the chain, the previous wave, gates): the first hook resource must `dependsOn` these. */
  after: pulumi.Resource[];
  /** The node chain's triggers: put them in every hook resource's triggers, so it is replaced (re-run) with the chain. */
  triggers: pulumi.Input<string>[];
  /** A held wave's node: register nothing new, ignore every input change. */
  frozen: boolean;
}

export interface NodeHooks {
  /** Resources the patch waits for (they wait for `ctx.after`). */
  beforePatch?: (ctx: NodeHookContext) => pulumi.Resource[];
  /** Resources that run after the healthcheck passed; the next node of the chain waits for them. */
  afterHealth?: (ctx: NodeHookContext & { health: RemoteCommand }) => pulumi.Resource[];
}
