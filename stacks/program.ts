import * as pulumi from "@pulumi/pulumi";
import { problemsError, UserError } from "../src/errors";
import { stackSafetyProblems } from "../src/pulumi/stack-safety";
import { loadInventory } from "../src/inventory/load";
import { readInputFileSync } from "../src/inventory/read-file";
import type { Machine } from "../src/inventory/schema";
import { loadWaves } from "../src/waves/load";
import { planRollout } from "../src/plan/planner";
import { parseKnownHosts } from "../src/config/known-hosts";
import { resolveHostKeys } from "../src/config/host-keys";
import { haltedFor, StackConfig } from "../src/config/stack-config";
import { decideWaves, WaveDecision } from "../components/fleet/gates";
import { NodePatch, NodeSettings } from "../components/fleet/node-patch";
import { PatchWave } from "../components/fleet/patch-wave";
import { RebootProber, sshRebootProber } from "../components/fleet/boot-probe";
import {
  asNodeRecords,
  NodeResult,
  nodesOutput,
  rolloutOutput,
  rolloutWaves,
  unassignedOutput,
  WaveInput,
  wavesOutput,
} from "../components/fleet/rollout";
import { readStackConfig } from "./config";
import { kubeHookSettings, kubeNodeHooks } from "../components/kube/hooks";
import { selectShard, shardFleet, shardPlan } from "../src/shard/shard";
import { LockstepSettings, waveBarrier } from "../components/fleet/lockstep";
import { startKeyAgent } from "../src/ssh/key-agent";
import { applyUntilWave } from "../src/shard/until-wave";

export interface ProgramOptions {
  /** Where relative config paths start. Defaults to the working directory (the project dir). */
  projectDir?: string;
  /** The clock soak gates compare against. Defaults to the current time. */
  now?: () => Date;
  /** Local agent script. Defaults to agent/smith-agent. */
  agentPath?: string;
  /** The environment the CLI gave the program (passphrase, backend). Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Waits for scheduled reboots. Defaults to polling the boot id over SSH (boot-probe.ts). */
  rebootProber?: RebootProber;
  /** Steps before patch / after health per machine (Kubernetes drain). Defaults to none. */
  hooks?: NodeSettings["hooks"];
}

/**
 * The Pulumi program: config → inventory → waves → plan → PatchWaves → outputs. A `UserError`
 * (bad config, inventory, wave file) becomes a RunError: the engine prints its message as one
 * line, without the stack trace an unexpected error gets.
 */
export async function main(opts: ProgramOptions = {}): Promise<Record<string, unknown>> {
  try {
    return await program(opts);
  } catch (err) {
    if (err instanceof UserError) throw userRunError(err);
    throw err;
  }
}

/**
 * The SDK's runner formats every error's stack for its tracing span, even a RunError whose stack
 * it hides; under ts-node that source-maps the whole trace and took ~20 s. A user error's stack
 * says nothing, so it is set to the message before anyone formats it.
 */
function userRunError(err: UserError): pulumi.RunError {
  const runError = new pulumi.RunError(err.message);
  runError.stack = err.message;
  return runError;
}

async function program(opts: ProgramOptions): Promise<Record<string, unknown>> {
  const { config, privateKey: readKey } = readStackConfig(opts.projectDir);
  // Before anything else reads a file or dials a machine: lab conveniences never reach a real stack.
  const unsafe = stackSafetyProblems({
    stack: pulumi.getStack(),
    projectDir: opts.projectDir ?? process.cwd(),
    env: opts.env ?? process.env,
    allowLocalBackend: config.allowLocalBackend,
    requireHostKeys: config.requireHostKeys,
  });
  if (unsafe.length) throw problemsError(unsafe);
  const privateKey = readKey();
  const inventory = await loadInventory(config.inventory);
  // A shard stack patches only its shard's machines (docs/scale.md).
  const machines = config.shard === undefined ? inventory : selectShard(inventory, { shard: config.shard, size: config.shardSize, by: config.shardBy });
  const waveFile = loadWaves(config.waves);
  // In a shard, a wave may select nothing (canary is one region): selectors are checked against
  // the whole fleet, then the shard is planned with every wave optional.
  // A shard runs its part of the whole fleet's plan (the fleet's samples and phases). Gates are
  // decided on the fleet's plan, so a wave held in another shard (a region canary) holds this
  // shard's later waves too, and wave barriers line up across shards.
  const fleetPlan = planRollout(inventory, waveFile, config.build);
  const plan = config.shard === undefined ? fleetPlan : shardPlan(fleetPlan, machines);
  const byName = new Map(machines.map((m) => [m.name, m]));
  const planned = plan.waves.flatMap((w) => w.clusters.flatMap((c) => c.nodes.map((n) => byName.get(n)!)));
  const hostKeys = hostKeysFor(planned, config);

  const refs = new StackRefs(config.stackOrg);
  const previous = asNodeRecords(await refs.output(pulumi.getStack(), "nodes"));
  const soakStacks = [...new Set(fleetPlan.waves.flatMap((w) => (w.gate?.soak ? [w.gate.soak.stack] : [])))];
  const soakRollouts = new Map<string, unknown>();
  for (const s of soakStacks) soakRollouts.set(s, await refs.output(s, "rollout"));

  const gated = decideWaves(fleetPlan, {
    build: config.build,
    approvals: config.approvals,
    soakRollouts,
    now: (opts.now ?? (() => new Date()))(),
    stackOrg: config.stackOrg,
    project: pulumi.getProject(),
  });
  const fleetDecisions = applyUntilWave(gated, config.untilWave, waveFile.waves.map((w) => w.name));
  const inShard = new Set(plan.waves.map((w) => w.name));
  const decisions = fleetDecisions.filter((d) => inShard.has(d.wave));
  const halted = haltedFor(config.halted, config.build);
  const inputs = rolloutWaves(plan, byName, decisions, previous, hostKeys, halted);
  if (halted.size) pulumi.log.warn(`halted for build ${config.build} (smith:halted): ${[...halted].sort().join(", ")}; they and the rest of their clusters wait`);
  logHeld(inputs, decisions);
  if (plan.unassigned.length) {
    const first = plan.unassigned.slice(0, 3).map((u) => `${u.name} (${u.reason})`);
    pulumi.log.info(`${plan.unassigned.length} machine(s) are in no wave and are left alone: ${first.join("; ")}${plan.unassigned.length > 3 ? "; …" : ""}`);
  }

  // The key stays in this process: commands authenticate through its agent socket.
  const keyAgent = await startKeyAgent(plainValue(privateKey), `${opts.projectDir ?? process.cwd()}\0${pulumi.getStack()}`);
  const settings: NodeSettings = {
    repoUrl: config.repoUrl,
    agentSocketPath: keyAgent.socketPath,
    sshUser: config.sshUser,
    agentPath: opts.agentPath,
    healthTimeoutMinutes: config.healthTimeoutMinutes,
    patchTimeoutMinutes: config.patchTimeoutMinutes,
    rebootDelaySeconds: config.rebootDelaySeconds,
    rebootProber: opts.rebootProber ?? sshRebootProber(plainValue(privateKey)),
    // Kubernetes nodes: drain before the patch, uncordon after health (components/kube; platform).
    hooks: opts.hooks ?? kubeNodeHooks(kubeHookSettings(config, opts.projectDir)),
  };
  const lockstep: LockstepSettings | undefined =
    config.shard !== undefined && config.lockstepDir !== undefined
      ? {
          dir: config.lockstepDir,
          shard: config.shard,
          shards: shardFleet(inventory, { size: config.shardSize, by: config.shardBy }).map((s) => s.name),
          timeoutMinutes: config.lockstepTimeoutMinutes,
          projectDir: opts.projectDir ?? process.cwd(),
        }
      : undefined;
  const nodes: { node: NodePatch; frozen: boolean }[] = [];
  withoutPromiseStackTraces(() => {
    let after: pulumi.Resource[] = [];
    const byWave = new Map(inputs.map((w) => [w.name, w]));
    // The fleet's waves in order, those without machines in this shard included: every shard
    // passes every barrier, so the next wave starts anywhere only when this one finished in all.
    fleetDecisions.forEach((d, i) => {
      const w = byWave.get(d.wave);
      if (w) {
        const gate = w.soakStack ? [refs.get(w.soakStack)] : [];
        const wave = new PatchWave(w.name, { clusters: w.clusters, settings, after: [...after, ...gate], held: w.held });
        after = wave.last;
        for (const c of wave.clusters) for (const n of c.nodes) nodes.push({ node: n, frozen: w.held });
      }
      const next = fleetDecisions[i + 1];
      if (lockstep && !d.held && next && !next.held) {
        const members = (w?.clusters ?? []).flatMap((c) => c.nodes.map((n) => n.machine.name));
        after = [waveBarrier(lockstep, config.build, d.wave, members, after)];
      }
    });
  });

  const results = pulumi.all(
    nodes.map(({ node, frozen }) =>
      pulumi.all([node.build, node.rebooted, node.finishedAt, node.packagesChanged]).apply(
        ([build, rebooted, finishedAt, packagesChanged]): NodeResult => ({
          name: node.machineName,
          build,
          rebooted,
          finishedAt,
          packagesChanged,
          frozen,
          hostKey: node.hostKeyFingerprint,
          rev: node.revision,
        }),
      ),
    ),
  );
  return {
    build: config.build,
    rollout: results.apply((r) => rolloutOutput(config.build, inputs, r, [...halted])),
    nodes: results.apply((r) => nodesOutput(r)),
    waves: wavesOutput(inputs),
    unassigned: unassignedOutput(plan),
  };
}

/**
 * The key as a plain promise, for the reboot prober's own SSH sessions. Reading it through
 * `apply` keeps it out of every resource input: a secret flowing into the healthcheck's `create`
 * would make that whole input secret in state.
 */
function plainValue(o: pulumi.Output<string>): Promise<string> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

/**
 * Runs `fn` with V8 stack traces off. The SDK attaches a stack trace to every promise behind
 * every output property of every resource (runtime/debuggable.ts): ~160 per machine here, which
 * measured (bench/program.bench.ts) as ~70% of program time and a large share of its memory.
 * Resource source positions are unaffected: the SDK raises the limit itself to take those.
 * It also records each resource's whole JS stack in the state (`stackTrace`, ~600 bytes a
 * resource, ~2.4 KB a machine, rewritten with every checkpoint): only the first frame (the
 * `sourcePosition` the engine shows) is kept. Both restored afterwards.
 */
function withoutPromiseStackTraces(fn: () => void): void {
  const saved = Error.stackTraceLimit;
  const res = pulumi.Resource as unknown as { stackTrace?: (skip: number) => unknown[] };
  const fullTrace = res.stackTrace;
  Error.stackTraceLimit = 0;
  // skip + 1: this wrapper is one more frame between the resource's constructor and callsites().
  if (typeof fullTrace === "function") res.stackTrace = (skip) => fullTrace.call(pulumi.Resource, skip + 1).slice(0, 1);
  try {
    fn();
  } finally {
    Error.stackTraceLimit = saved;
    res.stackTrace = fullTrace;
  }
}

function hostKeysFor(planned: Machine[], config: StackConfig): Map<string, string | undefined> {
  let knownHosts;
  if (config.knownHosts) {
    const text = readInputFileSync(config.knownHosts, { what: "smith:knownHosts file" });
    knownHosts = parseKnownHosts(text, config.knownHosts);
  }
  const keys = resolveHostKeys(planned, { knownHosts, knownHostsPath: config.knownHosts, requireHostKeys: config.requireHostKeys });
  const unverified = planned.filter((m) => keys.get(m.name) === undefined).map((m) => m.name);
  if (unverified.length) {
    pulumi.log.warn(
      `smith:requireHostKeys is false: ${unverified.length} machine(s) connect WITHOUT host key verification: ${unverified.slice(0, 10).join(", ")}${unverified.length > 10 ? ", …" : ""}`,
    );
  }
  return keys;
}

function logHeld(inputs: WaveInput[], decisions: WaveDecision[]): void {
  decisions.forEach((d, i) => {
    if (!d.held) return;
    const w = inputs[i];
    const kept = w.registered ? `; ${w.registered} already patched node(s) kept as they are` : "";
    const waiting = w.planned - w.registered;
    const msg = `wave ${d.wave} is HELD: ${d.reason}${kept}${waiting ? `; ${waiting} node(s) wait` : ""}`;
    // The wave whose own gate is closed is the one to act on; the ones behind it follow.
    if (d.reason?.startsWith("earlier wave")) pulumi.log.info(msg);
    else pulumi.log.warn(msg);
  });
}

/**
 * StackReferences by stack name, created once each: this stack's own (its previous outputs say
 * which nodes were patched to which build) and those soak gates read.
 */
class StackRefs {
  private readonly refs = new Map<string, pulumi.StackReference>();
  constructor(private readonly org: string) {}

  get(stack: string): pulumi.StackReference {
    let ref = this.refs.get(stack);
    if (!ref) {
      ref = new pulumi.StackReference(`stack-${stack}`, { name: `${this.org}/${pulumi.getProject()}/${stack}` });
      this.refs.set(stack, ref);
    }
    return ref;
  }

  /** A stack output as plain data (secret or not); undefined when the stack has none. */
  async output(stack: string, name: string): Promise<unknown> {
    const d = await this.get(stack).getOutputDetails(name);
    return d.value ?? d.secretValue;
  }
}
