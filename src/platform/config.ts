import * as path from "path";
import { z } from "zod";
import { Problem, problemsError } from "../errors";

/**
 * Stack config of the platform stack (stacks/platform, project `smith-platform`), `smith:`
 * namespace like the fleet stacks. Pure: the program hands over plain strings and the set of
 * keys stored as secrets; secret values never enter this module (they are read as Outputs).
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CRON = /^(\S+\s+){4}\S+$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const CIDR = /^[0-9a-fA-F:.]+\/[0-9]{1,3}$/;
/** An image reference: registry/name:tag or @digest, no spaces or shell characters. */
const IMAGE = /^[a-z0-9][a-z0-9._\-/:@]*$/;

const dnsLabel = (what: string) => z.string().max(63).regex(DNS_LABEL, { message: `must be a ${what}: lower-case letters, digits, '-'` });
const cron = z.string().regex(CRON, { message: "must be a 5-field cron schedule like \"30 3 * * 0\"" });
const quantity = z.string().regex(QUANTITY, { message: "must be a Kubernetes quantity like 500m or 1Gi" });
const intString = (def: number, min = 1) =>
  z
    .string()
    .regex(/^[0-9]+$/, { message: "must be a whole number" })
    .refine((v) => Number(v) >= min, { message: `must be at least ${min}` })
    .optional()
    .transform((v) => (v === undefined ? def : Number(v)));
const boolString = (def: boolean) =>
  z
    .enum(["true", "false"], { message: "must be true or false" })
    .optional()
    .transform((v) => (v === undefined ? def : v === "true"));

const ResourcesSchema = z
  .object({
    requests: z.object({ cpu: quantity, memory: quantity }).strict(),
    limits: z.object({ cpu: quantity, memory: quantity }).strict(),
  })
  .strict();
export type Resources = z.infer<typeof ResourcesSchema>;

export const PipelineSchema = z
  .object({
    /** The pipeline's name: part of its Jobs' names. */
    name: dnsLabel("DNS label"),
    /** The build to roll out; a new value replaces the Jobs, i.e. starts the rollout of that build. */
    build: z.string().regex(/^[1-9][0-9]*$/, { message: "must be a build number like \"42\"" }),
    /**
     * Stack shards, one Job (or CronJob) each, so a large fleet's shards run in parallel: each a
     * pipeline file (`smith rollout --pipeline`, relative to the image's /opt/smith) covering
     * that shard's stacks.
     */
    shards: z
      .array(z.object({ name: dnsLabel("DNS label"), pipeline: z.string().regex(/^[A-Za-z0-9._/-]+$/, { message: "must be a relative path" }) }).strict())
      .min(1),
    /** Cron schedule (UTC). Defaults to none: a Job that runs once per change of its spec. */
    schedule: cron.optional(),
  })
  .strict();
export type PipelineSpec = z.infer<typeof PipelineSchema>;

/** Secret keys: their values are read by the program as secret Outputs, never here. */
export const PLATFORM_SECRET_KEYS = ["signingKey", "backendUrl", "configPassphrase", "sshPrivateKey", "escalationWebhook"] as const;
export type PlatformSecretKey = (typeof PLATFORM_SECRET_KEYS)[number];

const secretFlag = z.literal("<secret>").optional();

export const PlatformConfigSchema = z
  .object({
    /** Namespace for everything. Defaults to "smith". */
    namespace: dnsLabel("namespace name").default("smith"),
    /** The smith container image (Dockerfile). Required. */
    image: z.string().regex(IMAGE, { message: "must be an image reference like registry.example/smith:0.1.0" }),
    /** Defaults to IfNotPresent. */
    imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).default("IfNotPresent"),
    /** kubeconfig file for the provider. Defaults to the provider's own lookup ($KUBECONFIG, ~/.kube/config). */
    kubeconfig: z.string().min(1).optional(),
    /** kubeconfig context. Defaults to its current-context. */
    kubeContext: z.string().min(1).optional(),
    /**
     * Render manifests to this directory instead of applying them (the provider's
     * renderYamlToDirectory): preview and up then need no cluster. Defaults to none.
     */
    renderDir: z.string().min(1).optional(),
    /**
     * Do not wait for workloads to become ready (annotation pulumi.com/skipAwait). For an API
     * server without kubelet/controllers, like scripts/kube-apiserver.sh. Defaults to false.
     */
    skipAwait: boolString(false),
    /** The weekly builder's schedule, UTC. Defaults to 03:30 every Sunday. */
    builderSchedule: cron.default("30 3 * * 0"),
    /** The builds file (`smith build --config`), mounted at /etc/smith/builds.yaml. Required. */
    buildsFile: z.string().min(1, { message: "must be a path" }),
    /** Size of the builder's aptly database volume. Defaults to 20Gi. */
    builderStorage: quantity.default("20Gi"),
    /** Size of the published-builds volume the mirror serves. Defaults to 50Gi. */
    mirrorStorage: quantity.default("50Gi"),
    /** Access mode of the published-builds volume (the builder writes it, the mirror pods read it). Defaults to ReadWriteMany. */
    mirrorAccessMode: z.enum(["ReadWriteOnce", "ReadWriteMany"]).default("ReadWriteMany"),
    /** StorageClass of every volume (aptly, published builds, each rollout shard's state). Defaults to the cluster's default class. */
    storageClass: dnsLabel("StorageClass name").optional(),
    /** Mirror pods. Defaults to 2. */
    mirrorReplicas: intString(2),
    /** CIDRs allowed to reach the mirror. Defaults to none: every pod of the cluster may, nothing outside. */
    mirrorIngressCidrs: z.array(z.string().regex(CIDR, { message: "must be a CIDR like 10.0.0.0/8" })).default([]),
    /** CIDRs the jobs may reach (machines' SSH, the state backend, upstream apt, the webhook). Defaults to ["0.0.0.0/0"]. */
    egressCidrs: z.array(z.string().regex(CIDR, { message: "must be a CIDR like 10.0.0.0/8" })).default(["0.0.0.0/0"]),
    /** Rollout pipelines: `[{name, build, shards: [{name, pipeline}…], schedule?}]`; the compliance jobs check their stacks. Defaults to none. */
    pipelines: z.array(PipelineSchema).default([]),
    /** Give the rollout runner the RBAC to drain Kubernetes nodes of this cluster. Defaults to true. */
    drainNodes: boolString(true),
    /** The daily compliance jobs' schedule, UTC. Defaults to 06:00. */
    complianceSchedule: cron.default("0 6 * * *"),
    /** Change it (any new value) to regenerate every generated credential. Defaults to "1". */
    credentialsRotation: z.string().min(1).default("1"),
    /** Requests/limits of the builder. Defaults to 500m/1Gi requested, 2/4Gi limit. */
    builderResources: ResourcesSchema.default({ requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "4Gi" } }),
    /** Requests/limits of the mirror. Defaults to 50m/64Mi, 500m/256Mi. */
    mirrorResources: ResourcesSchema.default({ requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } }),
    /** Requests/limits of rollout and compliance jobs. Defaults to 250m/512Mi, 1/2Gi. */
    jobResources: ResourcesSchema.default({ requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "1", memory: "2Gi" } }),
    /** Secret: the archive signing key (armored GPG private key). Required. */
    signingKey: secretFlag,
    /** Secret: the Pulumi state backend URL the rollout and compliance jobs use. Required. */
    backendUrl: secretFlag,
    /** Secret: the stacks' passphrase (PULUMI_CONFIG_PASSPHRASE). Defaults to none (a KMS secrets provider). */
    configPassphrase: secretFlag,
    /** Secret: the SSH private key of the rollout. Required when pipelines are set. */
    sshPrivateKey: secretFlag,
    /** Secret: the escalation webhook URL (compliance alerts, rollout failures). Required. */
    escalationWebhook: secretFlag,
  })
  .strict();

type Parsed = z.infer<typeof PlatformConfigSchema>;
export type PlatformConfig = Omit<Parsed, PlatformSecretKey> & {
  /** Which secret keys are set. */
  secrets: ReadonlySet<PlatformSecretKey>;
};

const KEYS = Object.keys(PlatformConfigSchema.shape);
/** Keys whose values are JSON (lists, objects) in the stack file. */
const JSON_KEYS = new Set(["mirrorIngressCidrs", "egressCidrs", "pipelines", "builderResources", "mirrorResources", "jobResources"]);

/**
 * Validates the platform stack config; throws one UserError listing every problem as
 * `config: smith:<key>: <reason> (got <value>)`. Paths are made absolute against `projectDir`.
 */
export function parsePlatformConfig(raw: { values: Record<string, string | undefined>; secret: ReadonlySet<string> }, projectDir: string): PlatformConfig {
  const problems: Problem[] = [];
  const add = (key: string, reason: string) => problems.push({ source: "config", field: `smith:${key}`, reason });
  const input: Record<string, unknown> = {};
  const secretKeys = new Set<string>(PLATFORM_SECRET_KEYS);
  for (const [key, value] of Object.entries(raw.values)) {
    if (value === undefined) continue;
    if (!KEYS.includes(key)) {
      add(key, `unknown key (known: ${KEYS.join(", ")})`);
    } else if (secretKeys.has(key)) {
      if (!raw.secret.has(key)) add(key, `must be stored as a secret: pulumi config set --secret smith:${key} …`);
      input[key] = "<secret>";
    } else if (JSON_KEYS.has(key)) {
      try {
        input[key] = JSON.parse(value);
      } catch {
        add(key, `must be JSON (got ${show(value)})`);
      }
    } else {
      input[key] = value;
    }
  }
  const result = PlatformConfigSchema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? "");
      const where = issue.path.slice(1).map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
      if (raw.values[key] === undefined) add(key, "is required");
      else add(`${key}${where}`, `${issue.message} (got ${secretKeys.has(key) ? "a secret" : show(raw.values[key]!)})`);
    }
  }
  const data = result.success ? result.data : undefined;
  const secrets = new Set(PLATFORM_SECRET_KEYS.filter((k) => input[k] !== undefined));
  for (const k of ["signingKey", "escalationWebhook", "backendUrl"] as const) if (!secrets.has(k)) add(k, `is required: pulumi config set --secret smith:${k} …`);
  if (data && data.pipelines.length) {
    for (const k of ["sshPrivateKey"] as const) if (!secrets.has(k)) add(k, `is required when smith:pipelines is set: pulumi config set --secret smith:${k} …`);
    const names = data.pipelines.map((p) => p.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) add("pipelines", `pipeline names must be unique (got ${show(dup)} twice)`);
  }
  if (problems.length || !data) throw problemsError(problems);

  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(projectDir, p));
  const { signingKey: _s, backendUrl: _b, configPassphrase: _c, sshPrivateKey: _k, escalationWebhook: _w, ...rest } = data;
  return { ...rest, kubeconfig: abs(data.kubeconfig), renderDir: abs(data.renderDir), buildsFile: abs(data.buildsFile)!, secrets };
}

function show(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
}
