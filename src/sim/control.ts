import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { UserError } from "../errors";
import { ed25519KeyPair } from "./endpoint";
import { layoutSim } from "./layout";
import { simBehaviour } from "./options";
import { readJson, renderSimInventory, renderSimStackConfig, SIM_REPO_URL, SimPaths, SimStateFile, SimUpSpec, wavesWithoutGates, writeAtomic } from "./files";
import { Sim } from "./sim";

/**
 * `smith sim up|serve|status|down`: `up` starts a detached process running `serve` and returns
 * when it is ready; `serve` runs the sim in the foreground until SIGTERM; `status` reads the
 * state file the sim keeps; `down` stops it.
 */

/** Seconds between state file writes while machines change. */
const STATE_WRITE_DELAY_MS = 2000;

function pidAlive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function runningSim(p: SimPaths): SimStateFile | null {
  const s = readJson<SimStateFile>(p.state);
  return s && pidAlive(s.pid) ? s : null;
}

/** The deployer's key: made once per sim directory (ssh2 writes OpenSSH format). */
function ensureKey(p: SimPaths): string {
  if (!fs.existsSync(p.key) || !fs.existsSync(`${p.key}.pub`)) {
    const k = ed25519KeyPair("smith-sim");
    fs.writeFileSync(p.key, k.private, { mode: 0o600 });
    fs.writeFileSync(`${p.key}.pub`, `${k.public}\n`);
  }
  return fs.readFileSync(`${p.key}.pub`, "utf8").trim();
}

function rel(p: SimPaths, f: string): string {
  const r = path.relative(p.repoRoot, f);
  return r.startsWith("..") ? f : r;
}

/** Runs the sim in this process until SIGTERM/SIGINT; writes inventory, waves, stack config and state. */
export async function serveSim(p: SimPaths, log: (l: string) => void = () => {}): Promise<void> {
  const spec = readJson<SimUpSpec>(p.spec);
  if (!spec) throw new UserError(`${p.spec}: no sim spec; run 'smith sim up'`);
  const entries = layoutSim(spec.shape, spec.network);
  const authorizedKey = ensureKey(p);
  const t0 = Date.now();
  const sim = await Sim.start({ machines: entries, behaviour: simBehaviour(spec.behaviour), authorizedKey, hostKeys: spec.hostKeys });
  log(`${entries.length} machines listening in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  writeAtomic(p.inventory, renderSimInventory(sim.inventory, spec.hostKeys));
  const wavesPath = spec.waves ?? p.waves;
  if (spec.waves === null) writeAtomic(p.waves, wavesWithoutGates(fs.readFileSync(path.join(p.repoRoot, "waves", spec.shape.layout === "lab" ? "lab.yaml" : "production.yaml"), "utf8")));
  if (spec.stack) {
    const cfg = path.join(p.repoRoot, `Pulumi.${spec.stack}.yaml`);
    const old = fs.existsSync(cfg) ? fs.readFileSync(cfg, "utf8") : null;
    writeAtomic(cfg, renderSimStackConfig(old, { build: spec.build, inventoryPath: rel(p, p.inventory), wavesPath: rel(p, wavesPath), keyPath: rel(p, p.key), repoUrl: SIM_REPO_URL }));
  }

  const startedAt = new Date().toISOString();
  const writeState = (ready: boolean) => {
    const s: SimStateFile = { version: 1, pid: process.pid, ready, startedAt, updatedAt: new Date().toISOString(), spec, inventory: p.inventory, machines: sim.status() };
    writeAtomic(p.state, JSON.stringify(s) + "\n");
  };
  let timer: NodeJS.Timeout | null = null;
  sim.onChange = () => {
    if (!timer) timer = setTimeout(() => ((timer = null), writeState(true)), STATE_WRITE_DELAY_MS);
  };
  writeState(true);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    // `sim status --flush`: write the state now.
    process.on("SIGUSR1", () => writeState(true));
  });
  if (timer) clearTimeout(timer);
  await sim.stop();
  writeState(false);
  log("stopped");
}

export interface UpResult {
  state: SimStateFile;
  alreadyRunning: boolean;
  seconds: number;
}

/** Starts `smith sim serve` detached and waits until its state file says ready. */
export async function upSim(p: SimPaths, spec: SimUpSpec, timeoutMs = 300_000): Promise<UpResult> {
  const running = runningSim(p);
  if (running) return { state: running, alreadyRunning: true, seconds: 0 };
  layoutSim(spec.shape, spec.network); // bad flags fail here, before anything starts
  simBehaviour(spec.behaviour);
  fs.mkdirSync(p.dir, { recursive: true });
  fs.rmSync(p.state, { force: true });
  writeAtomic(p.spec, JSON.stringify(spec, null, 2) + "\n");
  const t0 = Date.now();
  const out = fs.openSync(p.log, "w");
  const child = spawn(process.execPath, [path.join(p.repoRoot, "bin", "smith.js"), "sim", "serve", "--dir", p.dir], {
    cwd: p.repoRoot,
    detached: true,
    stdio: ["ignore", out, out],
    env: process.env,
  });
  fs.closeSync(out);
  let exited: number | null = null;
  child.on("exit", (code) => (exited = code ?? 1));
  child.unref();
  while (Date.now() - t0 < timeoutMs) {
    const s = readJson<SimStateFile>(p.state);
    if (s && s.pid === child.pid && s.ready) return { state: s, alreadyRunning: false, seconds: (Date.now() - t0) / 1000 };
    if (exited !== null) {
      const tail = fs.readFileSync(p.log, "utf8").trim().split("\n").slice(-5).join(" | ");
      throw new UserError(`sim exited (${exited}) before it was ready: ${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    process.kill(child.pid!, "SIGTERM");
  } catch {
    // gone already
  }
  throw new UserError(`sim not ready after ${timeoutMs / 1000} s (see ${p.log})`);
}

/** Stops the running sim (SIGTERM, then waits); removes its inventory and state. */
export async function downSim(p: SimPaths, timeoutMs = 60_000): Promise<{ machines: number; wasRunning: boolean }> {
  const s = readJson<SimStateFile>(p.state);
  const wasRunning = pidAlive(s?.pid);
  if (s && wasRunning) {
    process.kill(s.pid, "SIGTERM");
    const t0 = Date.now();
    while (pidAlive(s.pid)) {
      if (Date.now() - t0 > timeoutMs) throw new UserError(`sim pid ${s.pid} did not stop within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (const f of [p.state, p.inventory, p.spec]) fs.rmSync(f, { force: true });
  return { machines: s?.machines.length ?? 0, wasRunning };
}

/** Asks the running sim to write its state now, and reads it. */
export async function statusSim(p: SimPaths): Promise<SimStateFile> {
  const s = runningSim(p);
  if (!s) throw new UserError(`${rel(p, p.state)}: no sim running; run 'smith sim up'`);
  const before = s.updatedAt;
  process.kill(s.pid, "SIGUSR1");
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = readJson<SimStateFile>(p.state);
    if (now && now.updatedAt !== before) return now;
  }
  return readJson<SimStateFile>(p.state) ?? s;
}

/** One summary per sim: machines up, rebooting, by build, faults, sessions. */
export function summarize(s: SimStateFile): { machines: number; up: number; down: number; byBuild: Record<string, number>; faulty: number; sessions: number } {
  const byBuild: Record<string, number> = {};
  for (const m of s.machines) byBuild[m.build ?? "none"] = (byBuild[m.build ?? "none"] ?? 0) + 1;
  return {
    machines: s.machines.length,
    up: s.machines.filter((m) => m.up).length,
    down: s.machines.filter((m) => !m.up).length,
    byBuild,
    faulty: s.machines.filter((m) => m.faults.length).length,
    sessions: s.machines.reduce((a, m) => a + m.sessions, 0),
  };
}
