import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { UserError } from "../errors";
import { labRepoUrl, makeLabBuilds } from "./builds";
import { FAULT_KINDS, FaultKind, hostKeyLine, LabMachineState, LabState, PulumiLabConfig, renderInventory, renderKnownHosts, renderPulumiConfig } from "./files";
import { hostProblem, mountsUnder, pidAlive, portFree, processesUnder, readPidFile, runScript, sleep, sshAnswers } from "./host";
import { DEFAULT_NETWORK, DEFAULT_SHAPE, LabShape, layoutLab } from "./layout";
import { LabPaths, labPaths, repoRelative } from "./paths";
import type { MachineState, StatusRow } from "./status";

export const DEFAULT_MIRROR_PORT = 18480;

/**
 * The loopback /24 of the repo's lab: SMITH_LAB_NETWORK, else 127.0.1. Two checkouts on one
 * host (parallel work trees, CI beside a developer) each set their own so their labs never meet.
 */
export function labNetwork(env: NodeJS.ProcessEnv = process.env): string {
  return env.SMITH_LAB_NETWORK || DEFAULT_NETWORK;
}
export const DEFAULT_REBOOT_DELAY = 2;
const SSH_WAIT_MS = 90_000;

export interface UpOptions {
  shape?: LabShape;
  rebootDelaySeconds?: number;
  /** Loopback /24 for the machines, `127.X.Y`. Defaults to 127.0.1. */
  network?: string;
  log?: (line: string) => void;
  /** Defaults to `labPaths()`: the repo's `.smith/lab`. */
  paths?: LabPaths;
}

export interface UpResult {
  state: LabState;
  alreadyRunning: boolean;
  /** Wall time of the bring-up, and of the machines alone (create → every sshd answers). */
  seconds: { total: number; machines: number };
}

export function readState(p: LabPaths = labPaths()): LabState | null {
  try {
    return JSON.parse(fs.readFileSync(p.statePath, "utf8")) as LabState;
  } catch {
    return null;
  }
}

function writeState(p: LabPaths, s: LabState): void {
  const tmp = `${p.statePath}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + "\n");
  fs.renameSync(tmp, p.statePath);
}

function requireHost(): void {
  const problem = hostProblem();
  if (problem) throw new UserError(problem);
}

/** A lab counts as running when its mirror or any machine supervisor is alive. */
export function isRunning(s: LabState | null, p: LabPaths = labPaths()): boolean {
  if (!s) return false;
  if (pidAlive(readPidFile(path.join(p.labDir, "mirror.pid")))) return true;
  return s.machines.some((m) => pidAlive(readPidFile(path.join(p.machinesDir, m.name, "supervisor.pid"))));
}

/** One `lab up` at a time, across processes (test runs of several engineers). */
async function withLock<T>(p: LabPaths, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(p.labDir, "up.lock");
  fs.mkdirSync(p.labDir, { recursive: true });
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
      break;
    } catch {
      if (!pidAlive(readPidFile(lock))) {
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new UserError(`${lock}: another 'smith lab' (pid ${readPidFile(lock)}) holds the lab lock`);
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

async function choosePort(): Promise<number> {
  for (let port = DEFAULT_MIRROR_PORT; port < DEFAULT_MIRROR_PORT + 50; port++) if (await portFree(port)) return port;
  throw new UserError(`no free port for the lab mirror on 127.0.0.1:${DEFAULT_MIRROR_PORT}-${DEFAULT_MIRROR_PORT + 49}`);
}

function ensureLabKey(p: LabPaths): Promise<unknown> {
  if (fs.existsSync(p.keyPath) && fs.existsSync(`${p.keyPath}.pub`)) return Promise.resolve();
  fs.rmSync(p.keyPath, { force: true });
  fs.rmSync(`${p.keyPath}.pub`, { force: true });
  return new Promise((resolve, reject) => {
    execFile("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "smith-lab", "-f", p.keyPath], (err) => (err ? reject(err) : resolve(null)));
  });
}

/**
 * Brings the lab up: cached rootfs (built once), mirror with builds 1-3, the shared lab layer,
 * then every machine; returns when every machine's sshd answers. Idempotent: a running lab is
 * reported, not touched.
 */
export async function labUp(opts: UpOptions = {}): Promise<UpResult> {
  requireHost();
  const p = opts.paths ?? labPaths();
  const log = opts.log ?? (() => {});
  const shape = opts.shape ?? DEFAULT_SHAPE;
  const rebootDelaySeconds = opts.rebootDelaySeconds ?? DEFAULT_REBOOT_DELAY;
  const machines = layoutLab(shape, opts.network ?? labNetwork()); // validates the shape before anything starts
  return withLock(p, async () => {
    const t0 = Date.now();
    const existing = readState(p);
    if (isRunning(existing, p)) return { state: existing!, alreadyRunning: true, seconds: { total: 0, machines: 0 } };
    await teardown(p, existing); // leftovers of a lab that died (host reboot, kill -9)

    // Port 22 of the machines' addresses must be free: a host sshd on 0.0.0.0:22 would take them all.
    const taken = [];
    for (const m of machines) if (!(await portFree(m.port, m.host))) taken.push(m.host);
    if (taken.length) {
      throw new UserError(`port 22 is taken on ${taken.slice(0, 3).join(", ")}${taken.length > 3 ? ` and ${taken.length - 3} more` : ""}: something (a host sshd on 0.0.0.0:22?) listens there; stop it or bind it to one address`);
    }

    const run = (script: string, args: string[]) => runScript(p.scripts, p.labDir, script, args, log);
    await run("rootfs.sh", []);
    const fingerprint = (await run("mirror.sh", ["prepare"])).stdout.trim();
    await ensureLabKey(p);
    const port = await choosePort();
    const repoUrl = labRepoUrl(port);
    await run("mirror.sh", ["start", String(port)]);
    try {
      // smith build + smith sync, from the lab's upstream (served by the mirror) to its two mirrors.
      await makeLabBuilds(p, port, fingerprint, log);
    } catch (e) {
      await run("mirror.sh", ["stop"]); // a lab without builds must not count as running
      throw e;
    }
    await run("base.sh", [repoUrl]);

    log(`starting ${machines.length} machines`);
    const t1 = Date.now();
    await runScript(p.scripts, p.labDir, "machine.sh", ["up", ...machines.flatMap((m) => [m.name, m.host])], log);
    fs.writeFileSync(path.join(p.labDir, "reboot-delay"), `${rebootDelaySeconds}\n`);
    for (const m of machines) fs.writeFileSync(path.join(p.machinesDir, m.name, "reboot-delay"), `${rebootDelaySeconds}\n`);
    const hostKeys = new Map<string, string>();
    for (const m of machines) {
      const pub = fs.readFileSync(path.join(p.machinesDir, m.name, "upper", "etc", "ssh", "ssh_host_ed25519_key.pub"), "utf8");
      hostKeys.set(m.name, hostKeyLine(pub));
    }
    await waitForSsh(machines, SSH_WAIT_MS);
    const machinesSeconds = (Date.now() - t1) / 1000;

    const state: LabState = {
      version: 1,
      startedAt: new Date().toISOString(),
      shape,
      rebootDelaySeconds,
      repoUrl,
      mirror: { port, pid: readPidFile(path.join(p.labDir, "mirror.pid")) },
      keyPath: p.keyPath,
      inventoryPath: p.inventoryPath,
      knownHostsPath: p.knownHostsPath,
      machines: machines.map((m) => ({
        name: m.name,
        host: m.host,
        port: m.port,
        environment: m.environment,
        region: m.region,
        cluster: m.cluster,
        role: m.role,
        hostKey: hostKeys.get(m.name)!,
        supervisorPid: readPidFile(path.join(p.machinesDir, m.name, "supervisor.pid")),
        faults: {},
      })),
    };
    fs.writeFileSync(p.inventoryPath, renderInventory(machines, hostKeys));
    fs.writeFileSync(p.knownHostsPath, renderKnownHosts(state.machines));
    if (p.pulumiConfigPath) {
      const base = { repoUrl, inventoryPath: repoRelative(p, p.inventoryPath), keyPath: repoRelative(p, p.keyPath) };
      // With production machines, the pipeline's two lab stacks too (waves/pipeline.lab.yaml).
      const stacks = [{ file: p.pulumiConfigPath, c: base }, ...(shape.prodClusters ? labPipelineStacks(p.pulumiConfigPath, base, rebootDelaySeconds) : [])];
      for (const { file, c } of stacks) {
        const oldConfig = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null;
        fs.writeFileSync(file, renderPulumiConfig(oldConfig, c));
      }
    }
    writeState(p, state);
    return { state, alreadyRunning: false, seconds: { total: (Date.now() - t0) / 1000, machines: machinesSeconds } };
  });
}

/** `Pulumi.lab-dev.yaml` (waves/lab.yaml) and `Pulumi.lab-prod.yaml` (waves/lab-prod.yaml) beside `Pulumi.lab.yaml`. */
function labPipelineStacks(labConfigPath: string, base: PulumiLabConfig, rebootDelaySeconds: number): { file: string; c: PulumiLabConfig }[] {
  const dir = path.dirname(labConfigPath);
  const defaults = { "smith:rebootDelaySeconds": String(rebootDelaySeconds) };
  return [
    { file: path.join(dir, "Pulumi.lab-dev.yaml"), c: { ...base, waves: "waves/lab.yaml", defaults } },
    { file: path.join(dir, "Pulumi.lab-prod.yaml"), c: { ...base, waves: "waves/lab-prod.yaml", defaults } },
  ];
}

async function waitForSsh(machines: { name: string; host: string; port: number }[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let pending = machines;
  while (pending.length) {
    const answers = await Promise.all(pending.map((m) => sshAnswers(m.host, m.port, 500)));
    pending = pending.filter((_, i) => !answers[i]);
    if (!pending.length) return;
    if (Date.now() > deadline) {
      throw new Error(`lab machines without sshd after ${ms / 1000}s: ${pending.map((m) => m.name).join(", ")} (see .smith/lab/machines/<name>/console.log)`);
    }
    await sleep(200);
  }
}

export interface DownResult {
  machines: number;
  leftovers: { mounts: string[]; processes: { pid: number; cmd: string }[] };
}

/** Stops every machine and the mirror, deletes machine state, and checks nothing is left. */
export async function labDown(paths?: LabPaths): Promise<DownResult> {
  requireHost();
  const p = paths ?? labPaths();
  return withLock(p, async () => {
    const n = await teardown(p, readState(p));
    // Mount namespaces die with their last process; give the kernel a moment before checking.
    let leftovers = { mounts: mountsUnder(p.labDir), processes: processesUnder([p.labDir]) };
    for (let i = 0; i < 20 && (leftovers.mounts.length || leftovers.processes.length); i++) {
      await sleep(250);
      leftovers = { mounts: mountsUnder(p.labDir), processes: processesUnder([p.labDir]) };
    }
    return { machines: n, leftovers };
  });
}

async function teardown(p: LabPaths, s: LabState | null): Promise<number> {
  const names = new Set(s?.machines.map((m) => m.name) ?? []);
  if (fs.existsSync(p.machinesDir)) for (const d of fs.readdirSync(p.machinesDir)) names.add(d);
  if (names.size) await runScript(p.scripts, p.labDir, "machine.sh", ["down", ...names]);
  await runScript(p.scripts, p.labDir, "mirror.sh", ["stop"]);
  for (const f of [p.statePath, p.inventoryPath, p.knownHostsPath]) fs.rmSync(f, { force: true });
  return names.size;
}

function machineDir(p: LabPaths, name: string): string {
  return path.join(p.machinesDir, name);
}

/** A file as the machine sees it: its upper dir, then the lab layer, then the rootfs. */
export function readMachineFile(p: LabPaths, name: string, file: string): string | null {
  const cache = process.env.SMITH_CACHE ?? "/var/cache/smith";
  for (const layer of [path.join(machineDir(p, name), "upper"), path.join(p.labDir, "base", "upper"), path.join(cache, "rootfs-bookworm")]) {
    const f = path.join(layer, file);
    try {
      const st = fs.lstatSync(f);
      if (st.isCharacterDevice()) return null; // overlay whiteout: deleted in the machine
      return fs.readFileSync(f, "utf8");
    } catch {
      // not in this layer
    }
  }
  return null;
}

function requireState(p: LabPaths): LabState {
  const s = readState(p);
  if (!s) throw new UserError(`${repoRelative(p, p.statePath)}: no lab; run 'smith lab up'`);
  return s;
}

function requireMachine(s: LabState, p: LabPaths, name: string): LabMachineState {
  const m = s.machines.find((x) => x.name === name);
  if (!m) throw new UserError(`${repoRelative(p, p.statePath)}: no machine named ${JSON.stringify(name)} in the lab`);
  return m;
}

export async function labStatus(paths?: LabPaths): Promise<{ state: LabState; rows: StatusRow[]; mirrorUp: boolean }> {
  const p = paths ?? labPaths();
  const s = requireState(p);
  const rows = await Promise.all(
    s.machines.map(async (m): Promise<StatusRow> => {
      const dir = machineDir(p, m.name);
      let state: MachineState = "down";
      if (pidAlive(readPidFile(path.join(dir, "supervisor.pid")))) {
        if (!pidAlive(readPidFile(path.join(dir, "init.pid")))) state = "rebooting";
        else state = (await sshAnswers(m.host, m.port, 1000)) ? "up" : "no-ssh";
      }
      const bootId = fs.existsSync(path.join(dir, "boot_id")) ? fs.readFileSync(path.join(dir, "boot_id"), "utf8").trim() : null;
      const build = (readMachineFile(p, m.name, "var/lib/smith/build") ?? readMachineFile(p, m.name, "usr/share/smith-demo/build"))?.trim() || null;
      return { name: m.name, host: m.host, state, bootId, build, faults: activeFaults(p, m) };
    }),
  );
  const mirrorUp = pidAlive(readPidFile(path.join(p.labDir, "mirror.pid")));
  return { state: s, rows, mirrorUp };
}

/** Faults as the machine sees them (marker files), which outlive lab.json edits. */
function activeFaults(p: LabPaths, m: LabMachineState): string[] {
  const dir = path.join(machineDir(p, m.name), "faults");
  const out: string[] = [];
  for (const kind of FAULT_KINDS) {
    const f = path.join(dir, kind);
    if (!fs.existsSync(f)) continue;
    if (kind === "dpkg-lock") {
      const until = Number(fs.readFileSync(f, "utf8").trim());
      if (until && until * 1000 < Date.now()) continue; // the lock holder has finished
    }
    const secs = m.faults[kind]?.seconds;
    out.push(secs ? `${kind}(${secs}s)` : kind);
  }
  return out;
}

export function parseFaultKind(kind: string): FaultKind {
  if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new UserError(`fault kind: ${JSON.stringify(kind)} is not one of ${FAULT_KINDS.join(", ")}`);
  }
  return kind as FaultKind;
}

export const FAULT_DEFAULT_SECONDS: Partial<Record<FaultKind, number>> = { "dpkg-lock": 120, slow: 10 };

/** Turns a fault on or off on one machine and records it in lab.json. */
export async function labFault(name: string, kind: FaultKind, on: boolean, seconds?: number, paths?: LabPaths): Promise<LabMachineState> {
  requireHost();
  const p = paths ?? labPaths();
  const s = requireState(p);
  requireMachine(s, p, name);
  const secs = seconds ?? FAULT_DEFAULT_SECONDS[kind];
  const args = ["fault", name, kind, on ? "on" : "off"];
  if (on && secs !== undefined && kind in FAULT_DEFAULT_SECONDS) args.push(String(secs));
  await runScript(p.scripts, p.labDir, "machine.sh", args);
  // Re-read: another fault command may have written meanwhile.
  const fresh = readState(p) ?? s;
  const fm = requireMachine(fresh, p, name);
  if (on) fm.faults[kind] = { since: new Date().toISOString(), ...(kind in FAULT_DEFAULT_SECONDS ? { seconds: secs } : {}) };
  else delete fm.faults[kind];
  writeState(p, fresh);
  return fm;
}
