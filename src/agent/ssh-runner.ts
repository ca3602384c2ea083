import { Client, type ConnectConfig, type ServerHostKeyAlgorithm } from "ssh2";
import type { Machine } from "../inventory/schema";
import { statusCommand } from "./command";
import { AgentReportError, parseStatusReport, type StatusReport } from "./report";

/**
 * Fleet-wide `smith-agent status` over ssh2, for compliance reporting. Read-only on the machines;
 * every connection verifies the machine's host key before authenticating.
 */

export interface CollectStatusOptions {
  /** Private key (OpenSSH or PEM) used for every machine. */
  privateKey: string | Buffer;
  passphrase?: string;
  /** SSH user for machines whose inventory has none. Defaults to "root". */
  user?: string;
  /** Machines queried at the same time. Defaults to 16. */
  concurrency?: number;
  /** Per machine: connect, run, read. Defaults to 30 000 ms. */
  timeoutMs?: number;
  /**
   * Host keys for machines whose inventory has no `hostKey`, keyed by machine name, host, or
   * `[host]:port`; each value one or more authorized_keys-format lines. Without an entry here or
   * in the inventory, a machine is refused (never trusted on first use).
   */
  knownHosts?: Record<string, string | string[]>;
}

export interface MachineStatus {
  name: string;
  ok: boolean;
  status?: StatusReport;
  error?: string;
}

interface HostKey {
  type: string;
  blob: Buffer;
}

/** `ssh-ed25519 AAAA… comment` → type and raw key blob; null when it is not such a line. */
export function parseHostKeyLine(line: string): HostKey | null {
  const [type, b64] = line.trim().split(/\s+/);
  if (!type || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return null;
  const blob = Buffer.from(b64, "base64");
  // The blob starts with its own type name; a mismatch means a mangled or mislabelled line.
  if (blob.length < 4) return null;
  const n = blob.readUInt32BE(0);
  if (blob.subarray(4, 4 + n).toString("latin1") !== type) return null;
  return { type, blob };
}

/** Host key algorithms to offer so the server presents a key of a type we can check. */
function algorithmsFor(types: string[]): ServerHostKeyAlgorithm[] {
  const out: string[] = [];
  for (const t of types) {
    if (t === "ssh-rsa") out.push("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa");
    else out.push(t);
  }
  return [...new Set(out)] as ServerHostKeyAlgorithm[];
}

/** The host keys this machine may present, or an error message when there are none. */
export function trustedHostKeys(m: Machine, knownHosts?: CollectStatusOptions["knownHosts"]): HostKey[] | string {
  const lines: string[] = [];
  if (m.hostKey) lines.push(m.hostKey);
  if (knownHosts) {
    const port = m.port ?? 22;
    for (const k of [m.name, m.host, `[${m.host}]:${port}`]) {
      const v = knownHosts[k];
      if (v !== undefined) lines.push(...(Array.isArray(v) ? v : [v]));
    }
  }
  if (lines.length === 0) {
    return `no host key for ${m.name} (${m.host}): set hostKey in the inventory or give known hosts; refusing to connect unverified`;
  }
  const keys: HostKey[] = [];
  for (const l of lines) {
    const k = parseHostKeyLine(l);
    if (!k) return `host key for ${m.name} is not an authorized_keys-format line: ${JSON.stringify(l.slice(0, 60))}`;
    keys.push(k);
  }
  return keys;
}

interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const MAX_CAPTURE = 4 * 1024 * 1024;

function execOnce(config: ConnectConfig, command: string, timeoutMs: number, hostKeyMismatch: () => string | null): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let settled = false;
    const finish = (err: Error | null, res?: ExecResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end();
      if (err) reject(err);
      else resolve(res!);
    };
    const timer = setTimeout(() => {
      finish(new Error(`timed out after ${timeoutMs} ms`));
      client.destroy();
    }, timeoutMs);
    client.on("error", (err) => finish(new Error(hostKeyMismatch() ?? err.message)));
    client.on("close", () => finish(new Error(hostKeyMismatch() ?? "connection closed before the command finished")));
    client.on("ready", () => {
      client.exec(command, (err, stream) => {
        if (err) return finish(err);
        let stdout = "";
        let stderr = "";
        let code: number | null = null;
        stream.on("data", (d: Buffer) => {
          if (stdout.length < MAX_CAPTURE) stdout += d.toString("utf8");
        });
        stream.stderr.on("data", (d: Buffer) => {
          if (stderr.length < MAX_CAPTURE) stderr += d.toString("utf8");
        });
        stream.on("exit", (c: number | null) => {
          code = c;
        });
        stream.on("close", () => finish(null, { code, stdout, stderr }));
      });
    });
    client.connect(config);
  });
}

function lastLine(s: string): string {
  const lines = s.trim().split(/\r?\n/);
  return lines[lines.length - 1]!.slice(0, 300);
}

/** Runs `smith-agent status` on one machine; never throws. */
export async function statusOf(m: Machine, opts: CollectStatusOptions): Promise<MachineStatus> {
  const keys = trustedHostKeys(m, opts.knownHosts);
  if (typeof keys === "string") return { name: m.name, ok: false, error: keys };
  const user = m.user ?? opts.user ?? "root";
  let presented: Buffer | null = null;
  const config: ConnectConfig = {
    host: m.host,
    port: m.port ?? 22,
    username: user,
    privateKey: opts.privateKey,
    readyTimeout: opts.timeoutMs ?? 30_000,
    algorithms: { serverHostKey: algorithmsFor(keys.map((k) => k.type)) },
    hostVerifier: (key: Buffer) => {
      presented = key;
      return keys.some((k) => k.blob.equals(key));
    },
  };
  if (opts.passphrase !== undefined) config.passphrase = opts.passphrase;
  const mismatch = () =>
    presented && !keys.some((k) => k.blob.equals(presented!))
      ? `host key of ${m.name} (${m.host}) does not match the trusted key; refusing to connect`
      : null;
  try {
    const r = await execOnce(config, statusCommand({ sudo: user !== "root" }), opts.timeoutMs ?? 30_000, mismatch);
    if (r.code !== 0) {
      const agentSaid = r.stderr.trim() ? `: ${lastLine(r.stderr)}` : "";
      return { name: m.name, ok: false, error: `smith-agent status exited ${r.code ?? "without a code"}${agentSaid}` };
    }
    return { name: m.name, ok: true, status: parseStatusReport(r.stdout) };
  } catch (e) {
    const msg = e instanceof AgentReportError ? e.message : (e as Error).message;
    return { name: m.name, ok: false, error: msg };
  }
}

/** Runs `status` on every machine, `concurrency` at a time; results in the machines' order. */
export async function collectStatus(machines: Machine[], opts: CollectStatusOptions): Promise<MachineStatus[]> {
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 16));
  const results: MachineStatus[] = new Array(machines.length);
  let next = 0;
  const worker = async () => {
    while (next < machines.length) {
      const i = next++;
      results[i] = await statusOf(machines[i]!, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, machines.length) }, worker));
  return results;
}
