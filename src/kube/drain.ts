import { cordonPatch, cordonState, CordonState, NodeLike, PodLike, planPods, splitRef, uncordonPatch } from "./pods";

/**
 * Cordon + drain and uncordon of one Kubernetes Node, through the API only (no kubelet, no
 * kubectl). The API calls go through `KubeApi` (src/kube/client.ts implements it with
 * @kubernetes/client-node), so the loop is tested with a fake as well as against a real API server.
 */

/** What a drain needs from the API server. */
export interface KubeApi {
  /** The Node, or undefined when there is none by that name. */
  readNode(name: string): Promise<NodeLike | undefined>;
  /** A JSON merge patch (RFC 7386) of the Node. */
  patchNode(name: string, patch: object): Promise<void>;
  /** Every pod bound to the node, in any namespace. */
  listPods(nodeName: string): Promise<PodLike[]>;
  /**
   * Asks the eviction API to evict the pod: `evicted` (or already gone), or `blocked` with the
   * server's reason when a PodDisruptionBudget forbids it now (HTTP 429).
   */
  evictPod(namespace: string, name: string): Promise<{ outcome: "evicted" } | { outcome: "blocked"; reason: string }>;
}

export interface DrainOptions {
  node: string;
  /** Recorded on the Node beside smith's mark. Defaults to "". */
  build?: string;
  /** Bound on the whole drain, cordon to the last pod gone. */
  timeoutMs: number;
  /** Pause between rounds of evictions and checks. Defaults to 1000. */
  pollMs?: number;
  /** Progress lines (stderr in the CLI). Defaults to none. */
  log?: (line: string) => void;
  /** Clock and sleep, replaceable in tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** The drain's JSON report (one line on stdout in the CLI). */
export interface DrainReport {
  node: string;
  /** Who holds the cordon: smith (now or from an earlier run) or someone else. */
  cordonedBy: "smith" | "other";
  /** True when this run set the cordon (false when resumed or cordoned by someone else). */
  cordonedNow: boolean;
  evicted: string[];
  daemonSet: string[];
  mirror: string[];
  durationMs: number;
}

/** A drain that did not finish in time; `remaining` says what is still on the node and why. */
export class DrainError extends Error {
  constructor(
    message: string,
    readonly node: string,
    readonly remaining: { pod: string; reason: string }[],
    readonly code: "not-found" | "timeout",
  ) {
    super(message);
    this.name = "DrainError";
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Cordons the node (marking it as smith's, unless someone else had cordoned it), then evicts its
 * pods through the eviction API until none but DaemonSet and static pods are left, retrying
 * evictions a PodDisruptionBudget blocks. Bounded by `timeoutMs`: then it throws a DrainError and
 * the node stays cordoned. Idempotent: a re-run after a crash finds smith's mark and goes on.
 */
export async function drainNode(api: KubeApi, o: DrainOptions): Promise<DrainReport> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? defaultSleep;
  const log = o.log ?? (() => {});
  const started = now();
  const deadline = started + o.timeoutMs;

  const node = await api.readNode(o.node);
  if (!node) throw new DrainError(`node ${o.node}: no such Node in the cluster`, o.node, [], "not-found");
  const state: CordonState = cordonState(node);
  if (state === "schedulable") {
    await api.patchNode(o.node, cordonPatch(o.build));
    log(`node ${o.node}: cordoned (marked as smith's)`);
  } else {
    log(`node ${o.node}: already cordoned by ${state === "smith" ? "smith (resuming)" : "someone else (left cordoned afterwards)"}`);
  }

  const evicted = new Set<string>();
  for (;;) {
    const plan = planPods(await api.listPods(o.node));
    const blocked: { pod: string; reason: string }[] = [];
    for (const ref of plan.evict) {
      const { namespace, name } = splitRef(ref);
      const r = await api.evictPod(namespace, name);
      if (r.outcome === "blocked") blocked.push({ pod: ref, reason: r.reason });
      else if (!evicted.has(ref)) {
        evicted.add(ref);
        log(`node ${o.node}: evicting ${ref}`);
      }
    }
    if (plan.evict.length === 0 && plan.terminating.length === 0) {
      return {
        node: o.node,
        cordonedBy: state === "other" ? "other" : "smith",
        cordonedNow: state === "schedulable",
        evicted: [...evicted].sort(),
        daemonSet: plan.daemonSet,
        mirror: plan.mirror,
        durationMs: now() - started,
      };
    }
    if (now() >= deadline) {
      const evicting = new Set(blocked.map((b) => b.pod));
      const remaining = [
        ...blocked,
        ...[...plan.evict, ...plan.terminating].filter((p) => !evicting.has(p)).map((pod) => ({ pod, reason: "still terminating" })),
      ];
      const first = remaining.slice(0, 3).map((r) => `${r.pod} (${r.reason})`).join("; ");
      throw new DrainError(
        `node ${o.node}: drain not finished after ${Math.round(o.timeoutMs / 1000)} s: ${remaining.length} pod(s) left: ${first}${remaining.length > 3 ? "; …" : ""}; the node stays cordoned`,
        o.node,
        remaining,
        "timeout",
      );
    }
    await sleep(Math.min(o.pollMs ?? 1000, Math.max(0, deadline - now())));
  }
}

export interface UncordonReport {
  node: string;
  uncordoned: boolean;
  /** Why not, when not. */
  reason?: string;
}

/** Uncordons the node only when smith's mark is on it, and removes the mark. */
export async function uncordonNode(api: KubeApi, nodeName: string): Promise<UncordonReport> {
  const node = await api.readNode(nodeName);
  if (!node) throw new DrainError(`node ${nodeName}: no such Node in the cluster`, nodeName, [], "not-found");
  const state = cordonState(node);
  if (state !== "smith") {
    return { node: nodeName, uncordoned: false, reason: state === "other" ? "cordoned by someone else: left cordoned" : "not cordoned" };
  }
  await api.patchNode(nodeName, uncordonPatch());
  return { node: nodeName, uncordoned: true };
}
