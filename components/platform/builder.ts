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
  /** Contents of the builds file; undefined = the image's own. */
  buildsFile?: string;
}

/**
 * `smith:platform:Builder`: the weekly build. A CronJob whose pod runs `smith build` then
 * `smith sync` (init containers, in order, each must succeed) then `smith verify`; aptly's
 * database on its own volume, the signing key from its Secret (read-only, 0400).
 */
export class Builder extends pulumi.ComponentResource {
  public readonly cronJob: k8s.batch.v1.CronJob;
  public readonly aptlyClaim: k8s.core.v1.PersistentVolumeClaim;

  constructor(name: string, args: BuilderArgs, opts?: pulumi.ComponentResourceOptions) {
    super("smith:platform:Builder", name, { schedule: args.schedule, image: args.image }, opts);
    const o = { parent: this, dependsOn: args.after };
    this.aptlyClaim = volumeClaim(`${name}-aptly`, args, { name: "smith-aptly", component: "builder", size: args.storage, accessMode: "ReadWriteOnce" }, o);
    const deps = [...args.after, this.aptlyClaim];
    let buildsVolume: object[] = [];
    let buildsMount: object[] = [];
    if (args.buildsFile !== undefined) {
      const cm = new k8s.core.v1.ConfigMap(`${name}-builds`, { metadata: meta(args, "smith-builds", "builder"), data: { "builds.yaml": args.buildsFile } }, o);
      deps.push(cm);
      buildsVolume = [{ name: "builds", configMap: { name: cm.metadata.name } }];
      buildsMount = [{ name: "builds", mountPath: PATHS.buildsFile, subPath: "builds.yaml", readOnly: true }];
    }
    const hasBuilds = args.buildsFile !== undefined;
    const mounts = [
      { name: "aptly", mountPath: PATHS.aptly },
      { name: "published", mountPath: PATHS.published },
      { name: "signing-key", mountPath: PATHS.signingKey, readOnly: true },
      ...buildsMount,
    ];
    const container = (n: string, cmd: string[]) =>
      smithContainer({ name: n, image: args.image, imagePullPolicy: args.imagePullPolicy, args: cmd, resources: args.resources, volumeMounts: mounts });
    const podLabels = labels("builder", EGRESS_LABEL);
    const podSpec = {
      serviceAccountName: args.serviceAccount,
      automountServiceAccountToken: false,
      securityContext: podSecurityContext(),
      initContainers: [container("build", COMMANDS.build(hasBuilds)), container("sync", COMMANDS.sync(hasBuilds))],
      containers: [container("verify", COMMANDS.verify(hasBuilds))],
      volumes: [
        TMP_VOLUME,
        { name: "aptly", persistentVolumeClaim: { claimName: this.aptlyClaim.metadata.name } },
        { name: "published", persistentVolumeClaim: { claimName: args.publishedClaim } },
        { name: "signing-key", secret: { secretName: SECRETS.signingKey, defaultMode: 0o400 } },
        ...buildsVolume,
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
