import type * as k8s from "@pulumi/kubernetes";
import type { Component } from "../../src/platform/workloads";
import { labels } from "../../src/platform/workloads";

/** What every platform object's metadata shares. */
export interface MetaSettings {
  namespace: string;
  /** Add pulumi.com/skipAwait (an API server without kubelet/controllers). */
  skipAwait: boolean;
}

/** metadata for a namespaced object of `component`. */
export function meta(s: MetaSettings, name: string, component?: Component): k8s.types.input.meta.v1.ObjectMeta {
  return {
    name,
    namespace: s.namespace,
    labels: component ? labels(component) : { "app.kubernetes.io/name": "smith", "app.kubernetes.io/managed-by": "pulumi" },
    ...(s.skipAwait ? { annotations: { "pulumi.com/skipAwait": "true" } } : {}),
  };
}
