import type { Resources } from "./config";

/**
 * Pure pieces of the platform's pod specs (plain Kubernetes API objects): labels, security
 * contexts, the smith container, and the command lines each workload runs. components/platform
 * assembles them into resources; tests check them without Pulumi.
 */

export type Component = "builder" | "mirror" | "rollout" | "compliance";

export function labels(component: Component, extra: Record<string, string> = {}): Record<string, string> {
  return { "app.kubernetes.io/name": "smith", "app.kubernetes.io/component": component, "app.kubernetes.io/managed-by": "pulumi", ...extra };
}

/** Pods that may open connections beyond DNS (NetworkPolicy `smith-jobs-egress` selects this label). */
export const EGRESS_LABEL = { "smith.fleet/egress": "true" };

/** The image's unprivileged user (Dockerfile). */
export const SMITH_UID = 10001;

export function podSecurityContext(): object {
  return {
    runAsNonRoot: true,
    runAsUser: SMITH_UID,
    runAsGroup: SMITH_UID,
    fsGroup: SMITH_UID,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export function containerSecurityContext(): object {
  return { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } };
}

/** Writable scratch space: the root filesystem is read-only; HOME and the Pulumi home (Dockerfile) live here. */
export const TMP_VOLUME = { name: "tmp", emptyDir: {} };
export const TMP_MOUNT = { name: "tmp", mountPath: "/tmp" };
const TMP_ENV = [{ name: "HOME", value: "/tmp" }];

export interface ContainerArgs {
  name: string;
  image: string;
  imagePullPolicy: string;
  args: string[];
  resources: Resources;
  env?: object[];
  volumeMounts?: object[];
  ports?: object[];
}

/** The smith image's container: entrypoint `smith` (Dockerfile), so `args` is the subcommand. */
export function smithContainer(a: ContainerArgs): object {
  return {
    name: a.name,
    image: a.image,
    imagePullPolicy: a.imagePullPolicy,
    args: a.args,
    env: [...TMP_ENV, ...(a.env ?? [])],
    resources: a.resources,
    securityContext: containerSecurityContext(),
    volumeMounts: [TMP_MOUNT, ...(a.volumeMounts ?? [])],
    ...(a.ports ? { ports: a.ports } : {}),
  };
}

/** An env var from a key of a Secret. */
export function secretEnv(name: string, secret: string, key: string, optional = false): object {
  return { name, valueFrom: { secretKeyRef: { name: secret, key, ...(optional ? { optional: true } : {}) } } };
}

/** Where the platform mounts things in the smith container. */
export const PATHS = {
  buildsFile: "/etc/smith/builds.yaml",
  signingKey: "/etc/smith/signing",
  sshKey: "/etc/smith/ssh",
  aptly: "/var/lib/smith/aptly",
  published: "/srv/smith/mirror",
} as const;

/**
 * What each workload runs (arguments of the image's `smith` entrypoint). The subcommands belong
 * to builds (build/sync/verify), pipeline (rollout) and audit (compliance); their flags are
 * collected here so a change to them is one edit.
 */
export const COMMANDS = {
  build: (buildsFile: boolean) => ["build", ...(buildsFile ? ["--config", PATHS.buildsFile] : []), "--aptly-root", PATHS.aptly, "--signing-key", `${PATHS.signingKey}/key.asc`],
  sync: (buildsFile: boolean) => ["sync", ...(buildsFile ? ["--config", PATHS.buildsFile] : []), "--aptly-root", PATHS.aptly, "--to", PATHS.published],
  verify: (buildsFile: boolean) => ["verify", ...(buildsFile ? ["--config", PATHS.buildsFile] : []), "--root", PATHS.published],
  rollout: (pipeline: string, stack: string) => ["rollout", "--pipeline", pipeline, "--stack", stack],
  complianceOverdue: () => ["compliance", "--overdue", "--alert"],
  complianceDueWithin: (days: number) => ["compliance", "--due-within", `${days}d`, "--alert"],
} as const;

/** The mirror: busybox's httpd (in the image) serving the published builds read-only. */
export const MIRROR_PORT = 8080;
export function mirrorCommand(): string[] {
  return ["busybox", "httpd", "-f", "-v", "-p", String(MIRROR_PORT), "-h", PATHS.published];
}

/** A CronJob spec around a pod spec: never overlapping, a few histories kept, UTC. */
export function cronJobSpec(schedule: string, podSpec: object, podLabels: Record<string, string>): object {
  return {
    schedule,
    timeZone: "Etc/UTC",
    concurrencyPolicy: "Forbid",
    successfulJobsHistoryLimit: 3,
    failedJobsHistoryLimit: 5,
    jobTemplate: { spec: jobSpec(podSpec, podLabels) },
  };
}

/** A Job spec: no retries by Kubernetes (smith's own retries and resume apply), bounded. */
export function jobSpec(podSpec: object, podLabels: Record<string, string>): object {
  return { backoffLimit: 0, activeDeadlineSeconds: 6 * 3600, template: { metadata: { labels: podLabels }, spec: { restartPolicy: "Never", ...podSpec } } };
}
