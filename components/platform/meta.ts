import type * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { Resources } from "../../src/platform/config";
import type { Component } from "../../src/platform/workloads";
import { labels } from "../../src/platform/workloads";

/** What every platform object's metadata shares. */
export interface MetaSettings {
  namespace: string;
  /** Add pulumi.com/skipAwait (an API server without kubelet/controllers). */
  skipAwait: boolean;
}

/** What every workload component takes: the image, its account, limits, what to wait for. */
export interface WorkloadSettings extends MetaSettings {
  /** The smith image and its pull policy. */
  image: string;
  imagePullPolicy: string;
  /** Requests and limits of each container. */
  resources: Resources;
  /** The workload's ServiceAccount (smith:platform:Base). */
  serviceAccount: pulumi.Input<string>;
  /** Namespace, accounts, Secrets: created first. */
  after: pulumi.Resource[];
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

/** A PersistentVolumeClaim of `size` (the cluster's default StorageClass unless one is named). */
export function volumeClaim(
  resourceName: string,
  s: MetaSettings & { storageClass?: string },
  claim: { name: string; component: Component; size: string; accessMode: string },
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.PersistentVolumeClaim {
  return new k8s.core.v1.PersistentVolumeClaim(
    resourceName,
    {
      metadata: meta(s, claim.name, claim.component),
      spec: {
        accessModes: [claim.accessMode],
        resources: { requests: { storage: claim.size } },
        ...(s.storageClass ? { storageClassName: s.storageClass } : {}),
      },
    },
    opts,
  );
}
