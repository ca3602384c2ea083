import * as path from "path";
import { shellQuote } from "../agent/quote";
import type { Machine } from "../inventory/schema";

/**
 * Which inventory machines are Kubernetes nodes, and the local command lines of their drain and
 * uncordon steps (components/kube runs them). Pure: tested without Pulumi.
 */

/** Inventory label naming the machine's Node (its value; else the machine's name). Its presence makes the machine a Kubernetes node. */
export const NODE_LABEL = "kubernetes-node";
/** Inventory label choosing the kubeconfig context of the machine's cluster (else the current context). */
export const CONTEXT_LABEL = "kubernetes-context";
/** Roles that make a machine a Kubernetes node when `smith:kubernetesNodeRoles` is not set. */
export const DEFAULT_NODE_ROLES = ["kubernetes-node"];
/** Bound on one node's drain when `smith:kubernetesDrainTimeoutSeconds` is not set. */
export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 600;

export interface KubeStepSettings {
  /** kubeconfig file (absolute). Commands name it relative to `projectDir` when inside it. */
  kubeconfig: string;
  /** Roles whose machines are Kubernetes nodes. Defaults to DEFAULT_NODE_ROLES. */
  nodeRoles?: string[];
  /** Bound on one drain. Defaults to DEFAULT_DRAIN_TIMEOUT_SECONDS. */
  drainTimeoutSeconds?: number;
  /** Where `pulumi` runs the program and its local commands. Defaults to the working directory. */
  projectDir?: string;
}

export interface KubeNodeTarget {
  node: string;
  context?: string;
}

/** The machine's Node and context, or undefined when it is not a Kubernetes node. */
export function kubeNodeOf(m: Machine, nodeRoles: readonly string[] = DEFAULT_NODE_ROLES): KubeNodeTarget | undefined {
  const label = m.labels?.[NODE_LABEL];
  if (label === undefined && !nodeRoles.includes(m.role)) return undefined;
  // Node names are DNS subdomains: lower case. Inventory names may not be.
  const node = (label ?? m.name).toLowerCase();
  const context = m.labels?.[CONTEXT_LABEL];
  return context === undefined ? { node } : { node, context };
}

function baseArgs(s: KubeStepSettings, t: KubeNodeTarget): string[] {
  const dir = s.projectDir ?? process.cwd();
  const rel = path.relative(dir, s.kubeconfig);
  // Relative inside the project: the state does not change when the checkout moves.
  const kubeconfig = rel.startsWith("..") || path.isAbsolute(rel) ? s.kubeconfig : rel;
  return ["--node", t.node, "--kubeconfig", kubeconfig, ...(t.context ? ["--context", t.context] : [])];
}

/** Run from the project dir, as `pulumi` runs local commands there. */
const SMITH = ["node", "bin/smith.js", "kube"];

export function drainCommand(s: KubeStepSettings, t: KubeNodeTarget, build: string): string {
  const timeout = String(s.drainTimeoutSeconds ?? DEFAULT_DRAIN_TIMEOUT_SECONDS);
  return [...SMITH, "drain", ...baseArgs(s, t), "--timeout", timeout, "--build", build].map(shellQuote).join(" ");
}

export function uncordonCommand(s: KubeStepSettings, t: KubeNodeTarget): string {
  return [...SMITH, "uncordon", ...baseArgs(s, t)].map(shellQuote).join(" ");
}
