import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { PipelineSpec } from "../../src/platform/config";
import { COMMANDS, cronJobSpec, EGRESS_LABEL, jobSpec, labels, PATHS, podSecurityContext, PROJECT_DIR_ENV, ROLLOUT_STATE_SIZE, secretEnv, smithContainer, TMP_VOLUME } from "../../src/platform/workloads";
import { SECRETS } from "./credentials";
import { meta, volumeClaim, WorkloadSettings } from "./meta";

interface JobSettings extends WorkloadSettings {
  /** Mount the account's API token (the rollout's node drains need the API). */
  automountToken: boolean;
}

/** Backend, passphrase and webhook from their Secrets: the job's whole view of the outside. */
const JOB_ENV = [
  secretEnv("PULUMI_BACKEND_URL", SECRETS.backend, "PULUMI_BACKEND_URL"),
  secretEnv("PULUMI_CONFIG_PASSPHRASE", SECRETS.backend, "PULUMI_CONFIG_PASSPHRASE", true),
  secretEnv("SMITH_ESCALATION_WEBHOOK", SECRETS.escalation, "SMITH_ESCALATION_WEBHOOK"),
  { name: "PULUMI_SKIP_UPDATE_CHECK", value: "true" },
];

/** A volume of the pod and where the container mounts it. */
interface Mounted {
  volume: object;
  mount: object;
}

/** Extra parts of a pod: volumes, environment, an init step, an entrypoint override. */
interface PodExtras {
  mounted?: Mounted[];
  env?: object[];
  /** Arguments of an init container of the same image, same mounts and environment. */
  init?: { name: string; args: string[] };
  command?: string[];
}

function podSpec(s: JobSettings, container: string, args: string[], withSsh: boolean, x: PodExtras = {}): object {
  const mounted = x.mounted ?? [];
  const base = {
    image: s.image,
    imagePullPolicy: s.imagePullPolicy,
    resources: s.resources,
    env: [...JOB_ENV, ...(withSsh ? [{ name: "SMITH_SSH_KEY_FILE", value: `${PATHS.sshKey}/id` }] : []), ...(x.env ?? [])],
    volumeMounts: [...(withSsh ? [{ name: "ssh", mountPath: PATHS.sshKey, readOnly: true }] : []), ...mounted.map((e) => e.mount)],
  };
  return {
    serviceAccountName: s.serviceAccount,
    automountServiceAccountToken: s.automountToken,
    securityContext: podSecurityContext(),
    ...(x.init ? { initContainers: [smithContainer({ ...base, ...x.init })] } : {}),
    containers: [smithContainer({ ...base, name: container, args, ...(x.command ? { command: x.command } : {}) })],
    volumes: [TMP_VOLUME, ...(withSsh ? [{ name: "ssh", secret: { secretName: SECRETS.ssh, defaultMode: 0o400 } }] : []), ...mounted.map((e) => e.volume)],
  };
}

/** Never due (30 February): the console only runs when started by hand, and is suspended anyway. */
const CONSOLE_SCHEDULE = "0 0 30 2 *";

export interface RolloutArgs extends JobSettings {
  pipeline: PipelineSpec;
  /** StorageClass of the shards' state volumes. Defaults to the cluster's default class. */
  storageClass?: string;
}

/**
 * `smith:platform:Rollout`: one pipeline's runner, one Job per stack shard (a CronJob when the
 * pipeline has a schedule), so a large fleet's shards run in parallel on the cluster. Each runs
 * `smith rollout --build B --pipeline <shard's file>` with the backend, passphrase, SSH key and
 * webhook from Secrets. Each shard has its own small ReadWriteOnce volume (claim named like its
 * Job, kept across builds) for the rollout's journal (`--state-dir`): retry counts, incidents
 * sent and the change request's id outlive the pod, so the next run resumes instead of paging
 * again or opening a second change. The CronJob's `concurrencyPolicy: Forbid` keeps one writer.
 * The same volume holds the shard's Pulumi project dir (PATHS.project: the stack files the
 * rollout writes smith:build/untilWave/halted to, and approvals), seeded from the image by an
 * init container (`smith project seed`); the code stays on the read-only root filesystem.
 * Each shard also gets a console: a suspended CronJob with the same pod (volume, Secrets, init
 * step) that sleeps, started by hand (`kubectl create job --from=cronjob/…`) so an operator can
 * `kubectl exec` into it and run `smith approve` where the rollout will read it (docs/platform.md).
 */
export class Rollout extends pulumi.ComponentResource {
  public readonly jobs: (k8s.batch.v1.Job | k8s.batch.v1.CronJob)[] = [];
  /** Each shard's state volume (the rollout journal). */
  public readonly stateClaims: k8s.core.v1.PersistentVolumeClaim[] = [];
  /** Each shard's console (suspended CronJob): the way in for `smith approve`. */
  public readonly consoles: k8s.batch.v1.CronJob[] = [];

  constructor(name: string, args: RolloutArgs, opts?: pulumi.ComponentResourceOptions) {
    super("smith:platform:Rollout", name, { pipeline: args.pipeline.name, build: args.pipeline.build, schedule: args.pipeline.schedule ?? null }, opts);
    const p = args.pipeline;
    for (const { name: shard, pipeline } of p.shards) {
      const podLabels = labels("rollout", { ...EGRESS_LABEL, "smith.fleet/pipeline": p.name, "smith.fleet/shard": shard });
      const objectName = `smith-rollout-${p.name}-${shard}`.slice(0, 52);
      const o = { parent: this, dependsOn: args.after };
      const claim = volumeClaim(`${name}-${shard}-state`, args, { name: objectName, component: "rollout", size: ROLLOUT_STATE_SIZE, accessMode: "ReadWriteOnce" }, o);
      this.stateClaims.push(claim);
      const state: Mounted = { volume: { name: "state", persistentVolumeClaim: { claimName: claim.metadata.name } }, mount: { name: "state", mountPath: PATHS.rolloutState } };
      const extras: PodExtras = { mounted: [state], env: [{ name: PROJECT_DIR_ENV, value: PATHS.project }], init: { name: "seed-project", args: COMMANDS.seedProject() } };
      const spec = podSpec(args, "rollout", COMMANDS.rollout(p.build, pipeline, p.schedule !== undefined), true, extras);
      this.jobs.push(
        p.schedule
          ? new k8s.batch.v1.CronJob(
              `${name}-${shard}`,
              { metadata: meta(args, objectName, "rollout"), spec: cronJobSpec(p.schedule, spec, podLabels) as k8s.types.input.batch.v1.CronJobSpec },
              o,
            )
          : // Named, so never two at once: delete first. Without it a forced replacement (`pulumi up
            // --replace`, how an operator reruns a shard) applies the new Job onto the old one's name
            // and then deletes "the original": no Job left (seen on the test API server).
            new k8s.batch.v1.Job(`${name}-${shard}`, { metadata: meta(args, objectName, "rollout"), spec: jobSpec(spec, podLabels) as k8s.types.input.batch.v1.JobSpec }, { ...o, deleteBeforeReplace: true }),
      );
      const consoleSpec = podSpec(args, "console", [], true, { ...extras, command: COMMANDS.console() });
      this.consoles.push(
        new k8s.batch.v1.CronJob(
          `${name}-${shard}-console`,
          {
            metadata: meta(args, `smith-console-${p.name}-${shard}`.slice(0, 52), "rollout"),
            spec: { ...(cronJobSpec(CONSOLE_SCHEDULE, consoleSpec, { ...podLabels, "smith.fleet/console": "true" }) as object), suspend: true } as k8s.types.input.batch.v1.CronJobSpec,
          },
          o,
        ),
      );
    }
    this.registerOutputs({});
  }
}

export interface ComplianceArgs extends JobSettings {
  schedule: string;
  /** The pipeline files of every rollout shard: their stacks are the ones checked. */
  pipelineFiles: string[];
}

/**
 * `smith:platform:Compliance`: two daily CronJobs over the stacks of the rollout shards' pipeline
 * files (`--pipeline`), one failing on machines overdue (or unknown), one also on machines due
 * soon (the policy's window), each alerting through the escalation webhook (`--alert`).
 */
export class Compliance extends pulumi.ComponentResource {
  public readonly overdue: k8s.batch.v1.CronJob;
  public readonly dueSoon: k8s.batch.v1.CronJob;

  constructor(name: string, args: ComplianceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("smith:platform:Compliance", name, { schedule: args.schedule, pipelineFiles: args.pipelineFiles }, opts);
    const cron = (suffix: string, cmd: string[]) =>
      new k8s.batch.v1.CronJob(
        `${name}-${suffix}`,
        {
          metadata: meta(args, `smith-compliance-${suffix}`, "compliance"),
          spec: cronJobSpec(args.schedule, podSpec(args, "compliance", cmd, false), labels("compliance", EGRESS_LABEL)) as k8s.types.input.batch.v1.CronJobSpec,
        },
        { parent: this, dependsOn: args.after },
      );
    this.overdue = cron("overdue", COMMANDS.complianceOverdue(args.pipelineFiles));
    this.dueSoon = cron("due-soon", COMMANDS.complianceDueWithin(args.pipelineFiles));
    this.registerOutputs({});
  }
}
