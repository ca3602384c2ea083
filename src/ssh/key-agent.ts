import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { AgentProtocol, utils, type ParsedKey } from "ssh2";

/**
 * An SSH agent inside the program, holding the deployer's key in memory only. Commands connect
 * with `agentSocketPath` instead of `privateKey`, so the key is never part of a resource's
 * inputs or outputs: no copy of it (not even encrypted) in any checkpoint, and each machine's
 * state is ~6 KB smaller, which the file backend rewrites on every step (docs/scale.md).
 *
 * The socket lives in a fresh directory only this user can enter (mkdtemp: 0700), for as long as
 * the program runs (the engine runs commands only while it does); it is removed at exit.
 */
export interface KeyAgent {
  socketPath: string;
  close(): void;
}

export function startKeyAgent(privateKey: Promise<string> | string): Promise<KeyAgent> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-ssh-"));
  const socketPath = path.join(dir, "agent.sock");
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
