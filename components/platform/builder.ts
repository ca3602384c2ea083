import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { COMMANDS, cronJobSpec, EGRESS_LABEL, labels, PATHS, podSecurityContext, smithContainer, TMP_VOLUME } from "../../src/platform/workloads";
import { SECRETS } from "./credentials";
import { meta, volumeClaim, WorkloadSettings } from "./meta";

export interface BuilderArgs extends WorkloadSettings {
  /** Cron schedule, UTC. */
  schedule: string;
  /** Size of the aptly database volume. */
  storage: string;
  storageClass?: string;
  /** The published-builds volume (the mirror's), which `smith sync` writes. */
  publishedClaim: pulumi.Input<string>;
  /** Contents of the builds file (`smith build --config`). */
  buildsFile: string;
}

/**
 * `smith:platform:Builder`: the weekly build. A CronJob whose pod runs `smith build`, then
 * `smith sync` and `smith verify` of the build it made (COMMANDS.builder); aptly's database on
 * its own volume, the published tree on the mirror's, the signing key from its Secret
 * (read-only, 0400), the builds file from a ConfigMap at /etc/smith/builds.yaml. That file must
 * use those paths (PATHS in src/platform/workloads.ts; docs/platform.md).
 */
export class Builder extends pulumi.ComponentResource {
  public readonly cronJob: k8s.batch.v1.CronJob;
  public readonly aptlyClaim: k8s.core.v1.PersistentVolumeClaim;

  constructor(name: string, args: BuilderArgs, opts?: pulumi.ComponentResourceOptions) {
    super("smith:platform:Builder", name, { schedule: args.schedule, image: args.image }, opts);
    const o = { parent: this, dependsOn: args.after };
    this.aptlyClaim = volumeClaim(`${name}-aptly`, args, { name: "smith-aptly", component: "builder", size: args.storage, accessMode: "ReadWriteOnce" }, o);
    const deps = [...args.after, this.aptlyClaim];
    const cm = new k8s.core.v1.ConfigMap(`${name}-builds`, { metadata: meta(args, "smith-builds", "builder"), data: { "builds.yaml": args.buildsFile } }, o);
    deps.push(cm);
    const mounts = [
      { name: "aptly", mountPath: PATHS.aptly },
      { name: "published", mountPath: PATHS.published },
      { name: "signing-key", mountPath: PATHS.signingKey, readOnly: true },
      { name: "builds", mountPath: PATHS.buildsFile, subPath: "builds.yaml", readOnly: true },
    ];
    const podLabels = labels("builder", EGRESS_LABEL);
    const podSpec = {
      serviceAccountName: args.serviceAccount,
      automountServiceAccountToken: false,
      securityContext: podSecurityContext(),
      containers: [
        {
          ...(smithContainer({ name: "builder", image: args.image, imagePullPolicy: args.imagePullPolicy, args: [], resources: args.resources, volumeMounts: mounts }) as object),
          command: COMMANDS.builder(),
        },
      ],
      volumes: [
        TMP_VOLUME,
        { name: "aptly", persistentVolumeClaim: { claimName: this.aptlyClaim.metadata.name } },
        { name: "published", persistentVolumeClaim: { claimName: args.publishedClaim } },
        { name: "signing-key", secret: { secretName: SECRETS.signingKey, defaultMode: 0o400 } },
        { name: "builds", configMap: { name: cm.metadata.name } },
      ],
    };
    this.cronJob = new k8s.batch.v1.CronJob(
      `${name}-cronjob`,
      { metadata: meta(args, "smith-builder", "builder"), spec: cronJobSpec(args.schedule, podSpec, podLabels) as k8s.types.input.batch.v1.CronJobSpec },
      { parent: this, dependsOn: deps },
    );
    this.registerOutputs({});
  }
}
