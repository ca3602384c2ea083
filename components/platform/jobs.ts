import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { PipelineSpec } from "../../src/platform/config";
import { COMMANDS, cronJobSpec, EGRESS_LABEL, jobSpec, labels, PATHS, podSecurityContext, ROLLOUT_STATE_SIZE, secretEnv, smithContainer, TMP_VOLUME } from "../../src/platform/workloads";
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

function podSpec(s: JobSettings, container: string, args: string[], withSsh: boolean, extra: Mounted[] = []): object {
  return {
    serviceAccountName: s.serviceAccount,
    automountServiceAccountToken: s.automountToken,
    securityContext: podSecurityContext(),
    containers: [
      smithContainer({
        name: container,
        image: s.image,
        imagePullPolicy: s.imagePullPolicy,
        args,
        resources: s.resources,
        env: [...JOB_ENV, ...(withSsh ? [{ name: "SMITH_SSH_KEY_FILE", value: `${PATHS.sshKey}/id` }] : [])],
        volumeMounts: [...(withSsh ? [{ name: "ssh", mountPath: PATHS.sshKey, readOnly: true }] : []), ...extra.map((e) => e.mount)],
      }),
    ],
    volumes: [TMP_VOLUME, ...(withSsh ? [{ name: "ssh", secret: { secretName: SECRETS.ssh, defaultMode: 0o400 } }] : []), ...extra.map((e) => e.volume)],
  };
}

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
 */
export class Rollout extends pulumi.ComponentResource {
  public readonly jobs: (k8s.batch.v1.Job | k8s.batch.v1.CronJob)[] = [];
  /** Each shard's state volume (the rollout journal). */
  public readonly stateClaims: k8s.core.v1.PersistentVolumeClaim[] = [];

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
      const spec = podSpec(args, "rollout", COMMANDS.rollout(p.build, pipeline, p.schedule !== undefined), true, [state]);
      this.jobs.push(
        p.schedule
          ? new k8s.batch.v1.CronJob(
              `${name}-${shard}`,
              { metadata: meta(args, objectName, "rollout"), spec: cronJobSpec(p.schedule, spec, podLabels) as k8s.types.input.batch.v1.CronJobSpec },
              o,
            )
          : new k8s.batch.v1.Job(`${name}-${shard}`, { metadata: meta(args, objectName, "rollout"), spec: jobSpec(spec, podLabels) as k8s.types.input.batch.v1.JobSpec }, o),
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
