import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import * as k8s from "@kubernetes/client-node";
import { REPO_ROOT } from "./pulumi";

const run = promisify(execFile);
const SCRIPT = path.join(REPO_ROOT, "scripts", "kube-apiserver.sh");
const BIN = path.join(REPO_ROOT, ".smith", "tools", "bin");

/** Why no test API server can start here, or null. */
export function kubeUnavailableReason(): string | null {
  if (!fs.existsSync(path.join(BIN, "kube-apiserver"))) return `no ${BIN}/kube-apiserver: run scripts/install-kubernetes.sh`;
  const etcd = fs.existsSync(path.join(BIN, "etcd")) || process.env.PATH?.split(":").some((d) => fs.existsSync(path.join(d, "etcd")));
  if (!etcd) return "no etcd: run scripts/install-deps.sh (etcd-server) or scripts/install-kubernetes.sh";
  return null;
}

export interface TestCluster {
  dir: string;
  /** Admin kubeconfig (group system:masters). */
  kubeconfig: string;
  admin: k8s.KubeConfig;
  /** A kubeconfig for user `name` (client certificate; RBAC decides what it may do). */
  user(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** A real etcd + kube-apiserver on 127.0.0.1 (scripts/kube-apiserver.sh), in its own directory. */
export async function startTestCluster(): Promise<TestCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-kube-"));
  const { stdout } = await run("bash", [SCRIPT, "start", "--dir", dir], { timeout: 180_000 });
  const kubeconfig = stdout.trim().split("\n").pop()!;
  const admin = new k8s.KubeConfig();
  admin.loadFromFile(kubeconfig);
  return {
    dir,
    kubeconfig,
    admin,
    user: async (name) => (await run("bash", [SCRIPT, "user", name, "--dir", dir])).stdout.trim(),
    stop: async () => {
      await run("bash", [SCRIPT, "stop", "--dir", dir]);
    },
  };
}

/**
 * Plays the kubelet for pod deletions: an evicted pod on a node gets a deletionTimestamp and
 * waits for its kubelet to confirm; this finishes such deletions (grace period 0) while running.
 */
export class FakeKubelet {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  constructor(private readonly core: k8s.CoreV1Api) {}

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), 200);
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const pods = await this.core.listPodForAllNamespaces();
      for (const p of pods.items) {
        if (!p.metadata?.deletionTimestamp) continue;
        await this.core
          .deleteNamespacedPod({ name: p.metadata.name!, namespace: p.metadata.namespace!, gracePeriodSeconds: 0 })
          .catch(() => undefined);
      }
    } catch {
      /* the next tick tries again */
    } finally {
      this.busy = false;
    }
  }
}

/**
 * A pod bound to `nodeName` and marked Running, as a kubelet would report it: the eviction API
 * lets Pending pods go without consulting their PodDisruptionBudgets, Running ones it does not.
 */
export async function runningPod(core: k8s.CoreV1Api, namespace: string, nodeName: string, metadata: k8s.V1ObjectMeta): Promise<void> {
  const name = metadata.name!;
  await core.createNamespacedPod({ namespace, body: { metadata, spec: { nodeName, containers: [{ name: "c", image: "example.invalid/app:1" }] } } });
  await core.patchNamespacedPodStatus(
    { name, namespace, body: { status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } } },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  );
}
