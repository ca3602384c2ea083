import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import type { Machine } from "../../src/inventory/schema";
import { agentCopyPath, healthDialDelayMs, isFreshPatch, nodeHealthCommand, nodePatchCommand, nodeRebootCommand } from "./node-commands";
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
   * nothing changes. Triggers: a different build replaces (re-runs) every command.
   */
  build: string;
  /** Base URL of the apt repository (`<repoUrl>/builds/<build>`). */
  repoUrl: string;
  /** The SSH private key. Pass a secret Output; it only ever travels inside `connection`. */
  privateKey: pulumi.Input<string>;
  /**
   * The machine's SSH host key (one authorized_keys-format line), pinned on every command.
   * Defaults to none, which @pulumi/command treats as "accept any key": callers allow that only
   * when `smith:requireHostKeys` is false.
   */
  hostKey?: string;
  /** SSH user for a machine whose inventory sets no `user`. Defaults to "root"; others use `sudo -n`. */
  sshUser?: string;
  /** Local path of the agent script. Defaults to DEFAULT_AGENT_PATH (agent/smith-agent). */
  agentPath?: string;
  /** sha256 (hex) of the agent file. Defaults to hashing `agentPath` (cached per path). */
  agentSha256?: string;
  /**
   * Resources the patch must wait for: the previous node's healthcheck in the cluster, the
   * previous wave, gates. Defaults to none. The agent copy does not wait (it changes nothing).
   */
  after?: pulumi.Resource[];
  /** Bound on waiting for the machine to come back and pass its healthchecks. Defaults to 15. */
  healthTimeoutMinutes?: number;
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
   * no reboot is in progress and the healthcheck need not wait for one.
   */
  previousFinishedAt?: string;
  /**
   * The build the previous update recorded for this node (stack output `nodes`). Defaults to
   * none. While it equals `build`, connection changes are ignored (a rotated key must not re-run
   * anything); when the build changes the commands are replaced anyway, and they take the
   * program's current connection, so a rotated key or host key is picked up with the next build.
   */
  previousBuild?: string;
  /** When this update started, to tell fresh patch reports from stored ones. Defaults to module load time. */
  programStartedAt?: Date;
}

/** What every node of a rollout shares: set once from stack config. */
export type NodeSettings = Pick<
  NodePatchArgs,
  "repoUrl" | "privateKey" | "sshUser" | "agentPath" | "agentSha256" | "healthTimeoutMinutes" | "rebootDelaySeconds" | "programStartedAt"
>;

/** What differs per node. */
export type NodeTarget = Pick<NodePatchArgs, "machine" | "build" | "hostKey" | "frozen" | "previousFinishedAt" | "previousBuild">;

/** Every input of remote.Command, for frozen nodes: the stored state wins over the program. */
const FROZEN_COMMAND_FIELDS = ["connection", "create", "update", "delete", "triggers", "logging", "environment", "stdin", "addPreviousOutputInEnv"];
const FROZEN_COPY_FIELDS = ["connection", "source", "remotePath", "triggers"];

/**
 * `smith:fleet:NodePatch`: one machine. Copies the agent (content-addressed), patches it to the
 * build, reboots it if the agent says so, and waits for it to come back healthy.
 */
export class NodePatch extends pulumi.ComponentResource {
  /** The inventory name of the machine. */
  public readonly machineName: string;
  /** The build this node is at after the update (the agent's report). */
  public readonly build: pulumi.Output<string>;
  public readonly startedAt: pulumi.Output<string | null>;
  public readonly finishedAt: pulumi.Output<string | null>;
  /** The agent scheduled a reboot in the patch run. */
  public readonly rebooted: pulumi.Output<boolean>;
  /** Number of packages installed, upgraded or removed. */
  public readonly packagesChanged: pulumi.Output<number>;
  public readonly agentCopy: remote.CopyToRemote;
  public readonly patch: remote.Command;
  public readonly reboot: remote.Command;
  /** The last resource of the node: dependents wait for it. */
  public readonly health: remote.Command;

  constructor(name: string, args: NodePatchArgs, opts?: pulumi.ComponentResourceOptions) {
    super("smith:fleet:NodePatch", name, recordedInputs(args), opts);
    const m = args.machine;
    this.machineName = m.name;
    const user = m.user ?? args.sshUser ?? "root";
    const agentPath = args.agentPath ?? DEFAULT_AGENT_PATH;
    const sha = args.agentSha256 ?? agentSha256(agentPath);
    const healthMinutes = args.healthTimeoutMinutes ?? 15;
    const frozen = args.frozen ?? false;

    const connection: types.input.remote.ConnectionArgs = {
      host: m.host,
      port: m.port ?? 22,
      user,
      privateKey: args.privateKey,
      ...(args.hostKey ? { hostKey: args.hostKey } : {}),
    };
    // A rotated key or a changed dial setting must not re-run commands on the whole fleet. But
    // ignored inputs keep their OLD value even in a replacement, so on a new build (everything
    // is replaced anyway) the connection is not ignored: the new key takes effect then.
    const rebuilding = args.previousBuild !== undefined && args.previousBuild !== args.build;
    const commandOpts = (ignore: string[], dependsOn: pulumi.Resource[]): pulumi.CustomResourceOptions => ({
      parent: this,
      dependsOn,
      ignoreChanges: frozen ? ignore : rebuilding ? [] : ["connection"],
    });

    this.agentCopy = new remote.CopyToRemote(
      `${name}-agent`,
      // Relative to the project dir: the state then does not change when the checkout moves.
      { connection, source: new pulumi.asset.FileAsset(path.relative(process.cwd(), agentPath)), remotePath: agentCopyPath(sha), triggers: [sha] },
      commandOpts(FROZEN_COPY_FIELDS, []),
    );

    this.patch = new remote.Command(
      `${name}-patch`,
      {
        connection,
        create: nodePatchCommand({ build: args.build, repoUrl: args.repoUrl, user, agentSha256: sha }),
        triggers: [args.build],
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      commandOpts(FROZEN_COMMAND_FIELDS, [this.agentCopy, ...(args.after ?? [])]),
    );

    this.reboot = new remote.Command(
      `${name}-reboot`,
      {
        connection,
        create: nodeRebootCommand({ user, delaySeconds: args.rebootDelaySeconds }),
        triggers: [args.build],
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      commandOpts(FROZEN_COMMAND_FIELDS, [this.patch]),
    );

    const healthCreate = pulumi.all([this.patch.stdout, this.reboot.stdout]).apply(async ([patchOut, rebootOut]) => {
      const outcome = rebootOutcome(rebootOut);
      const fresh = isFreshPatch({
        finishedAt: nodeSummary(patchOut, args.build).finishedAt,
        previousFinishedAt: args.previousFinishedAt,
        programStartedAt: args.programStartedAt ?? PROGRAM_STARTED_AT,
      });
      const wait = healthDialDelayMs({
        rebooting: outcome.rebooting,
        fresh: fresh && !frozen,
        delaySeconds: args.rebootDelaySeconds,
        dryRun: pulumi.runtime.isDryRun(),
      });
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      return nodeHealthCommand({ role: m.role, user, reboot: outcome });
    });

    this.health = new remote.Command(
      `${name}-health`,
      {
        // Dial until the machine is back from its reboot; customTimeouts bounds the wait.
        connection: { ...connection, dialErrorLimit: -1 },
        create: healthCreate,
        triggers: [args.build],
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      {
        ...commandOpts(FROZEN_COMMAND_FIELDS, [this.reboot]),
        customTimeouts: { create: `${healthMinutes}m`, update: `${healthMinutes}m` },
      },
    );

    // Resolves only once the healthcheck passed: the stack's `rollout` (read by soak gates) must
    // never be written while a node's health is still pending or has failed.
    const summary = pulumi.all([this.patch.stdout, this.reboot.stdout, this.health.stdout]).apply(([p, r]) => ({
      ...nodeSummary(p, args.build),
      rebooted: rebootOutcome(r).rebooting,
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
