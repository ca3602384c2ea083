import { expect } from "chai";
import type { AddressInfo } from "node:net";
import { Server, utils } from "ssh2";
import type { Machine } from "../../src/inventory/schema";
import { collectStatus, parseHostKeyLine, trustedHostKeys } from "../../src/agent/ssh-runner";

/**
 * An in-process ssh2 server on 127.0.0.1 stands in for the fleet: it checks the client key and
 * answers `status` commands with canned output per user name.
 */
interface FakeFleet {
  port: number;
  hostKeyLine: string;
  commands: string[];
  maxParallel: number;
  close(): Promise<void>;
}

function keyLine(pub: string): string {
  return pub.trim().split(/\s+/).slice(0, 2).join(" ");
}

async function startFleet(replies: Record<string, { stdout: string; code: number; delayMs?: number }>): Promise<FakeFleet & { clientKey: string }> {
  const host = utils.generateKeyPairSync("ed25519");
  const client = utils.generateKeyPairSync("ed25519");
  const allowed = utils.parseKey(client.public);
  if (allowed instanceof Error) throw allowed;
  const state = { commands: [] as string[], active: 0, maxParallel: 0 };
  const server = new Server({ hostKeys: [host.private] }, (conn) => {
    let user = "";
    conn.on("authentication", (ctx) => {
      user = ctx.username;
      if (ctx.method === "publickey" && ctx.key.algo === allowed.type && ctx.key.data.equals(allowed.getPublicSSH())) return ctx.accept();
      ctx.reject(["publickey"]);
    });
    conn.on("ready", () => {
      conn.on("session", (accept) => {
        accept().on("exec", (acc, _rej, info) => {
          const stream = acc();
          state.commands.push(`${user}: ${info.command}`);
          state.active++;
          state.maxParallel = Math.max(state.maxParallel, state.active);
          const reply = replies[user] ?? { stdout: "", code: 127 };
          setTimeout(() => {
            state.active--;
            stream.write(reply.stdout);
            if (reply.code !== 0) stream.stderr.write("smith-agent: something broke\n");
            stream.exit(reply.code);
            stream.end();
          }, reply.delayMs ?? 20);
        });
      });
    });
    conn.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hostKeyLine: keyLine(host.public),
    clientKey: client.private,
    get commands() {
      return state.commands;
    },
    get maxParallel() {
      return state.maxParallel;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const STATUS = '{"build":"2","lastRun":null,"pending":["openssl"]}';

function machine(name: string, port: number, extra: Partial<Machine> = {}): Machine {
  return { name, host: "127.0.0.1", port, environment: "lab", region: "r1", cluster: "c1", role: "web", ...extra };
}

describe("agent ssh-runner", function () {
  let fleet: Awaited<ReturnType<typeof startFleet>>;
  before(async () => {
    fleet = await startFleet({
      root: { stdout: `banner\n${STATUS}\n`, code: 0, delayMs: 50 },
      ops: { stdout: STATUS, code: 0 },
      broken: { stdout: '{"error":"x","exitCode":5}\n', code: 5 },
      garbage: { stdout: "not json\n", code: 0 },
      slow: { stdout: STATUS, code: 0, delayMs: 5_000 },
    });
  });
  after(() => fleet.close());

  it("collects status from every machine, verifying host keys, in order", async () => {
    const ms = ["a", "b", "c", "d", "e"].map((n) => machine(n, fleet.port, { hostKey: fleet.hostKeyLine }));
    const before = fleet.commands.length;
    const res = await collectStatus(ms, { privateKey: fleet.clientKey, concurrency: 2, timeoutMs: 10_000 });
    expect(res.map((r) => r.name)).to.deep.equal(["a", "b", "c", "d", "e"]);
    for (const r of res) {
      expect(r.ok, r.error).to.equal(true);
      expect(r.status).to.deep.equal({ build: "2", lastRun: null, pending: ["openssl"] });
    }
    expect(fleet.commands.slice(before)).to.deep.equal(Array(5).fill("root: /usr/local/lib/smith/smith-agent status"));
    expect(fleet.maxParallel).to.be.at.most(2);
  });

  it("uses sudo -n for non-root users", async () => {
    const [r] = await collectStatus([machine("a", fleet.port, { hostKey: fleet.hostKeyLine, user: "ops" })], { privateKey: fleet.clientKey, timeoutMs: 10_000 });
    expect(r!.ok, r!.error).to.equal(true);
    expect(fleet.commands[fleet.commands.length - 1]).to.equal("ops: sudo -n /usr/local/lib/smith/smith-agent status");
  });

  it("refuses machines without a host key unless known hosts vouch for them", async () => {
    const m = machine("nokey", fleet.port);
    const [refused] = await collectStatus([m], { privateKey: fleet.clientKey, timeoutMs: 10_000 });
    expect(refused!.ok).to.equal(false);
    expect(refused!.error).to.match(/no host key for nokey .*refusing to connect unverified/);
    const [ok] = await collectStatus([m], { privateKey: fleet.clientKey, timeoutMs: 10_000, knownHosts: { [`[127.0.0.1]:${fleet.port}`]: fleet.hostKeyLine } });
    expect(ok!.ok, ok!.error).to.equal(true);
  });

  it("refuses a machine whose host key does not match", async () => {
    const other = keyLine(utils.generateKeyPairSync("ed25519").public);
    const before = fleet.commands.length;
    const [r] = await collectStatus([machine("mitm", fleet.port, { hostKey: other })], { privateKey: fleet.clientKey, timeoutMs: 10_000 });
    expect(r!.ok).to.equal(false);
    expect(r!.error).to.equal("host key of mitm (127.0.0.1) does not match the trusted key; refusing to connect");
    expect(fleet.commands.length).to.equal(before);
  });

  it("reports agent failures, garbage, unreachable hosts and timeouts per machine without throwing", async () => {
    const hk = { hostKey: fleet.hostKeyLine };
    const res = await collectStatus(
      [
        machine("broken", fleet.port, { ...hk, user: "broken" }),
        machine("garbage", fleet.port, { ...hk, user: "garbage" }),
        machine("down", 1, hk),
        machine("slow", fleet.port, { ...hk, user: "slow" }),
      ],
      { privateKey: fleet.clientKey, timeoutMs: 1_000 },
    );
    expect(res.map((r) => r.ok)).to.deep.equal([false, false, false, false]);
    expect(res[0]!.error).to.equal("smith-agent status exited 5: smith-agent: something broke");
    expect(res[1]!.error).to.match(/status report: no JSON line/);
    expect(res[2]!.error).to.match(/ECONNREFUSED/);
    expect(res[3]!.error).to.equal("timed out after 1000 ms");
  });

  it("parses host key lines and rejects mislabelled ones", () => {
    const k = parseHostKeyLine(`${fleet.hostKeyLine} root@lab`);
    expect(k?.type).to.equal("ssh-ed25519");
    const [type, b64] = fleet.hostKeyLine.split(" ");
    expect(parseHostKeyLine(`ssh-rsa ${b64}`)).to.equal(null);
    expect(parseHostKeyLine(`${type}`)).to.equal(null);
    expect(trustedHostKeys(machine("x", 22, { hostKey: `ssh-rsa ${b64}` }))).to.match(/not an authorized_keys-format line/);
  });
});
