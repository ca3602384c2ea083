/**
 * The lab for integration tests: skip reason, bring-up, commands inside machines, faults.
 *
 *   before(async function () {
 *     const why = labSkipReason();
 *     if (why) { console.log(`skipping: ${why}`); this.skip(); }
 *     lab = await ensureLab();
 *   });
 */
import { execFile, spawnSync } from "child_process";
import * as fs from "fs";
import { FaultKind } from "../../src/lab/files";
import { hostProblem } from "../../src/lab/host";
import { isRunning, labFault as faultMachine, labUp, readState } from "../../src/lab/lab";
import { LabShape } from "../../src/lab/layout";
import { LabPaths, labPaths } from "../../src/lab/paths";

export interface LabMachineInfo {
  name: string;
  host: string;
  port: number;
  /** `ssh-ed25519 AAAA…` (no comment): pass as @pulumi/command's `connection.hostKey`. */
  hostKey: string;
  environment: string;
  region: string;
  cluster: string;
  role: string;
}

export interface LabInfo {
  /** `http://127.0.0.1:<port>/mirror-a`; builds under `<repoUrl>/builds/<N>/` (distribution smith, component main). */
  repoUrl: string;
  machines: LabMachineInfo[];
  /** The lab's private key (root on every machine). */
  keyPath: string;
  inventoryPath: string;
  knownHostsPath: string;
}

/** Why lab tests cannot run here (not root, tools missing, no rootfs and no way to build it), or null. */
export function labSkipReason(): string | null {
  const problem = hostProblem();
  if (problem) return problem;
  const cache = process.env.SMITH_CACHE ?? "/var/cache/smith";
  if (!fs.existsSync(`${cache}/rootfs-bookworm/etc/smith-lab-rootfs`)) {
    // Building needs the Debian mirror; tell apart "no network" from "not built yet".
    const probe = spawnSync("sh", ["-c", "apt-get -qq --print-uris download base-files >/dev/null 2>&1"], { timeout: 20_000 });
    if (probe.status !== 0) return `no lab rootfs in ${cache} and the Debian mirror looks unreachable; run 'npx smith lab up' where it is`;
  }
  return null;
}

function info(paths?: LabPaths): LabInfo {
  const s = readState(paths);
  if (!s) throw new Error("lab.json missing after lab up");
  return {
    repoUrl: s.repoUrl,
    machines: s.machines.map(({ name, host, port, hostKey, environment, region, cluster, role }) => ({ name, host, port, hostKey, environment, region, cluster, role })),
    keyPath: s.keyPath,
    inventoryPath: s.inventoryPath,
    knownHostsPath: s.knownHostsPath,
  };
}

/** Brings the lab up unless it already runs (any shape: a running lab is reused as is). */
export async function ensureLab(opts: { shape?: LabShape; rebootDelaySeconds?: number } = {}): Promise<LabInfo> {
  if (!isRunning(readState())) await labUp({ ...opts, log: (l) => console.log(`      lab: ${l}`) });
  return info();
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `shellCmd` as root inside a lab machine over SSH (lab key, host key checked against the
 * lab's known_hosts). Never throws for a non-zero exit; 255 means SSH itself failed.
 */
export function labExec(machine: string, shellCmd: string, opts: { timeoutMs?: number; paths?: LabPaths } = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const s = readState(opts.paths);
  const m = s?.machines.find((x) => x.name === machine);
  if (!s || !m) return Promise.reject(new Error(`no lab machine named ${machine}`));
  const args = [
    "-i", s.keyPath,
    "-p", String(m.port),
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${s.knownHostsPath}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "ConnectTimeout=5",
    "-o", "LogLevel=ERROR",
    `root@${m.host}`,
    "--",
    shellCmd,
  ];
  return new Promise((resolve) => {
    execFile("ssh", args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 255) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Turns a lab fault on or off (`seconds`: dpkg-lock hold time, slow delay). */
export async function labFault(machine: string, kind: FaultKind, on: boolean, seconds?: number, paths?: LabPaths): Promise<void> {
  await faultMachine(machine, kind, on, seconds, paths);
}

/** The lab's info for a private lab (see labPaths({privateDir})). */
export { info as labInfo, labPaths };
