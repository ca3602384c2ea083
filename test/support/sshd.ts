/**
 * A throwaway OpenSSH server on loopback for tests: its own host key and client key (made by
 * ssh-keygen), its own sshd_config, on a free 127.0.0.1 port, logging in as root with the client
 * key only. Needs root and Debian's openssh-server (scripts/install-deps.sh).
 *
 *   const sshd = await startSshd();
 *   try { ...connect to sshd.host:sshd.port as sshd.user with sshd.clientPrivateKey,
 *         verifying sshd.hostKey... } finally { await sshd.stop(); }
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

export const SSHD_BIN = "/usr/sbin/sshd";

export interface Sshd {
  host: string;
  port: number;
  user: string;
  /** The server's public host key, one authorized_keys-format line (`ssh-ed25519 AAAA… comment`). */
  hostKey: string;
  /** The client's private key (OpenSSH PEM), authorized for `user`. */
  clientPrivateKey: string;
  clientKeyPath: string;
  /** Temp directory with keys, config and `sshd.log`; removed by stop(). */
  dir: string;
  /** What sshd has logged so far (for failure messages). */
  log(): string;
  /** Stops sshd (SIGTERM, then SIGKILL after 5 s) and removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Extra sshd_config lines, e.g. `["AcceptEnv SMITH_*"]`. */
  extraConfig?: string[];
  /** Milliseconds to wait for the SSH banner. Defaults to 10 000. */
  readyTimeoutMs?: number;
}

/** Why a throwaway sshd cannot run here, or null when it can. */
export function sshdUnavailableReason(): string | null {
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    return "not root: sshd must run as root to log in as root";
  }
  if (!fs.existsSync(SSHD_BIN)) return `${SSHD_BIN} missing: run scripts/install-deps.sh (openssh-server)`;
  try {
    execFileSync("ssh-keygen", ["-?"], { stdio: "ignore" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "ssh-keygen missing: install openssh-client";
  }
  return null;
}

/** A fresh ed25519 key pair in `dir/name` and `dir/name.pub`; returns the public key line. */
export function generateKey(dir: string, name: string, comment: string): string {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { stdio: "ignore" });
  return fs.readFileSync(`${file}.pub`, "utf8").trim();
}

/** A TCP port free on 127.0.0.1 right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function readBanner(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once("data", (d: Buffer) => done(d.toString().startsWith("SSH-2.0-")));
    sock.once("error", () => done(false));
  });
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const reason = sshdUnavailableReason();
  if (reason) throw new Error(`cannot start sshd: ${reason}`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-sshd-"));
  const hostKeyFile = path.join(dir, "host_ed25519");
  const hostKey = generateKey(dir, "host_ed25519", "smith-test-host");
  const clientPub = generateKey(dir, "client_ed25519", "smith-test-client");
  fs.writeFileSync(path.join(dir, "authorized_keys"), `${clientPub}\n`, { mode: 0o600 });
  const port = await freePort();
  const config = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${hostKeyFile}`,
    `PidFile ${path.join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    // The temp dir is root's but lives under /tmp (sticky, world-writable): StrictModes would refuse it.
    "StrictModes no",
    "AllowUsers root",
    "Subsystem sftp internal-sftp",
    "LogLevel VERBOSE",
    ...(opts.extraConfig ?? []),
  ].join("\n");
  const configFile = path.join(dir, "sshd_config");
  fs.writeFileSync(configFile, `${config}\n`);
  // Privilege separation directory: Debian's package creates it at boot, a container may lack it.
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  execFileSync(SSHD_BIN, ["-t", "-f", configFile], { stdio: "pipe" });

  const logFile = path.join(dir, "sshd.log");
  const logFd = fs.openSync(logFile, "a");
  const child: ChildProcess = spawn(SSHD_BIN, ["-D", "-e", "-f", configFile], { stdio: ["ignore", logFd, logFd] });
  fs.closeSync(logFd);
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exitPromise;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
  for (;;) {
    if (exited) {
      const text = log();
      await stop();
      throw new Error(`sshd exited before accepting connections:\n${text}`);
    }
    if (await readBanner("127.0.0.1", port)) break;
    if (Date.now() > deadline) {
      const text = log();
      await stop();
      throw new Error(`sshd did not answer on 127.0.0.1:${port} in time:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    host: "127.0.0.1",
    port,
    user: "root",
    hostKey,
    clientPrivateKey: fs.readFileSync(path.join(dir, "client_ed25519"), "utf8"),
    clientKeyPath: path.join(dir, "client_ed25519"),
    dir,
    log,
    stop,
  };
}
