import { UserError } from "../../src/errors";
import { clientKubeApi, KubeTarget, loadKubeConfig } from "../../src/kube/client";
import { DrainError, drainNode, uncordonNode } from "../../src/kube/drain";
import type { RegisterCommand } from "./index";

/** Exit codes of `smith kube`, beside 0 ok and 2 usage (docs/platform.md). */
export const KUBE_EXIT = { drainTimeout: 3, nodeNotFound: 4, apiError: 5 } as const;

interface TargetFlags {
  node: string;
  kubeconfig?: string;
  context?: string;
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function target(f: TargetFlags): KubeTarget {
  if (!NODE_NAME.test(f.node)) throw new UserError(`flag --node: must be a Kubernetes node name (got ${JSON.stringify(f.node)})`);
  return { kubeconfig: f.kubeconfig, context: f.context };
}

function seconds(v: string): number {
  if (!/^[1-9][0-9]*$/.test(v)) throw new UserError(`flag --timeout: must be a positive whole number of seconds (got ${JSON.stringify(v)})`);
  return Number(v);
}

/**
 * Runs one kube step and prints its single JSON line: the report, or `{"error",…,"exitCode"}`.
 * The line is what `command:local:Command` keeps as stdout in state (and in the error on failure).
 */
async function step(fn: () => Promise<object>): Promise<void> {
  try {
    process.stdout.write(JSON.stringify(await fn()) + "\n");
  } catch (err) {
    if (err instanceof UserError) throw err;
    const exitCode =
      err instanceof DrainError ? (err.code === "timeout" ? KUBE_EXIT.drainTimeout : KUBE_EXIT.nodeNotFound) : KUBE_EXIT.apiError;
    const extra = err instanceof DrainError ? { node: err.node, remaining: err.remaining } : {};
    process.stdout.write(JSON.stringify({ error: (err as Error).message, ...extra, exitCode }) + "\n");
    process.stderr.write(`smith kube: ${(err as Error).message}\n`);
    process.exitCode = exitCode;
  }
}

/** `smith kube drain|uncordon`: the Kubernetes steps around a node's patch (components/kube). */
export const registerKube: RegisterCommand = (program) => {
  const kube = program.command("kube").description("Kubernetes node steps around a patch: drain (cordon + evict), uncordon.");
  const common = (c: ReturnType<typeof kube.command>) =>
    c
      .requiredOption("--node <name>", "the Kubernetes Node")
      .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
      .option("--context <name>", "kubeconfig context (default: its current-context)");

  common(kube.command("drain"))
    .description("Cordon the node (marked as smith's unless already cordoned by someone else), evict its pods through the eviction API (PodDisruptionBudgets respected; DaemonSet and static pods left); bounded.")
    .option("--timeout <s>", "bound on the whole drain, seconds", seconds, 600)
    .option("--build <n>", "recorded on the node beside smith's mark")
    .action(async (f: TargetFlags & { timeout: number; build?: string }) => {
      const api = clientKubeApi(loadKubeConfig(target(f)));
      const log = (l: string) => process.stderr.write(`smith kube: ${l}\n`);
      await step(() => drainNode(api, { node: f.node, build: f.build, timeoutMs: f.timeout * 1000, log }));
    });

  common(kube.command("uncordon"))
    .description("Uncordon the node only if smith cordoned it (its mark is on the node); a node cordoned by someone else stays cordoned.")
    .action(async (f: TargetFlags) => {
      const api = clientKubeApi(loadKubeConfig(target(f)));
      await step(() => uncordonNode(api, f.node));
    });
};
