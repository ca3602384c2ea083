import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import type { Machine } from "../../src/inventory/schema";
import type { RebootProber } from "./boot-probe";
import type { NodeHookContext, NodeHooks } from "./hooks";
import {
  agentCopyPath,
  chainRevision,
  hostKeyFingerprint,
  isFreshPatch,
  nodeHealthCommand,
  nodePatchCommand,
  PATCH_TIMEOUT_MARGIN_MINUTES,
  REBOOT_NUDGE_AFTER_MS,
  rebootProbeDelayMs,
} from "./node-commands";
import { nodeSummary, rebootOutcome } from "./reports";

/** When this program run started (module load): patch reports older than that are stored results. */
const PROGRAM_STARTED_AT = new Date();

/** The agent shipped with smith; NodePatch copies it to every machine. */
export const DEFAULT_AGENT_PATH = path.resolve(__dirname, "../../agent/smith-agent");

export interface NodePatchArgs {
  /** The machine as the inventory lists it: `host`, `port`, `user`, `role` are used. */
  machine: Machine;
  /**
   * The build to patch to. For a node of a held wave: the build it was last patched to, so
   * nothing changes. With every other input that changes what the node's commands do, it is in
   * the triggers of the whole chain: a change replaces (re-runs) the chain in order.
   */
  build: string;
  /** Base URL of the apt repository (`<repoUrl>/builds/<build>`). */
  repoUrl: string;
  /**
   * An SSH agent's socket holding the deployer's key (src/ssh/key-agent.ts: the program runs
   * one). Preferred: the key then never enters any resource's state. Defaults to none.
   */
  agentSocketPath?: string;
  /**
   * The SSH private key, when there is no `agentSocketPath`. Pass a secret Output: it travels
   * inside `connection`, so every command's state holds it encrypted. Defaults to none.
   */
  privateKey?: pulumi.Input<string>;
  /**
   * The machine's SSH host key (one authorized_keys-format line), pinned on every command.
   * Defaults to none, which @pulumi/command treats as "accept any key": callers allow that only
   * on lab stacks with `smith:requireHostKeys` false. Its fingerprint is part of the chain's
   * triggers: a new host key (a reinstalled machine) is a new machine, patched again.
   */
  hostKey?: string;
  /** SSH user for a machine whose inventory sets no `user`. Defaults to "root"; others use `sudo -n`. */
  sshUser?: string;
  /** Local path of the agent script. Defaults to DEFAULT_AGENT_PATH (agent/smith-agent). */
  agentPath?: string;
  /** sha256 (hex) of the agent file. Defaults to hashing `agentPath` (cached per path). */
  agentSha256?: string;
  /**
   * Resources the node waits for: the previous node of its cluster chain, the previous wave,
   * gates. Defaults to none. The agent copy, the `beforePatch` hooks and the patch wait for them.
   */
  after?: pulumi.Resource[];
  /** Bound on waiting for the reboot and on the healthcheck, each. Defaults to 15. */
  healthTimeoutMinutes?: number;
  /**
   * The agent's `--max-runtime` for `patch`, in minutes. Defaults to 30 (the agent's default).
   * The patch step's Pulumi timeout is this plus PATCH_TIMEOUT_MARGIN_MINUTES.
   */
  patchTimeoutMinutes?: number;
  /** Seconds between the agent's answer and the reboot. Defaults to the agent's default (5). */
  rebootDelaySeconds?: number;
  /**
   * Register the node exactly as the last update left it and ignore every input change (a held
   * wave's node). Defaults to false. Never-patched nodes of a held wave are not registered at all.
   */
  frozen?: boolean;
  /**
   * `finishedAt` of this node's patch as the previous update recorded it (stack output `nodes`).
   * Defaults to none. A patch report with the same time is a stored result, not a fresh run, so
   * no reboot is in progress and the program does not wait for one.
   */
  previousFinishedAt?: string;
  /** The build the previous update recorded for this node (stack output `nodes`). Defaults to none. */
  previousBuild?: string;
  /**
   * The chain revision the previous update recorded (stack output `nodes[].rev`). Defaults to
   * none. While build and revision are unchanged, connection changes are ignored (a rotated key
   * must not re-run anything); when either changed the chain is replaced anyway, with the
   * program's current connection, so a new key or host key is used from then on.
   */
  previousRev?: string;
  /** When this update started, to tell fresh patch reports from stored ones. Defaults to module load time. */
  programStartedAt?: Date;
  /**
   * Waits until a machine whose reboot the patch step scheduled has rebooted, before the
   * healthcheck runs. Defaults to none: the healthcheck then dials at once and retries
   * (`dialErrorLimit: -1`), which can find the old boot (unit tests and previews only).
   */
  rebootProber?: RebootProber;
  /** Steps before the patch and after the healthcheck (Kubernetes drain/uncordon). Defaults to none. */
  hooks?: NodeHooks;
}

/** What every node of a rollout shares: set once from stack config. */
export type NodeSettings = Pick<
  NodePatchArgs,
  | "repoUrl"
  | "privateKey"
  | "agentSocketPath"
  | "sshUser"
  | "agentPath"
  | "agentSha256"
  | "healthTimeoutMinutes"
  | "patchTimeoutMinutes"
  | "rebootDelaySeconds"
  | "programStartedAt"
  | "rebootProber"
> & {
  /** Hooks per machine (e.g. only for Kubernetes nodes). Defaults to none. */
  hooks?: (machine: Machine) => NodeHooks | undefined;
};

/** What differs per node. */
export type NodeTarget = Pick<NodePatchArgs, "machine" | "build" | "hostKey" | "frozen" | "previousFinishedAt" | "previousBuild" | "previousRev">;

/** Every input of remote.Command, for frozen nodes: the stored state wins over the program. */
const FROZEN_COMMAND_FIELDS = ["connection", "create", "update", "delete", "triggers", "logging", "environment", "stdin", "addPreviousOutputInEnv"];
const FROZEN_COPY_FIELDS = ["connection", "source", "remotePath", "triggers"];

/**
 * `smith:fleet:NodePatch`: one machine, three resources in a chain. `<m>-agent` copies the agent
 * (content-addressed); `<m>-patch` verifies or installs it, patches to the build and schedules
 * the reboot when the machine needs one (one SSH session); the program then waits until the
 * machine has really rebooted; `<m>-health` checks it came back healthy.
 */
export class NodePatch extends pulumi.ComponentResource {
  /** The inventory name of the machine. */
  public readonly machineName: string;
  /** The build this node is at after the update (the agent's report). */
  public readonly build: pulumi.Output<string>;
  public readonly startedAt: pulumi.Output<string | null>;
  public readonly finishedAt: pulumi.Output<string | null>;
  /** The patch step scheduled a reboot. */
  public readonly rebooted: pulumi.Output<boolean>;
  /** Number of packages installed, upgraded or removed. */
  public readonly packagesChanged: pulumi.Output<number>;
  /** `SHA256:…` of the pinned host key ("none" when unverified): recorded in the `nodes` output. */
  public readonly hostKeyFingerprint: string;
  /** The chain revision (chainRevision): recorded in the `nodes` output. */
  public readonly revision: string;
  public readonly agentCopy: remote.CopyToRemote;
  public readonly patch: remote.Command;
  public readonly health: remote.Command;
  /** The end of the node: the next node of the chain waits for these (health, or the afterHealth hooks). */
  public readonly last: pulumi.Resource[];

  constructor(name: string, args: NodePatchArgs, opts?: pulumi.ComponentResourceOptions) {
    super("smith:fleet:NodePatch", name, recordedInputs(args), opts);
    const m = args.machine;
    this.machineName = m.name;
    const user = m.user ?? args.sshUser ?? "root";
    const port = m.port ?? 22;
    const agentPath = args.agentPath ?? DEFAULT_AGENT_PATH;
    const sha = args.agentSha256 ?? agentSha256(agentPath);
    const healthMinutes = args.healthTimeoutMinutes ?? 15;
    const patchMinutes = args.patchTimeoutMinutes ?? 30;
    const maxRuntimeSeconds = args.patchTimeoutMinutes === undefined ? undefined : patchMinutes * 60;
    const frozen = args.frozen ?? false;
    const after = args.after ?? [];
    this.hostKeyFingerprint = hostKeyFingerprint(args.hostKey);
    this.revision = chainRevision({
      repoUrl: args.repoUrl,
      user,
      host: m.host,
      port,
      role: m.role,
      agentSha256: sha,
      rebootDelaySeconds: args.rebootDelaySeconds,
      maxRuntimeSeconds,
      hostKeyFingerprint: this.hostKeyFingerprint,
    });
    // Every resource of the chain has the same triggers: any change replaces all of them, in
    // chain order (each waits for the one before), so no step ever re-runs fleet-wide at once.
    const triggers = [args.build, this.revision];

    if (!args.agentSocketPath && args.privateKey === undefined) throw new Error(`NodePatch ${name}: neither agentSocketPath nor privateKey`);
    const connection: types.input.remote.ConnectionArgs = {
      host: m.host,
      port,
      user,
      ...(args.agentSocketPath ? { agentSocketPath: args.agentSocketPath } : { privateKey: args.privateKey }),
      ...(args.hostKey ? { hostKey: args.hostKey } : {}),
    };
    // A rotated key or a changed dial setting must not re-run commands. But ignored inputs keep
    // their OLD value even in a replacement, so when the chain is replaced anyway (new build or
    // revision: a new host key among others) the connection is not ignored.
    const replacing =
      args.previousBuild !== undefined && (args.previousBuild !== args.build || (args.previousRev !== undefined && args.previousRev !== this.revision));
    const commandOpts = (ignore: string[], dependsOn: pulumi.Input<pulumi.Resource>[]): pulumi.CustomResourceOptions => ({
      parent: this,
      dependsOn,
      ignoreChanges: frozen ? ignore : replacing ? [] : ["connection"],
    });

    // In the chain (after `after`): copying changes nothing on the machine, but a new agent
    // must not be copied to the whole fleet at once either.
    this.agentCopy = new remote.CopyToRemote(
      `${name}-agent`,
      // Relative to the project dir: the state then does not change when the checkout moves.
      { connection, source: new pulumi.asset.FileAsset(path.relative(process.cwd(), agentPath)), remotePath: agentCopyPath(sha), triggers },
      commandOpts(FROZEN_COPY_FIELDS, after),
    );

    const ctx: NodeHookContext = { name, machine: m, build: args.build, previousBuild: args.previousBuild, parent: this, after, triggers, frozen };
    const before = args.hooks?.beforePatch?.(ctx) ?? [];

    this.patch = new remote.Command(
      `${name}-patch`,
      {
        connection,
        create: nodePatchCommand({
          build: args.build,
          repoUrl: args.repoUrl,
          user,
          agentSha256: sha,
          maxRuntimeSeconds,
          rebootDelaySeconds: args.rebootDelaySeconds,
        }),
        triggers,
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      {
        ...commandOpts(FROZEN_COMMAND_FIELDS, [this.agentCopy, ...after, ...before]),
        // Explicit: the agent gives up (exit 5) at --max-runtime; Pulumi waits a margin longer.
        customTimeouts: { create: `${patchMinutes + PATCH_TIMEOUT_MARGIN_MINUTES}m`, update: `${patchMinutes + PATCH_TIMEOUT_MARGIN_MINUTES}m` },
      },
    );

    const dryRun = pulumi.runtime.isDryRun();
    const healthCreate = this.patch.stdout.apply(async (patchOut) => {
      const reboot = rebootOutcome(patchOut);
      const fresh = isFreshPatch({
        finishedAt: nodeSummary(patchOut, args.build).finishedAt,
        previousFinishedAt: args.previousFinishedAt,
        programStartedAt: args.programStartedAt ?? PROGRAM_STARTED_AT,
      });
      const delay = rebootProbeDelayMs({ rebooting: reboot.rebooting, fresh: fresh && !frozen, delaySeconds: args.rebootDelaySeconds, dryRun });
      if (delay !== undefined && args.rebootProber) {
        const r = await args.rebootProber({
          host: m.host,
          port,
          user,
          hostKey: args.hostKey,
          bootIdBefore: reboot.bootId,
          timeoutMs: healthMinutes * 60_000,
          initialDelayMs: delay,
          // A reboot lost on the machine: the agent's health re-queues it (exit 12) when asked.
          nudge: { command: nodeHealthCommand({ role: m.role, user, reboot, agentSha256: sha }), afterMs: delay + REBOOT_NUDGE_AFTER_MS },
        });
        if (!r.rebooted) {
          // The healthcheck still runs and says why (the agent reschedules a lost reboot).
          void pulumi.log.warn(`${m.name}: no new boot within ${healthMinutes} min after ${r.probes} probe(s): ${r.lastError ?? "?"}`, this);
        }
      }
      return nodeHealthCommand({ role: m.role, user, reboot, agentSha256: sha });
    });

    this.health = new remote.Command(
      `${name}-health`,
      {
        // Dial until sshd accepts logins again (boot, /run/nologin); customTimeouts bounds it.
        connection: { ...connection, dialErrorLimit: -1 },
        create: healthCreate,
        triggers,
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      {
        ...commandOpts(FROZEN_COMMAND_FIELDS, [this.patch]),
        customTimeouts: { create: `${healthMinutes}m`, update: `${healthMinutes}m` },
      },
    );
    const afterHealth = args.hooks?.afterHealth?.({ ...ctx, health: this.health }) ?? [];
    this.last = afterHealth.length ? afterHealth : [this.health];

    // Resolves only once the healthcheck passed: the stack's `rollout` (read by soak gates) must
    // never be written while a node's health is still pending or has failed.
    const summary = pulumi.all([this.patch.stdout, this.health.stdout]).apply(([p]) => ({
      ...nodeSummary(p, args.build),
      rebooted: rebootOutcome(p).rebooting,
    }));
    this.build = summary.apply((s) => s.build);
    this.startedAt = summary.apply((s) => s.startedAt);
    this.finishedAt = summary.apply((s) => s.finishedAt);
    this.rebooted = summary.apply((s) => s.rebooted);
    this.packagesChanged = summary.apply((s) => s.packagesChanged);

    this.registerOutputs({
      build: this.build,
      startedAt: this.startedAt,
      finishedAt: this.finishedAt,
      rebooted: this.rebooted,
      packagesChanged: this.packagesChanged,
    });
  }
}

/**
 * What the engine records as the component's inputs. Not the full args: those hold resource
 * references (`after`) and the key, and the file backend rewrites every recorded input on each
 * step of an update (cost O(resources²)), so components record a small summary.
 */
function recordedInputs(args: NodePatchArgs): Record<string, unknown> {
  return { host: args.machine.host, role: args.machine.role, build: args.build, frozen: args.frozen ?? false };
}

const shaCache = new Map<string, string>();

/** sha256 of the agent file, read once per path per program run. */
export function agentSha256(file: string): string {
  let sha = shaCache.get(file);
  if (sha === undefined) {
    sha = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    shaCache.set(file, sha);
  }
  return sha;
}
