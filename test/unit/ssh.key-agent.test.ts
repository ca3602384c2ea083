import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Client, Server, utils } from "ssh2";
import { startKeyAgent } from "../../src/ssh/key-agent";

/** A loopback SSH server that lets in exactly one public key and answers `exec` with "ok". */
function server(allowed: Buffer): Promise<{ port: number; close(): void }> {
  const hostKey = utils.generateKeyPairSync("ed25519").private;
  const srv = new Server({ hostKeys: [hostKey] }, (client) => {
    client.on("authentication", (ctx) => {
      if (ctx.method === "publickey" && ctx.key.data.equals(allowed)) {
        if (!ctx.signature) return ctx.accept();
        const pub = utils.parseKey(ctx.key.data);
        if (!(pub instanceof Error) && !Array.isArray(pub) && pub.verify(ctx.blob!, ctx.signature, ctx.hashAlgo)) return ctx.accept();
      }
      ctx.reject(["publickey"]);
    });
    client.on("ready", () => client.on("session", (accept) => accept().on("exec", (acc) => {
      const ch = acc();
      ch.write("ok\n");
      ch.exit(0);
      ch.end();
    })));
    client.on("error", () => undefined);
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve({ port: (srv.address() as { port: number }).port, close: () => srv.close() })));
}

function login(port: number, agent: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on("ready", () => c.exec("x", (err, ch) => {
      if (err) return reject(err);
      let out = "";
      ch.on("data", (d: Buffer) => (out += d.toString())).on("close", () => (c.end(), resolve(out.trim())));
    }));
    c.on("error", reject);
    c.connect({ host: "127.0.0.1", port, username: "deploy", agent });
  });
}

describe("ssh: the program's key agent (src/ssh/key-agent.ts)", () => {
  it("logs in with the key it holds, from a socket only this user can reach, removed on close", async () => {
    const { private: key, public: pub } = utils.generateKeyPairSync("ed25519");
    const parsedPub = utils.parseKey(pub);
    if (parsedPub instanceof Error || Array.isArray(parsedPub)) throw new Error("key");
    const srv = await server(parsedPub.getPublicSSH());
    const agent = await startKeyAgent(Promise.resolve(key), `test-${process.pid}-a`);
    try {
      expect(fs.statSync(agent.socketPath).isSocket()).to.equal(true);
      expect(fs.statSync(path.dirname(agent.socketPath)).mode & 0o077).to.equal(0);
      expect(await login(srv.port, agent.socketPath)).to.equal("ok");
    } finally {
      agent.close();
      srv.close();
    }
    expect(fs.existsSync(agent.socketPath)).to.equal(false);
  });

  it("offers nothing it cannot parse: a login with a bad key fails", async () => {
    const { public: pub } = utils.generateKeyPairSync("ed25519");
    const parsedPub = utils.parseKey(pub);
    if (parsedPub instanceof Error || Array.isArray(parsedPub)) throw new Error("key");
    const srv = await server(parsedPub.getPublicSSH());
    const agent = await startKeyAgent("not a key " + crypto.randomBytes(4).toString("hex"), `test-${process.pid}-b`);
    try {
      const err = await login(srv.port, agent.socketPath).catch((e: Error) => e);
      expect(err).to.be.instanceOf(Error);
    } finally {
      agent.close();
      srv.close();
    }
  });

  it("keeps one socket path per name across runs (a changed path would be a diff on every command); a live one is not taken", async () => {
    const { private: key } = utils.generateKeyPairSync("ed25519");
    const name = `test-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
    const first = await startKeyAgent(key, name);
    // A preview beside a running update of the same stack: another, private path.
    const second = await startKeyAgent(key, name);
    expect(second.socketPath).to.not.equal(first.socketPath);
    second.close();
    const path1 = first.socketPath;
    first.close();
    // The next run gets the same path again, also after a killed run left its socket behind.
    const third = await startKeyAgent(key, name);
    expect(third.socketPath).to.equal(path1);
    third.close();
    fs.mkdirSync(path.dirname(path1), { mode: 0o700 });
    fs.writeFileSync(path1, "stale");
    const fourth = await startKeyAgent(key, name);
    expect(fourth.socketPath).to.equal(path1);
    expect(fs.statSync(path1).isSocket()).to.equal(true);
    fourth.close();
  });

  it("refuses a directory that is not this user's private one", async () => {
    const name = `test-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
    const first = await startKeyAgent("k", name);
    const dir = path.dirname(first.socketPath);
    first.close();
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    const err = await startKeyAgent("k", name).catch((e: Error) => e);
    expect((err as Error).message).to.match(/not a private directory of this user/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
