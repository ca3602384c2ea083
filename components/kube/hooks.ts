import * as pulumi from "@pulumi/pulumi";
import { local } from "@pulumi/command";
import type { Machine } from "../../src/inventory/schema";
import type { NodeHookContext, NodeHooks } from "../fleet/hooks";
import { DEFAULT_DRAIN_TIMEOUT_SECONDS, drainCommand, kubeNodeOf, KubeStepSettings, uncordonCommand } from "../../src/kube/node-steps";

/**
 * Kubernetes steps in a node's chain (NodePatchArgs.hooks, components/fleet/hooks.ts):
 * `<node>-kube-drain` before the patch, `<node>-kube-uncordon` after the healthcheck. Both are `command:local:Command`s running `smith kube drain|uncordon`, so they are
 * ordinary resources of the node's chain: the patch waits for the drain, the next node of the
 * cluster waits for the uncordon, a failed drain stops the cluster (its dependents are skipped),
 * and a crashed `pulumi up` re-runs the pending drain, which resumes (smith's mark is on the Node).
 */

/** Settings from stack config (`smith:kubernetes*`); undefined = no Kubernetes steps at all. */
export type KubeHookSettings = KubeStepSettings;

/** Inputs of local.Command that, once a node is done for a build, must not re-run it when config changes. */
const STEADY_FIELDS = ["create", "update", "delete", "environment", "dir", "interpreter", "logging"];

function stepOptions(ctx: NodeHookContext, dependsOn: pulumi.Resource[], timeoutSeconds: number): pulumi.CustomResourceOptions {
  // A changed kubeconfig path or timeout must not re-drain every node already patched for this
  // build. Ignored inputs keep their old value even in a replacement, so on a new build (the
  // triggers replace everything anyway) nothing is ignored and the current settings apply.
  const rebuilding = ctx.previousBuild !== undefined && ctx.previousBuild !== ctx.build;
  const steady = ctx.frozen || (ctx.previousBuild !== undefined && !rebuilding);
  return {
    parent: ctx.parent,
    dependsOn,
    ignoreChanges: steady ? STEADY_FIELDS : [],
    customTimeouts: { create: `${timeoutSeconds}s`, update: `${timeoutSeconds}s` },
  };
}

/**
 * The hooks factory the fleet program calls per machine: hooks for Kubernetes nodes, undefined
 * for every other machine (and for all machines when `settings` is undefined).
 */
export function kubeNodeHooks(settings: KubeHookSettings | undefined): (machine: Machine) => NodeHooks | undefined {
  return (machine) => {
    if (!settings) return undefined;
    const target = kubeNodeOf(machine, settings.nodeRoles);
    if (!target) return undefined;
    // The drain's own bound plus time for `node` to start and for the last API calls.
    const drainBound = (settings.drainTimeoutSeconds ?? DEFAULT_DRAIN_TIMEOUT_SECONDS) + 120;
    return {
      beforePatch: (ctx) => [
        new local.Command(
          `${ctx.name}-kube-drain`,
          { create: drainCommand(settings, target, ctx.build), triggers: ctx.triggers, logging: "stderr" },
          stepOptions(ctx, ctx.after, drainBound),
        ),
      ],
      afterHealth: (ctx) => [
        new local.Command(
          `${ctx.name}-kube-uncordon`,
          { create: uncordonCommand(settings, target), triggers: ctx.triggers, logging: "stderr" },
          stepOptions(ctx, [ctx.health], 120),
        ),
      ],
    };
  };
}

/** The settings in a validated stack config, or undefined when it names no kubeconfig. */
export function kubeHookSettings(
  config: { kubernetesKubeconfig?: string; kubernetesNodeRoles: string[]; kubernetesDrainTimeoutSeconds: number },
  projectDir?: string,
): KubeHookSettings | undefined {
  if (!config.kubernetesKubeconfig) return undefined;
  return {
    kubeconfig: config.kubernetesKubeconfig,
    nodeRoles: config.kubernetesNodeRoles,
    drainTimeoutSeconds: config.kubernetesDrainTimeoutSeconds,
    projectDir,
  };
}
