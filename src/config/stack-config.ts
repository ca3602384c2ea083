import * as path from "path";
import { z } from "zod";
import { Problem, problemsError } from "../errors";
import { SAFE_TOKEN } from "../inventory/schema";

/**
 * Stack configuration (`smith:` namespace), validated once when the program starts. Shared by
 * the Pulumi program (stacks/) and the CLI. Pure: the caller reads Pulumi config and hands over
 * plain strings plus the set of keys stored as secrets; secret values never enter this module.
 */

/** The config namespace; every key below is `smith:<key>` in the stack file. */
export const CONFIG_NAMESPACE = "smith";

const POSITIVE_INT = /^[1-9][0-9]*$/;
const NON_NEGATIVE_INT = /^(0|[1-9][0-9]*)$/;
/** `<wave>@<build>`: a wave name (phases are `<wave>/phase-<i>`) and the build it is approved for. */
/** `<machine>@<build>`: a machine halted for one build. */
const HALTED = /^[A-Za-z0-9][A-Za-z0-9._-]*@[1-9][0-9]*$/;
const APPROVAL = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/phase-[1-9][0-9]*)?@[1-9][0-9]*$/;

const httpUrl = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "" && !/[\s'"`$\\;&|<>]/.test(s);
    } catch {
      return false;
    }
  },
  { message: "must be an http(s) URL" },
);

/** A whole number of `unit` in [min, max], as a string; `def` when absent. */
function boundedInt<D extends number | undefined>(unit: string, min: number, max: number, def: D) {
  return z
    .string()
    .regex(NON_NEGATIVE_INT, { message: `must be a whole number of ${unit}` })
    .refine((v) => Number(v) >= min && Number(v) <= max, { message: `must be between ${min} and ${max} ${unit}` })
    .optional()
    .transform((v): number | D => (v === undefined ? def : Number(v)));
}

const boolString = (def: boolean) =>
  z
    .enum(["true", "false"], { message: "must be true or false" })
    .optional()
    .transform((v) => (v === undefined ? def : v === "true"));

/**
 * The schema over the raw strings (lists already decoded from their JSON form). It is the single
 * source of the `StackConfig` type; paths are made absolute afterwards, against the project dir.
 */
export const StackConfigSchema = z
  .object({
    /** The build to patch every machine to: a positive integer, as a string. Required. */
    build: z
      .string()
      .regex(POSITIVE_INT, { message: "must be a positive integer like \"42\"" })
      .max(9, { message: "must have at most 9 digits" }),
    /** Inventory YAML file(s), relative to the project dir. Required. */
    inventory: z.array(z.string().min(1, { message: "paths must not be empty" })).min(1, { message: "needs at least one path" }),
    /** Wave file, relative to the project dir. Required. */
    waves: z.string().min(1, { message: "must be a path" }),
    /** Base URL of the apt repository (`<repoUrl>/builds/<build>`). Required. */
    repoUrl: httpUrl,
    /** SSH user for machines whose inventory sets no `user`. Defaults to root; others use `sudo -n`. */
    sshUser: z.string().regex(SAFE_TOKEN, { message: "must be a user name (letters, digits, '.', '_', '-')" }).default("root"),
    /** Whether `smith:sshPrivateKey` is set (its value is read separately, as a secret). */
    sshPrivateKey: z.literal("<secret>").optional(),
    /** Path of the SSH private key file, relative to the project dir (outside the repo in practice). */
    sshPrivateKeyPath: z.string().min(1, { message: "must be a path" }).optional(),
    /** OpenSSH known_hosts file with host keys for machines whose inventory has none. */
    knownHosts: z.string().min(1, { message: "must be a path" }).optional(),
    /** Approvals, `<wave>@<build>`. Defaults to none. */
    approvals: z.array(z.string().regex(APPROVAL, { message: "must be <wave>@<build>, e.g. prod-eu@42" })).default([]),
    /** Refuse machines without a host key. Defaults to true; false only for throwaway test fleets. */
    requireHostKeys: boolString(true),
    /** Organization part of StackReference names (`<org>/smith/<stack>`). Defaults to "organization" (file backend). */
    stackOrg: z.string().regex(SAFE_TOKEN, { message: "must be an organization name" }).default("organization"),
    /**
     * kubeconfig of the Kubernetes cluster(s) whose nodes are in the inventory (platform,
     * docs/platform.md). Defaults to none: no machine is drained. When set, Kubernetes nodes
     * (see kubernetesNodeRoles) are cordoned and drained before their patch and uncordoned after
     * their healthcheck (only if smith cordoned them).
     */
    kubernetesKubeconfig: z.string().min(1, { message: "must be a path" }).optional(),
    /** Roles whose machines are Kubernetes nodes (as is any machine labelled `kubernetes-node`). Defaults to ["kubernetes-node"]. */
    kubernetesNodeRoles: z.array(z.string().regex(SAFE_TOKEN, { message: "must be a role name" })).default(["kubernetes-node"]),
    /** Bound on one node's drain (cordon to last pod evicted), seconds. Defaults to 600; 1 to 86400. */
    kubernetesDrainTimeoutSeconds: boundedInt("seconds", 1, 86400, 600),
    /**
     * Bound on waiting for a machine to come back from its reboot and pass its health checks
     * (the boot-id polling and the health command each). Defaults to 15; at most a day.
     */
    healthTimeoutMinutes: boundedInt("minutes", 1, 1440, 15),
    /**
     * The agent's own bound on `patch` (`--max-runtime`), in minutes. Defaults to 30 (the agent's
     * default); 1 to 240. The patch command's Pulumi timeout is this plus PATCH_TIMEOUT_MARGIN_MINUTES,
     * so Pulumi never gives up on apt before the agent does.
     */
    patchTimeoutMinutes: boundedInt("minutes", 1, 240, 30),
    /** Seconds between the agent's answer and the reboot. Defaults to the agent's default (5); 0 to 3600. */
    rebootDelaySeconds: boundedInt("seconds", 0, 3600, undefined),
    /**
     * Let a non-lab stack keep its state in the checkout-local file backend (`.smith/state`).
     * Defaults to false: real stacks share one backend, whose lock keeps two checkouts from
     * patching the same fleet at once (docs/pulumi.md).
     */
    allowLocalBackend: boolString(false),
    // Keys below are read by `smith rollout` (src/pipeline), not by the program, except `halted`.
    /** Escalation webhook URL (Slack-compatible or PagerDuty Events v2). Must be a secret. */
    escalationWebhook: z.literal("<secret>").optional(),
    /** Payload of the escalation webhook. Defaults to slack. */
    escalationFormat: z.enum(["slack", "pagerduty"], { message: "must be slack or pagerduty" }).optional(),
    /** PagerDuty Events v2 routing key (integration key). Must be a secret. */
    escalationRoutingKey: z.literal("<secret>").optional(),
    /** Per-node retries of patch → reboot → health. Defaults to the pipeline file's. */
    retries: z.string().regex(NON_NEGATIVE_INT, { message: "must be a whole number" }).optional().transform((v) => (v === undefined ? undefined : Number(v))),
    /** Seconds before the first retry (doubling). Defaults to the pipeline file's. */
    retryBackoffSeconds: z.string().regex(NON_NEGATIVE_INT, { message: "must be a whole number of seconds" }).optional().transform((v) => (v === undefined ? undefined : Number(v))),
    /** Clusters of a wave that may halt before the pipeline stops: a count or `P%`. Defaults to the pipeline file's. */
    failureBudget: z.string().regex(/^((0|[1-9][0-9]*)|(100|[1-9]?[0-9])%)$/, { message: "must be a count like \"1\" or a percentage like \"10%\"" }).optional(),
    /**
     * `<machine>@<build>` entries `smith rollout` writes when a node failed all its retries: for
     * that build the machine and the rest of its cluster are held (like a closed gate), so the
     * rest of the fleet goes on. Defaults to none.
     */
    halted: z.array(z.string().regex(HALTED, { message: "must be <machine>@<build>" })).default([]),
    /** Who approved what and when (`smith approve`): `<wave>@<build> by <user> at <ISO time>`. Defaults to none. */
    approvedBy: z.array(z.string().min(1)).default([]),
    // Scale (docs/scale.md): lockstep waves across shard stacks, and which shard this stack is.
    /**
     * Run the waves up to and including this one (`main`, or a phase `haproxy01/phase-2`); later
     * waves are held with reason "untilWave". Defaults to none (every wave). The lockstep runner
     * raises it wave by wave across shard stacks.
     */
    untilWave: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(\/phase-[1-9][0-9]*)?$/, { message: "must be a wave name like main or haproxy01/phase-2" }).optional(),
    /** This stack's shard (`all`, `eu-west`, `eu-west-2`: `smith shard list`). Defaults to none: the whole inventory. */
    shard: z.string().regex(SAFE_TOKEN, { message: "must be a shard name like eu-west-2" }).optional(),
    /** Machines per shard stack: a fleet (or region/cell) larger than this is split. Defaults to 1000. */
    shardSize: z.string().regex(POSITIVE_INT, { message: "must be a positive whole number of machines" }).optional().transform((v) => (v === undefined ? 1000 : Number(v))),
    /** What shards follow: region, or the machines' `cell` label. Defaults to region. */
    shardBy: z.enum(["region", "cell"], { message: "must be region or cell" }).default("region"),
    /**
     * A shard stack's wave barriers (src/shard/barrier.ts): the directory every shard of the fleet
     * shares for its markers. When set (with `shard`), the shards keep their waves in lockstep
     * inside one `pulumi up` each. Defaults to none: lockstep only through `untilWave`.
     */
    lockstepDir: z.string().min(1, { message: "must be a path" }).optional(),
    /** How long a shard waits at a wave barrier for the others. Defaults to 360 (1 to 10080). */
    lockstepTimeoutMinutes: boundedInt("minutes", 1, 10080, 360),
  })
  .strict();

type Parsed = z.infer<typeof StackConfigSchema>;

/** The validated configuration, paths absolute. */
export interface StackConfig extends Omit<Parsed, "sshPrivateKey" | "escalationWebhook" | "escalationRoutingKey"> {
  /** Where the private key comes from: the `smith:sshPrivateKey` secret, or the file at `sshPrivateKeyPath`. */
  privateKeySource: "secret" | "file";
}

/** Raw values as Pulumi config hands them over: strings; structured values as JSON text. */
export interface RawStackConfig {
  /** Keys without the `smith:` prefix. */
  values: Record<string, string | undefined>;
  /** Keys (without prefix) stored encrypted in the stack file. */
  secret: ReadonlySet<string>;
}

const KEYS = Object.keys(StackConfigSchema.shape);
const LIST_KEYS = new Set(["inventory", "approvals", "halted", "approvedBy", "kubernetesNodeRoles"]);
/** Values never echoed in errors. */
const SECRET_KEYS = new Set(["sshPrivateKey", "escalationWebhook", "escalationRoutingKey"]);

/**
 * Validates the stack config; throws one `UserError` listing every problem as
 * `config: smith:<key>: <reason> (got <value>)`.
 */
export function parseStackConfig(raw: RawStackConfig, projectDir: string): StackConfig {
  const problems: Problem[] = [];
  const add = (key: string, reason: string) => problems.push({ source: "config", field: `${CONFIG_NAMESPACE}:${key}`, reason });
  const input: Record<string, unknown> = {};

  for (const [key, value] of Object.entries(raw.values)) {
    if (value === undefined) continue;
    if (!KEYS.includes(key)) {
      add(key, `unknown key (known: ${KEYS.join(", ")})`);
      continue;
    }
    if (SECRET_KEYS.has(key)) {
      if (!raw.secret.has(key)) add(key, `must be stored as a secret: pulumi config set --secret smith:${key} …`);
      input[key] = "<secret>";
      continue;
    }
    if (LIST_KEYS.has(key)) {
      const list = decodeList(value);
      if (list === undefined) add(key, `must be a string or a list of strings (got ${show(value)})`);
      else input[key] = list;
      continue;
    }
    input[key] = value;
  }

  const hasKey = input.sshPrivateKey !== undefined;
  const hasPath = input.sshPrivateKeyPath !== undefined;
  if (hasKey && hasPath) add("sshPrivateKeyPath", "set either smith:sshPrivateKey (secret) or smith:sshPrivateKeyPath, not both");
  if (!hasKey && !hasPath) add("sshPrivateKey", "is required (or smith:sshPrivateKeyPath): pulumi config set --secret smith:sshPrivateKey < KEYFILE");

  const result = StackConfigSchema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? "");
      const value = raw.values[key];
      const where = issue.path.length > 1 ? `[${String(issue.path[1])}]` : "";
      if (value === undefined) add(key, "is required");
      else add(`${key}${where}`, `${issue.message} (got ${SECRET_KEYS.has(key) ? "a secret" : show(value)})`);
    }
  }
  if (problems.length) throw problemsError(problems);

  const parsed = result.data as Parsed;
  const abs = (p: string) => path.resolve(projectDir, p);
  const { sshPrivateKey, escalationWebhook, escalationRoutingKey, ...rest } = parsed;
  return {
    ...rest,
    inventory: parsed.inventory.map(abs),
    waves: abs(parsed.waves),
    sshPrivateKeyPath: parsed.sshPrivateKeyPath === undefined ? undefined : abs(parsed.sshPrivateKeyPath),
    knownHosts: parsed.knownHosts === undefined ? undefined : abs(parsed.knownHosts),
    kubernetesKubeconfig: parsed.kubernetesKubeconfig === undefined ? undefined : abs(parsed.kubernetesKubeconfig),
    lockstepDir: parsed.lockstepDir === undefined ? undefined : abs(parsed.lockstepDir),
    privateKeySource: hasKey ? "secret" : "file",
  };
}

/** A plain string is a one-element list; `["a","b"]` (how Pulumi passes YAML lists) is decoded. */
export function decodeList(value: string): string[] | undefined {
  const t = value.trim();
  if (!t.startsWith("[")) return t === "" ? [] : [t];
  try {
    const v: unknown = JSON.parse(t);
    return Array.isArray(v) && v.every((x) => typeof x === "string") ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `<wave>@<build>` approves the plan wave `wave` (or the wave it is a phase of). */
export function isApproved(approvals: readonly string[], build: string, wave: string, parentWave?: string): boolean {
  return approvals.some((a) => a === `${wave}@${build}` || (parentWave !== undefined && a === `${parentWave}@${build}`));
}

function show(v: string): string {
  const s = v.length > 80 ? `${v.slice(0, 77)}...` : v;
  return JSON.stringify(s);
}

/** Machines halted for `build` (`smith:halted` entries `<machine>@<build>`). */
export function haltedFor(halted: readonly string[], build: string): Set<string> {
  const out = new Set<string>();
  for (const h of halted) {
    const at = h.lastIndexOf("@");
    if (h.slice(at + 1) === build) out.add(h.slice(0, at));
  }
  return out;
}
