import { timingSafeEqual } from "crypto";
import * as net from "net";
import { Server, utils, type Connection, type ParsedKey } from "ssh2";
import type { SimMachine } from "./machine";
import { serveSftp } from "./sftp";

/**
 * The SSH side of one simulated machine: a listener on its own loopback address and port,
 * served by ssh2's Server with the machine's host key. Only public-key auth with the sim's key
 * is accepted; `exec` runs the line on the machine, `sftp` stores files, everything else
 * (shells, env, port forwarding) is refused as a locked-down sshd would. The listener follows
 * the machine's power: closed while it is down (connections refused), every session cut when it
 * goes down.
 */

export function parsePublicKey(line: string): ParsedKey {
  const k = utils.parseKey(line);
  if (k instanceof Error) throw new Error(`not an SSH public key: ${k.message}`);
  return Array.isArray(k) ? k[0]! : k;
}

/**
 * An ed25519 key pair in OpenSSH format. ssh2's generator writes a key its own parser rejects
 * about once in 300 draws ("Malformed OpenSSH private key"): such a draw is thrown away.
 */
export function ed25519KeyPair(comment?: string): { private: string; public: string } {
  for (;;) {
    const k = utils.generateKeyPairSync("ed25519", comment ? { comment } : {});
    if (!(utils.parseKey(k.private) instanceof Error)) return k;
  }
}

export class SimEndpoint {
  private readonly ssh: Server;
  private listener: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  /** Sessions served (connections that authenticated), for the figures. */
  sessions = 0;

  constructor(
    readonly machine: SimMachine,
    hostKey: string | Buffer,
    private readonly authorized: ParsedKey,
  ) {
    this.ssh = new Server({ hostKeys: [hostKey], ident: "smith-sim" }, (client) => this.serve(client));
  }

  get listening(): boolean {
    return this.listener !== null;
  }

  open(): Promise<void> {
    if (this.listener) return Promise.resolve();
    const l = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("error", () => socket.destroy());
      this.ssh.injectSocket(socket);
    });
    this.listener = l;
    return new Promise((resolve, reject) => {
      l.once("error", reject);
      l.listen({ host: this.machine.host, port: this.machine.port, backlog: 511 }, () => {
        l.off("error", reject);
        resolve();
      });
    });
  }

  /** Stops accepting and cuts every connection (a machine going down). */
  close(): Promise<void> {
    const l = this.listener;
    this.listener = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (!l) return Promise.resolve();
    return new Promise((resolve) => l.close(() => resolve()));
  }

  private serve(client: Connection): void {
    let user = "";
    // A client that drops the connection is normal (a reboot, a killed deployer); anything else
    // is a bug in the sim worth seeing in its log.
    client.on("error", (err: Error & { code?: string }) => {
      if (!["ECONNRESET", "EPIPE"].includes(err.code ?? "") && !/KEY_EXCHANGE_FAILED/.test(err.message)) process.stderr.write(`smith sim: ${this.machine.name}: ${err.message}\n`);
    });
    client.on("authentication", (ctx) => {
      if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
      const want = this.authorized.getPublicSSH();
      const got = ctx.key.data;
      if (ctx.key.algo !== this.authorized.type || got.length !== want.length || !timingSafeEqual(got, want)) return ctx.reject(["publickey"]);
      if (ctx.signature && ctx.blob && this.authorized.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(["publickey"]);
      user = ctx.username;
      ctx.accept();
    });
    client.on("ready", () => {
      this.sessions++;
      client.on("session", (accept) => {
        const session = accept();
        session.on("env", (_a, reject) => reject?.());
        session.on("pty", (_a, reject) => reject?.());
        session.on("shell", (_a, reject) => reject());
        session.on("subsystem", (_a, reject) => reject());
        session.on("sftp", (acceptSftp) => serveSftp(this.machine, acceptSftp(), user));
        session.on("exec", (acceptExec, _reject, info) => {
          const channel = acceptExec();
          this.machine.exec(info.command, user).then(
            (r) => {
              if (!this.machine.up) return; // the machine went down mid-command: the session is gone
              if (r.stdout) channel.write(r.stdout);
              if (r.stderr) channel.stderr.write(r.stderr);
              channel.exit(r.code);
              channel.end();
            },
            (err: Error) => {
              channel.stderr.write(`smith sim: internal error: ${err.message}\n`);
              channel.exit(70);
              channel.end();
            },
          );
        });
      });
      client.on("request", (_accept, reject) => reject?.());
      client.on("tcpip", (_accept, reject) => reject());
    });
  }
}
