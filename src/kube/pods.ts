/**
 * Pure decisions of a drain: whose cordon a node carries, and which of its pods are evicted.
 * No API calls here (src/kube/drain.ts makes them), so every rule is unit-tested directly.
 */

/** Set on a Node when smith cordoned it; uncordon acts only on Nodes that carry it. */
export const CORDONED_BY_ANNOTATION = "smith.fleet/cordoned-by";
/** What smith was patching when it cordoned the Node (the build), for people reading the Node. */
export const CORDONED_FOR_ANNOTATION = "smith.fleet/cordoned-for";
export const CORDONED_BY_SMITH = "smith";

/** The parts of a Node a drain reads. */
export interface NodeLike {
  metadata?: { name?: string; annotations?: Record<string, string> };
  spec?: { unschedulable?: boolean };
}

/**
 * `schedulable`: smith cordons it now. `smith`: smith cordoned it earlier (a drain resumed after a
 * crash, or re-run): it stays smith's to uncordon. `other`: cordoned by someone else: smith
 * drains it but never marks it, so it stays cordoned after the patch.
 */
export type CordonState = "schedulable" | "smith" | "other";

export function cordonState(node: NodeLike): CordonState {
  if (node.metadata?.annotations?.[CORDONED_BY_ANNOTATION] === CORDONED_BY_SMITH) return "smith";
  return node.spec?.unschedulable ? "other" : "schedulable";
}

/** The merge patch that cordons a Node and marks it as smith's, in one write (no half state). */
export function cordonPatch(build: string | undefined): object {
  return {
    metadata: { annotations: { [CORDONED_BY_ANNOTATION]: CORDONED_BY_SMITH, [CORDONED_FOR_ANNOTATION]: build ?? "" } },
    spec: { unschedulable: true },
  };
}

/** The merge patch that uncordons a Node and removes smith's marks (null deletes a key). */
export function uncordonPatch(): object {
  return {
    metadata: { annotations: { [CORDONED_BY_ANNOTATION]: null, [CORDONED_FOR_ANNOTATION]: null } },
    spec: { unschedulable: false },
  };
}

/** The parts of a Pod a drain reads. */
export interface PodLike {
  metadata?: {
    name?: string;
    namespace?: string;
    deletionTimestamp?: Date | string;
    annotations?: Record<string, string>;
    ownerReferences?: { kind?: string; controller?: boolean }[];
  };
}

/** kubelet-managed static pods carry this annotation; the API cannot evict them. */
export const MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror";

export interface PodPlan {
  /** Pods to evict (not yet terminating). */
  evict: string[];
  /** Pods already terminating: the drain waits for them to go. */
  terminating: string[];
  /** Left on the node, as `kubectl drain --ignore-daemonsets` does: the DaemonSet controller ignores cordons. */
  daemonSet: string[];
  /** Static pods (kubelet's own), which eviction cannot remove. */
  mirror: string[];
}

/** `namespace/name` of a pod, as every report names it. */
export function podRef(p: PodLike): string {
  return `${p.metadata?.namespace ?? "default"}/${p.metadata?.name ?? "?"}`;
}

/**
 * Sorts a node's pods into what the drain evicts, waits for, and leaves. Pods without a
 * controller are evicted too (unlike `kubectl drain` without --force): the reboot that follows
 * would end them anyway, and eviction still honours their PodDisruptionBudgets.
 */
export function planPods(pods: PodLike[]): PodPlan {
  const plan: PodPlan = { evict: [], terminating: [], daemonSet: [], mirror: [] };
  for (const p of pods) {
    const ref = podRef(p);
    const owner = p.metadata?.ownerReferences?.find((o) => o.controller);
    if (p.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) plan.mirror.push(ref);
    else if (owner?.kind === "DaemonSet") plan.daemonSet.push(ref);
    else if (p.metadata?.deletionTimestamp) plan.terminating.push(ref);
    else plan.evict.push(ref);
  }
  for (const list of Object.values(plan) as string[][]) list.sort();
  return plan;
}

/** Splits `namespace/name`. */
export function splitRef(ref: string): { namespace: string; name: string } {
  const i = ref.indexOf("/");
  return { namespace: ref.slice(0, i), name: ref.slice(i + 1) };
}
