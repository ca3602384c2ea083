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
  /** Replaces the image's entrypoint (`smith`). Defaults to the entrypoint. */
  command?: string[];
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
    ...(a.command ? { command: a.command } : {}),
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
  /** Where `smith` lives in the image (Dockerfile): relative pipeline files are found from here. */
  app: "/opt/smith",
  signingKey: "/etc/smith/signing",
  sshKey: "/etc/smith/ssh",
  aptly: "/var/lib/smith/aptly",
  published: "/srv/smith/mirror",
  /**
   * The rollout's journal, lock and change records (`smith rollout --state-dir`): on a
   * persistent volume, since each scheduled run is a new pod and a resumed run must find them.
   */
  rolloutState: "/var/lib/smith/pipeline",
  /**
   * The rollout's Pulumi project dir (`smith rollout/approve --project-dir`, $SMITH_PROJECT_DIR)
   * on the same volume: `Pulumi.<stack>.yaml` there takes the stack config the rollout and
   * approvals write (smith:build, untilWave, halted, approvals); the code stays read-only in
   * `app`. A dot name, so no pipeline's journal directory (`<state>/<pipeline>/`) meets it.
   */
  project: "/var/lib/smith/pipeline/.project",
} as const;

export type Paths = { [K in keyof typeof PATHS]: string };

/** The environment variable `smith rollout` and `smith approve` take the project dir from (src/pipeline/project-dir.ts). */
export const PROJECT_DIR_ENV = "SMITH_PROJECT_DIR";

/** How long a shard's console pod stays up for `kubectl exec` (an approval, a dry run). */
export const CONSOLE_SECONDS = 3600;

/** Size of each rollout shard's state volume: journals and change records are kilobytes per build. */
export const ROLLOUT_STATE_SIZE = "1Gi";

/**
 * What each workload runs (arguments of the image's `smith` entrypoint), with the flags of the
 * builds (build/sync/verify, cli/commands/*.ts), pipeline (rollout) and audit (compliance)
 * subcommands collected here so a change to them is one edit.
 */
export const COMMANDS = {
  /**
   * `smith sync` and `smith verify` need the number `smith build` chose, which only its output
   * says (`build N: …`), so the builder is one POSIX sh script of constant strings (no value is
   * interpolated) that carries N from one to the next.
   */
  builder: (): string[] => [
    "sh",
    "-ec",
    [
      `smith build --config ${PATHS.buildsFile} | tee /tmp/build.out`,
      `n=$(sed -n 's/^build \\([0-9][0-9]*\\): .*/\\1/p' /tmp/build.out | tail -n 1)`,
      `test -n "$n"`,
      `smith sync --config ${PATHS.buildsFile} --build "$n"`,
      `smith verify --config ${PATHS.buildsFile} --build "$n"`,
    ].join("\n"),
  ],
  /**
   * One shard = one pipeline file (`smith rollout` runs one file's stages). A scheduled run does
   * not sit out soaks (`--no-wait`: it stops and the next run goes on); a one-off Job waits.
   * The journal goes to the shard's volume (`--state-dir`), so the next pod resumes from it.
   */
  rollout: (build: string, pipelineFile: string, scheduled: boolean, paths: Paths = PATHS) => [
    "rollout",
    "--build",
    build,
    "--pipeline",
    pipelineFile,
    "--state-dir",
    paths.rolloutState,
    "--project-dir",
    paths.project,
    ...(scheduled ? ["--no-wait"] : []),
  ],
  /**
   * The rollout pod's init step: the writable project dir on the shard's volume, from the
   * image's (src/platform/project.ts: Pulumi.yaml follows the image, stack files copied only
   * when absent so config written by earlier runs and approvals persists, the rest linked).
   */
  seedProject: (paths: Paths = PATHS) => ["project", "seed", "--from", paths.app, "--to", paths.project],
  /** The shard's console (a suspended CronJob started by hand): stays up for `kubectl exec`. */
  console: (): string[] => ["sleep", String(CONSOLE_SECONDS)],
  /**
   * The daily compliance checks cover the stacks the rollout shards cover: each shard's pipeline
   * file (relative to /opt/smith, as for `smith rollout`) is passed as `--pipeline`, and smith
   * checks every stack it names. The due-soon window is the policy's `dueSoonDays` (7 by default).
   */
  complianceOverdue: (pipelineFiles: readonly string[]) => ["compliance", ...pipelineArgs(pipelineFiles), "--fail-on", "overdue", "--alert"],
  complianceDueWithin: (pipelineFiles: readonly string[]) => ["compliance", ...pipelineArgs(pipelineFiles), "--fail-on", "due-soon", "--alert"],
} as const;

function pipelineArgs(files: readonly string[]): string[] {
  return [...new Set(files)].flatMap((f) => ["--pipeline", f]);
}

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
