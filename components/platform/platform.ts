import * as pulumi from "@pulumi/pulumi";
import type { PlatformConfig } from "../../src/platform/config";
import { Base } from "./base";
import { Builder } from "./builder";
import { Credentials } from "./credentials";
import { Compliance, Rollout } from "./jobs";
import { Mirror } from "./mirror";

export interface PlatformArgs {
  /** The validated platform stack config (src/platform/config.ts). */
  config: PlatformConfig;
  /** Secret stack config values, as secret Outputs. signingKey, escalationWebhook, backendUrl are required. */
  secrets: {
    signingKey: pulumi.Input<string>;
    escalationWebhook: pulumi.Input<string>;
    backendUrl: pulumi.Input<string>;
    configPassphrase?: pulumi.Input<string>;
    sshPrivateKey?: pulumi.Input<string>;
  };
  /** Contents of the builds file (`config.buildsFile`), read by the caller. */
  buildsFile: string;
}

/**
 * `smith:platform:Platform`: smith on a Kubernetes cluster. Base (namespace, accounts, RBAC,
 * network policies), Credentials (Secrets), the weekly Builder, the Mirror, a Rollout runner per
 * pipeline, and the daily Compliance jobs. Pass the Kubernetes provider in `opts.providers`.
 */
export class Platform extends pulumi.ComponentResource {
  public readonly base: Base;
  public readonly credentials: Credentials;
  public readonly builder: Builder;
  public readonly mirror: Mirror;
  public readonly rollouts: Rollout[];
  /** None without pipelines: no stack to check. */
  public readonly compliance: Compliance | undefined;

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    const c = args.config;
    super("smith:platform:Platform", name, { namespace: c.namespace, image: c.image }, opts);
    const o = { parent: this };
    const ms = { namespace: c.namespace, skipAwait: c.skipAwait };
    const image = { image: c.image, imagePullPolicy: c.imagePullPolicy };

    this.base = new Base(`${name}-base`, { ...ms, drainNodes: c.drainNodes, mirrorIngressCidrs: c.mirrorIngressCidrs, egressCidrs: c.egressCidrs }, o);
    const sa = (w: keyof Base["serviceAccounts"]) => this.base.serviceAccounts[w].metadata.name;
    this.credentials = new Credentials(
      `${name}-credentials`,
      { ...ms, ...args.secrets, rotation: c.credentialsRotation, after: [this.base.namespace] },
      o,
    );
    const after = [...this.base.ready, ...this.credentials.secrets];

    this.mirror = new Mirror(
      `${name}-mirror`,
      {
        ...ms,
        ...image,
        replicas: c.mirrorReplicas,
        resources: c.mirrorResources,
        storage: c.mirrorStorage,
        accessMode: c.mirrorAccessMode,
        storageClass: c.storageClass,
        serviceAccount: sa("mirror"),
        after,
      },
      o,
    );
    this.builder = new Builder(
      `${name}-builder`,
      {
        ...ms,
        ...image,
        schedule: c.builderSchedule,
        resources: c.builderResources,
        storage: c.builderStorage,
        storageClass: c.storageClass,
        publishedClaim: this.mirror.claim.metadata.name,
        buildsFile: args.buildsFile,
        serviceAccount: sa("builder"),
        after,
      },
      o,
    );
    const jobs = { ...ms, ...image, resources: c.jobResources, after };
    this.rollouts = c.pipelines.map(
      (p) => new Rollout(`${name}-rollout-${p.name}`, { ...jobs, pipeline: p, storageClass: c.storageClass, serviceAccount: sa("rollout"), automountToken: c.drainNodes }, o),
    );
    const pipelineFiles = [...new Set(c.pipelines.flatMap((p) => p.shards.map((s) => s.pipeline)))];
    this.compliance = pipelineFiles.length
      ? new Compliance(`${name}-compliance`, { ...jobs, schedule: c.complianceSchedule, pipelineFiles, serviceAccount: sa("compliance"), automountToken: false }, o)
      : undefined;
    this.registerOutputs({ namespace: this.base.namespace.metadata.name, mirrorService: this.mirror.service.metadata.name });
  }
}
