import { createHash } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { AgentProtocol, utils, type ParsedKey } from "ssh2";

/**
 * An SSH agent inside the program, holding the deployer's key in memory only. Commands connect
 * with `agentSocketPath` instead of `privateKey`, so the key is never part of a resource's
 * inputs or outputs: no copy of it (not even encrypted) in any checkpoint, and each machine's
 * state is smaller, which the file backend rewrites on every step (docs/scale.md).
 *
 * The socket path is the same on every run of one stack (`name`): it is part of each command's
 * `connection`, and a path that changed per run would be a diff that re-runs every command not
 * yet covered by the stack's outputs (a resumed rollout). Its directory must be this user's own,
 * mode 0700, not a symlink; a socket left by a killed run is replaced. When another live program
 * holds it (a preview beside an update of the same stack), this one takes a private directory
 * of its own instead. The socket lives as long as the program (the engine runs commands only
 * while it does) and is removed at exit.
 */
export interface KeyAgent {
  socketPath: string;
  close(): void;
}

export async function startKeyAgent(privateKey: Promise<string> | string, name: string): Promise<KeyAgent> {
  const stable = path.join(os.tmpdir(), `smith-ssh-${createHash("sha256").update(name).digest("hex").slice(0, 16)}`);
  const dir = (await claim(stable)) ? stable : fs.mkdtempSync(path.join(os.tmpdir(), "smith-ssh-"));
  const socketPath = path.join(dir, "agent.sock");
  fs.rmSync(socketPath, { force: true });

  let parsed: Promise<ParsedKey | Error> | undefined;
  const key = () =>
    (parsed ??= Promise.resolve(privateKey).then((k) => {
      const p = utils.parseKey(k);
      return p instanceof Error ? p : Array.isArray(p) ? p[0]! : p;
    }));

  const server = net.createServer((sock) => {
    sock.unref();
    sock.on("error", () => sock.destroy());
    const proto = new AgentProtocol(false);
    proto.on("error", () => sock.destroy());
    proto.on("identities", (req) => {
      void key().then((k) => (k instanceof Error ? proto.failureReply(req) : proto.getIdentitiesReply(req, [k])));
    });
    proto.on("sign", (req, pubKey: ParsedKey, data: Buffer, flags: { hash?: string }) => {
      void key().then((k) => {
        if (k instanceof Error || !k.getPublicSSH().equals(pubKey.getPublicSSH())) return proto.failureReply(req);
        const sig = k.sign(data, flags.hash);
        return sig instanceof Error ? proto.failureReply(req) : proto.signReply(req, sig);
      });
    });
    sock.pipe(proto).pipe(sock);
  });
  // The agent never keeps the program alive: commands run only while resources are pending.
  server.unref();
  const close = () => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", close);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve({ socketPath, close }));
  });
}

/**
 * Whether `dir` can be this run's: made now, or left by a run that is gone. Refuses (throws) a
 * directory that is not this user's private one. False when a live agent answers in it.
 */
async function claim(dir: string): Promise<boolean> {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.isSymbolicLink() || st.uid !== process.getuid!() || (st.mode & 0o077) !== 0) {
    throw new Error(`${dir}: not a private directory of this user (refusing to put the SSH agent there)`);
  }
  const sock = path.join(dir, "agent.sock");
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect(sock, () => (c.destroy(), resolve(true)));
    c.on("error", () => resolve(false));
  });
  return !live;
}
