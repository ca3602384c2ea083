import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { labels, MIRROR_PORT, mirrorCommand, PATHS, podSecurityContext, smithContainer, TMP_VOLUME } from "../../src/platform/workloads";
import { meta, volumeClaim, WorkloadSettings } from "./meta";

export interface MirrorArgs extends WorkloadSettings {
  replicas: number;
  /** Size and access mode of the published-builds volume. */
  storage: string;
  accessMode: string;
  storageClass?: string;
}

/**
 * `smith:platform:Mirror`: the published builds (`<root>/builds/<N>/`) served over HTTP by a
 * Deployment (busybox httpd from the smith image, volume read-only) behind a ClusterIP Service
 * on port 80. Machines' apt sources point at it (`smith:repoUrl`).
 */
export class Mirror extends pulumi.ComponentResource {
  public readonly claim: k8s.core.v1.PersistentVolumeClaim;
  public readonly deployment: k8s.apps.v1.Deployment;
  public readonly service: k8s.core.v1.Service;

  constructor(name: string, args: MirrorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("smith:platform:Mirror", name, { replicas: args.replicas, image: args.image }, opts);
    const o = { parent: this, dependsOn: args.after };
    this.claim = volumeClaim(`${name}-published`, args, { name: "smith-published", component: "mirror", size: args.storage, accessMode: args.accessMode }, o);
    const podLabels = labels("mirror");
    const selector = { "app.kubernetes.io/name": "smith", "app.kubernetes.io/component": "mirror" };
    const container = smithContainer({
      name: "mirror",
      image: args.image,
      imagePullPolicy: args.imagePullPolicy,
      args: [],
      resources: args.resources,
      volumeMounts: [{ name: "published", mountPath: PATHS.published, readOnly: true }],
      ports: [{ name: "http", containerPort: MIRROR_PORT }],
    });
    this.deployment = new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: meta(args, "smith-mirror", "mirror"),
        spec: {
          replicas: args.replicas,
          selector: { matchLabels: selector },
          template: {
            metadata: { labels: podLabels },
            spec: {
              serviceAccountName: args.serviceAccount,
              automountServiceAccountToken: false,
              securityContext: podSecurityContext(),
              containers: [
                {
                  ...(container as k8s.types.input.core.v1.Container),
                  command: mirrorCommand(),
                  readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 10 },
                  livenessProbe: { tcpSocket: { port: "http" }, periodSeconds: 20 },
                },
              ],
              volumes: [TMP_VOLUME, { name: "published", persistentVolumeClaim: { claimName: this.claim.metadata.name, readOnly: true } }],
            },
          },
        },
      },
      { parent: this, dependsOn: [...args.after, this.claim] },
    );
    this.service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: meta(args, "smith-mirror", "mirror"),
        spec: { type: "ClusterIP", selector, ports: [{ name: "http", port: 80, targetPort: "http" }] },
      },
      o,
    );
    this.registerOutputs({ service: this.service.metadata.name });
  }
}
