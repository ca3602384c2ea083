/**
 * What the builds tests need besides aptly: a signing key, .debs, an HTTP server for the
 * upstream and mirrors, and a real S3-compatible server (moto's, on loopback).
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { sleep } from "../../src/lab/host";

const TOOLS = ["aptly", "gpg", "gpgv", "dpkg-deb", "python3"];

function onPath(t: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${t}`]).status === 0;
}

/** Why the builds tests cannot run here, or null. */
export function buildsSkipReason(): string | null {
  const missing = TOOLS.filter((t) => !onPath(t));
  return missing.length ? `missing tools: ${missing.join(" ")}; run scripts/install-deps.sh (as root)` : null;
}

/** moto's S3 server, if installed (scripts/install-s3-server.sh: its venv, else PATH). */
export function motoServer(): string | null {
  const venv = path.resolve(__dirname, "..", "..", ".smith", "tools", "moto", "bin", "moto_server");
  if (fs.existsSync(venv)) return venv;
  return onPath("moto_server") ? "moto_server" : null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Server {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts `cmd` and waits until `probe` answers below HTTP 500 on 127.0.0.1:`port`. */
export async function serve(cmd: string, args: string[], port: number, probe: string, log: string): Promise<Server> {
  const child: ChildProcess = spawn(cmd, args, { stdio: ["ignore", fs.openSync(log, "a"), fs.openSync(log, "a")] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${url}${probe}`);
      if (r.status < 500) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || i > 150) throw new Error(`${cmd} did not start on ${url}; see ${log}`);
    await sleep(100);
  }
  return {
    url,
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await gone;
    },
  };
}

/** `python3 -m http.server` on `dir` (Debian's python3: what the lab uses). */
export async function httpServer(dir: string, log: string): Promise<Server> {
  const port = await freePort();
  const py = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  return serve(py, ["-m", "http.server", "--bind", "127.0.0.1", "--directory", dir, String(port)], port, "/", log);
}

/** moto's S3 server with one bucket. */
export async function s3Server(bucket: string, log: string): Promise<Server> {
  const port = await freePort();
  const s = await serve(motoServer()!, ["-H", "127.0.0.1", "-p", String(port)], port, "/", log);
  const r = await fetch(`${s.url}/${bucket}`, { method: "PUT" });
  if (r.status !== 200) throw new Error(`moto: creating bucket ${bucket}: HTTP ${r.status}`);
  return s;
}

/** A fresh ed25519 signing key in its own GNUPGHOME; returns its fingerprint and exported public keyring. */
export function makeSigningKey(gnupgHome: string, keyring: string): string {
  fs.mkdirSync(gnupgHome, { recursive: true, mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: gnupgHome };
  execFileSync("gpg", ["--batch", "--quiet", "--passphrase", "", "--quick-gen-key", "smith test <test@smith.invalid>", "ed25519", "sign", "never"], { env, stdio: "ignore" });
  const quiet = { env, stdio: ["ignore", "pipe", "ignore"] as ("ignore" | "pipe")[] };
  fs.writeFileSync(keyring, execFileSync("gpg", ["--batch", "--export"], quiet));
  const colons = execFileSync("gpg", ["--batch", "--with-colons", "--list-secret-keys"], quiet).toString();
  spawnSync("gpgconf", ["--kill", "gpg-agent"], { env });
  return colons.split("\n").find((l) => l.startsWith("fpr:"))!.split(":")[9]!;
}

/** A minimal arch:all package. */
export function makeDeb(outDir: string, name: string, version: string): void {
  const root = fs.mkdtempSync(path.join(outDir, `.${name}-`));
  fs.mkdirSync(path.join(root, "DEBIAN"));
  fs.writeFileSync(path.join(root, "DEBIAN", "control"), `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: smith test <test@smith.invalid>\nDescription: smith test package\n`);
  execFileSync("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", root, path.join(outDir, `${name}_${version}_all.deb`)], { stdio: "ignore" });
  fs.rmSync(root, { recursive: true, force: true });
}
