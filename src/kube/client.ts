import * as k8s from "@kubernetes/client-node";
import type { KubeApi } from "./drain";
import type { NodeLike, PodLike } from "./pods";

/** Where the API server and credentials come from. */
export interface KubeTarget {
  /** kubeconfig file. Defaults to $KUBECONFIG, else ~/.kube/config, else in-cluster. */
  kubeconfig?: string;
  /** Context in that file. Defaults to its current-context. */
  context?: string;
}

export function loadKubeConfig(t: KubeTarget): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (t.kubeconfig) kc.loadFromFile(t.kubeconfig);
  else kc.loadFromDefault();
  if (t.context) kc.setCurrentContext(t.context);
  return kc;
}

function status(err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? err.code : undefined;
}

/** The server's own message from an ApiException body (a Status object), else the error's. */
function reason(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    try {
      const body = typeof err.body === "string" ? JSON.parse(err.body) : err.body;
      if (body?.message) return String(body.message);
    } catch {
      /* not JSON: fall through */
    }
  }
  return err instanceof Error ? err.message : String(err);
}

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

/** `KubeApi` over @kubernetes/client-node. */
export function clientKubeApi(kc: k8s.KubeConfig): KubeApi {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return {
    async readNode(name) {
      try {
        return (await core.readNode({ name })) as NodeLike;
      } catch (err) {
        if (status(err) === 404) return undefined;
        throw new Error(`read node ${name}: ${reason(err)}`);
      }
    },
    async patchNode(name, patch) {
      await core.patchNode({ name, body: patch }, mergePatch);
    },
    async listPods(nodeName) {
      const list = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` });
      return list.items as PodLike[];
    },
    async evictPod(namespace, name) {
      try {
        await core.createNamespacedPodEviction({
          name,
          namespace,
          body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace } },
        });
        return { outcome: "evicted" };
      } catch (err) {
        const code = status(err);
        if (code === 404) return { outcome: "evicted" }; // already gone
        if (code === 429) return { outcome: "blocked", reason: reason(err) };
        throw new Error(`evict ${namespace}/${name}: ${reason(err)}`);
      }
    },
  };
}
