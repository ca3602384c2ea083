import { Client, type ConnectConfig, type ServerHostKeyAlgorithm } from "ssh2";
import { parseHostKeyLine } from "../../src/agent/ssh-runner";
import { BOOT_ID_COMMAND } from "./node-commands";

/**
 * Waits, from the program, until a machine whose reboot the patch step scheduled has really
 * rebooted: polls its boot id over SSH (host key pinned, like every command) until it differs
 * from the one the patch step reported. Replaces a fixed wait before the healthcheck (issue 7
 * §3): the healthcheck then starts as soon as the machine is back, and never on the old boot.
 */

export interface RebootWait {
  host: string;
  port: number;
  user: string;
  /** The pinned host key (authorized_keys line); undefined accepts any key (lab stacks only). */
  hostKey?: string;
  /** The boot id before the reboot (the patch step's report). */
  bootIdBefore: string;
  /** Give up after this long. */
  timeoutMs: number;
  /** Wait this long before the first probe (the agent's reboot delay). Defaults to 0. */
  initialDelayMs?: number;
  /**
   * Run `command` once (exit status ignored) when the boot id is still the old one `afterMs`
   * after the start: the agent's health re-queues a reboot that was lost. Defaults to none.
   */
  nudge?: { command: string; afterMs: number };
}

export interface RebootWaitResult {
  rebooted: boolean;
  /** The new boot id when rebooted. */
  bootId?: string;
  probes: number;
  /** What the last failed probe said, when it did not reboot in time. */
  lastError?: string;
}

/** Polls the boot id; never throws. */
export type RebootProber = (w: RebootWait) => Promise<RebootWaitResult>;

/** Between probes. Each probe is one short SSH session (~50 ms of CPU on both ends). */
export const PROBE_INTERVAL_MS = 500;
/** One probe: connect, authenticate, read the boot id. */
export const PROBE_TIMEOUT_MS = 5_000;

/** A prober over ssh2 with `privateKey` (resolved once; the key is only ever held in memory). */
export function sshRebootProber(privateKey: Promise<string>): RebootProber {
  return async (w) => {
    const key = await privateKey;
    const start = Date.now();
    const deadline = start + w.timeoutMs;
    await sleep(Math.min(w.initialDelayMs ?? 0, w.timeoutMs));
    let probes = 0;
    let nudged = false;
    let lastError: string | undefined;
    while (Date.now() < deadline) {
      probes++;
      const bound = Math.min(PROBE_TIMEOUT_MS, Math.max(1, deadline - Date.now()));
      try {
        const id = (await run(w, key, BOOT_ID_COMMAND, bound)).trim();
        if (id !== "" && id !== w.bootIdBefore) return { rebooted: true, bootId: id, probes };
        lastError = `boot id still ${w.bootIdBefore}`;
        if (w.nudge && !nudged && Date.now() - start >= w.nudge.afterMs) {
          nudged = true;
          await run(w, key, w.nudge.command, bound).catch(() => undefined);
        }
      } catch (e) {
        lastError = (e as Error).message;
      }
      await sleep(Math.min(PROBE_INTERVAL_MS, Math.max(0, deadline - Date.now())));
    }
    return { rebooted: false, probes, lastError };
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One SSH session running `command`; its stdout. Rejects on any failure, a host key mismatch included. */
function run(w: RebootWait, privateKey: string, command: string, timeoutMs: number): Promise<string> {
  const pinned = w.hostKey ? parseHostKeyLine(w.hostKey) : null;
  if (w.hostKey && !pinned) return Promise.reject(new Error("the pinned host key is not an authorized_keys-format line"));
  return new Promise((resolve, reject) => {
    const client = new Client();
    let done = false;
    let mismatch = false;
    const finish = (err: Error | null, out?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      client.destroy();
      if (err) reject(mismatch ? new Error(`host key mismatch on ${w.host}:${w.port}`) : err);
      else resolve(out!);
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const config: ConnectConfig = {
      host: w.host,
      port: w.port,
      username: w.user,
      privateKey,
      readyTimeout: timeoutMs,
      ...(pinned
        ? {
            algorithms: { serverHostKey: hostKeyAlgorithms(pinned.type) },
            hostVerifier: (key: Buffer) => {
              mismatch = !pinned.blob.equals(key);
              return !mismatch;
            },
          }
        : {}),
    };
    client.on("error", (err) => finish(err));
    client.on("close", () => finish(new Error("connection closed")));
    client.on("ready", () => {
      client.exec(command, (err, stream) => {
        if (err) return finish(err);
        let out = "";
        stream.on("data", (d: Buffer) => (out += d.toString("utf8")));
        stream.stderr.on("data", () => undefined);
        stream.on("close", () => finish(null, out));
      });
    });
    client.connect(config);
  });
}

/** Offer the pinned key's type first so the server presents a key we can compare. */
function hostKeyAlgorithms(type: string): ServerHostKeyAlgorithm[] {
  return (type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type]) as ServerHostKeyAlgorithm[];
}
