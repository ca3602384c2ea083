import { expect } from "chai";
import { createHash } from "crypto";
import { Client, utils } from "ssh2";
import { AGENT_REMOTE_PATH, healthCommand, rebootCommand, statusCommand } from "../../src/agent/command";
import { parseHealthReport, parsePatchReport, parseRebootReport, parseStatusReport } from "../../src/agent/report";
import { nodePatchCommand } from "../../components/fleet/node-commands";
import { runAgent } from "../../src/sim/agent";
import { layoutSim } from "../../src/sim/layout";
import { SimMachine } from "../../src/sim/machine";
import { simBehaviour } from "../../src/sim/options";
import { parseCommandLine, ShellSyntaxError } from "../../src/sim/shell";
import { Sim } from "../../src/sim/sim";
import { compareDebVersions } from "../../src/packages/version";

const SHA = "a".repeat(64);
const noSleep = () => Promise.resolve();

function machine(over: Parameters<typeof simBehaviour>[0] = {}): SimMachine {
  const m = new SimMachine({ name: "m1", role: "worker", host: "127.0.0.1", port: 1 }, simBehaviour({ patchSeconds: 0, noopSeconds: 0, rebootSeconds: 0, ...over }), noSleep);
  m.boot();
  return m;
}

/** What CopyToRemote leaves behind: the agent in the user's home. */
function copyAgent(m: SimMachine, user = "root"): void {
  m.files.set(`${SimMachine.home(user)}/.smith-agent-${SHA.slice(0, 16)}`, { sha256: SHA, size: 10, mode: 0o755 });
}

describe("sim: shell words", () => {
  it("splits smith's command lines like sh, expanding \"$HOME\" and keeping quoted words whole", () => {
    const cmds = parseCommandLine(`install -D "$HOME"/'.a b' '/x' && sudo -n /x patch --build '4'\\''2' || true; status`, { HOME: "/root" });
    expect(cmds).to.deep.equal([
      { argv: ["install", "-D", "/root/.a b", "/x"], after: ";" },
      { argv: ["sudo", "-n", "/x", "patch", "--build", "4'2"], after: "&&" },
      { argv: ["true"], after: "||" },
      { argv: ["status"], after: ";" },
    ]);
  });

  it("keeps backslashes inside single quotes literal (the agent prelude has them)", () => {
    expect(parseCommandLine(`sh -c 'tr -d '\\''"\\\\'\\'' x' y`, {})[0]!.argv).to.deep.equal(["sh", "-c", `tr -d '"\\\\' x`, "y"]);
    expect(parseCommandLine(`a "x\\$y\\"z" \\'`, {})[0]!.argv).to.deep.equal(["a", 'x$y"z', "'"]);
  });

  for (const bad of ["a | b", "a > f", "a $(b)", "a `b`", "$NOPE", "a && ", "(a)", "a *", "a & b", "'open"]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(() => parseCommandLine(bad, { HOME: "/root" })).to.throw(ShellSyntaxError);
    });
  }
});

describe("sim: Debian version order", () => {
  it("orders builds as dpkg does", () => {
    expect(compareDebVersions("9", "10")).to.be.lessThan(0);
    expect(compareDebVersions("1.2", "1.10")).to.be.lessThan(0);
    expect(compareDebVersions("1.0~rc1", "1.0")).to.be.lessThan(0);
    expect(compareDebVersions("1:1", "2")).to.be.greaterThan(0);
    expect(compareDebVersions("3", "3")).to.equal(0);
  });
});

describe("sim: the agent contract on one machine", () => {
  it("runs NodePatch's install && patch line, then reboot, then health after the new boot", async () => {
    const m = machine();
    copyAgent(m);
    const p = await m.exec(nodePatchCommand({ build: "2", repoUrl: "http://127.0.0.1/r", user: "root", agentSha256: SHA }), "root");
    expect(p.code, p.stderr).to.equal(0);
    const report = parsePatchReport(p.stdout);
    expect(report).to.include({ build: "2", previous: "1", noop: false, rebootRequired: true, changedCount: 2 });
    expect(report.changed[0]).to.deep.equal({ name: "smith-demo", from: "1", to: "2" });
    expect(m.files.get(AGENT_REMOTE_PATH)?.sha256).to.equal(SHA);

    const r = parseRebootReport((await m.exec(rebootCommand({ sudo: false, delaySeconds: 0 }), "root")).stdout);
    expect(r.rebooting).to.equal(true);
    const before = await m.exec(healthCommand({ role: "worker", sudo: false, bootIdBefore: r.bootId }), "root");
    expect(before.code, "reboot still pending: exit 12, not unhealthy").to.equal(12);
    expect(JSON.parse(before.stdout)).to.include({ reboot: "pending", healthy: false });
    m.shutdown();
    m.boot();
    const h = await m.exec(healthCommand({ role: "worker", sudo: false, bootIdBefore: r.bootId }), "root");
    expect(h.code, h.stdout).to.equal(0);
    expect(parseHealthReport(h.stdout).bootId).to.not.equal(r.bootId);

    const again = parsePatchReport((await m.exec(nodePatchCommand({ build: "2", repoUrl: "http://127.0.0.1/r", user: "root", agentSha256: SHA }), "root")).stdout);
    expect(again).to.include({ noop: true, attempts: 0, previous: "2" });
    const st = parseStatusReport((await m.exec(statusCommand({ sudo: false }), "root")).stdout);
    expect(st.build).to.equal("2");
    expect(m.history.filter((x) => x.what === "patch").map((x) => x.exitCode)).to.deep.equal([0, 0]);
    m.dispose();
  });

  it("patch --reboot-if-required schedules the reboot in the same run; the boot id poll sees the new boot", async () => {
    const m = machine();
    m.files.set(AGENT_REMOTE_PATH, { sha256: SHA, size: 10, mode: 0o755 });
    const r = await m.exec(`${AGENT_REMOTE_PATH} patch --build 2 --repo 'http://x/' --reboot-if-required --reboot-delay 0`, "root");
    expect(r.code, r.stderr).to.equal(0);
    const line = JSON.parse(r.stdout);
    expect(line).to.include({ build: "2", rebooting: true, bootId: m.bootId, rebootRequired: true });
    expect((await m.exec("cat /proc/sys/kernel/random/boot_id", "root")).stdout.trim()).to.equal(line.bootId);
    m.shutdown();
    m.boot();
    expect((await m.exec("cat /proc/sys/kernel/random/boot_id", "root")).stdout.trim()).to.not.equal(line.bootId);
    const h = await m.exec(healthCommand({ role: "worker", sudo: false, bootIdBefore: line.bootId }), "root");
    expect(JSON.parse(h.stdout)).to.include({ healthy: true, reboot: "done" });
    m.dispose();
  });

  it("runs the agent prelude: exit 11 without a copy, exit 11 for a copy with another sha256, 127 for the bare agent", async () => {
    const m = machine();
    const r = await m.exec(nodePatchCommand({ build: "2", repoUrl: "http://127.0.0.1/r", user: "root", agentSha256: SHA }), "root");
    expect(r.code).to.equal(11);
    expect(JSON.parse(r.stdout)).to.include({ exitCode: 11 });
    expect(r.stderr).to.match(/no copy at \/root\/\.smith-agent-/);
    m.files.set(`/root/.smith-agent-${SHA.slice(0, 16)}`, { sha256: "b".repeat(64), size: 1, mode: 0o644 });
    const bad = await m.exec(nodePatchCommand({ build: "2", repoUrl: "http://127.0.0.1/r", user: "root", agentSha256: SHA }), "root");
    expect(bad.code).to.equal(11);
    expect(bad.stderr).to.match(/does not have sha256/);
    expect((await m.exec(statusCommand({ sudo: false }), "root")).code).to.equal(127);
  });

  it("a non-root user needs sudo -n for the install and the agent", async () => {
    const m = machine();
    copyAgent(m, "deploy");
    const ok = await m.exec(nodePatchCommand({ build: "2", repoUrl: "http://127.0.0.1/r", user: "deploy", agentSha256: SHA }), "deploy");
    expect(ok.code, ok.stderr).to.equal(0);
    const noSudo = await m.exec(`${AGENT_REMOTE_PATH} health --role worker`, "deploy");
    expect(noSudo.code).to.equal(2);
  });

  it("gives the agent's usage errors (exit 2, one JSON line)", async () => {
    const m = machine();
    for (const args of [["patch", "--build", "4 2", "--repo", "http://x/"], ["patch", "--build", "2"], ["health"], ["nope"], ["reboot-if-required", "--delay", "x"], ["status", "--bogus"]]) {
      const r = await runAgent(m, args, true);
      expect(r.code, args.join(" ")).to.equal(2);
      expect(JSON.parse(r.stdout)).to.have.property("exitCode", 2);
    }
  });

  it("refuses a downgrade (4), a missing build (7), and a faulty machine fails (5) / is unhealthy (6)", async () => {
    const m = machine({ initialBuild: "10", maxBuild: 20 });
    expect((await runAgent(m, ["patch", "--build", "9", "--repo", "http://x/"], true)).code).to.equal(4);
    const missing = await runAgent(m, ["patch", "--build", "21", "--repo", "http://x/"], true);
    expect(missing.code).to.equal(7);
    expect(JSON.parse(missing.stdout)).to.include({ exitCode: 7, build: "21", previous: "10" });
    const faulty = machine({ patchFailureRate: 1, unhealthyRate: 1 });
    expect((await runAgent(faulty, ["patch", "--build", "2", "--repo", "http://x/"], true)).code).to.equal(5);
    expect(faulty.build).to.equal("1");
    const h = await runAgent(faulty, ["health", "--role", "worker"], true);
    expect(h.code).to.equal(6);
    expect(parseHealthReport(h.stdout).checks.some((c) => !c.ok)).to.equal(true);
  });
});

describe("sim: layout", () => {
  it("makes production clusters of 5 on distinct address:port pairs", () => {
    const ms = layoutSim({ machines: 500, clusters: 100, regions: 4, layout: "fleet" }, "127.0.27");
    expect(ms).to.have.length(500);
    expect(new Set(ms.map((m) => `${m.host}:${m.port}`)).size).to.equal(500);
    expect(new Set(ms.map((m) => m.cluster)).size).to.equal(100);
    expect(ms.every((m) => m.environment === "prod")).to.equal(true);
    expect(ms.filter((m) => m.region === "ap-south").length).to.be.greaterThan(0);
  });
});

describe("sim: over SSH", function () {
  this.timeout(30_000);
  let sim: Sim;
  const key = utils.generateKeyPairSync("ed25519");
  const network = process.env.SMITH_LAB_TEST_NETWORK || "127.0.2";

  before(async () => {
    const machines = layoutSim({ machines: 3, clusters: 1, regions: 1, layout: "fleet" }, network);
    sim = await Sim.start({ machines, behaviour: simBehaviour({ patchSeconds: 0.05, rebootSeconds: 0.3, jitter: 0 }), authorizedKey: key.public });
  });
  after(() => sim?.stop());

  function connect(i: number, hostKey = sim.inventory[i]!.hostKey!): Promise<Client> {
    const m = sim.inventory[i]!;
    const want = Buffer.from(hostKey.split(" ")[1]!, "base64");
    return new Promise((resolve, reject) => {
      const c = new Client();
      c.on("ready", () => resolve(c)).on("error", reject);
      c.connect({ host: m.host, port: m.port, username: "root", privateKey: key.private, hostVerifier: (k: Buffer) => k.equals(want) });
    });
  }
  function exec(c: Client, line: string): Promise<{ code: number; stdout: string }> {
    return new Promise((resolve, reject) =>
      c.exec(line, (err, ch) => {
        if (err) return reject(err);
        let stdout = "";
        let code = -1;
        ch.on("data", (d: Buffer) => (stdout += d.toString()));
        ch.stderr.on("data", () => {});
        ch.on("exit", (c2: number) => (code = c2));
        ch.on("close", () => resolve({ code, stdout }));
      }),
    );
  }

  it("copies the agent over SFTP, patches, reboots with the endpoint closed, and comes back with a new boot id", async () => {
    const content = Buffer.from("#!/bin/sh\necho agent\n");
    const sha = createHash("sha256").update(content).digest("hex");
    const c = await connect(0);
    await new Promise<void>((resolve, reject) =>
      c.sftp((err, sftp) => {
        if (err) return reject(err);
        sftp.writeFile(`.smith-agent-${sha.slice(0, 16)}`, content, (e) => (e ? reject(e) : resolve()));
      }),
    );
    const p = await exec(c, nodePatchCommand({ build: "2", repoUrl: "http://127.0.0.1/r", user: "root", agentSha256: sha, rebootDelaySeconds: 2 }));
    expect(p.code, p.stdout).to.equal(0);
    expect(sim.machines[0]!.files.get(AGENT_REMOTE_PATH)?.sha256).to.equal(sha);
    const r = parseRebootReport(p.stdout);
    expect(r.rebooting).to.equal(true);
    for (let i = 0; i < 50 && sim.endpoints[0]!.listening; i++) await new Promise((res) => setTimeout(res, 100));
    expect(sim.endpoints[0]!.listening).to.equal(false);
    await connect(0).then(
      () => expect.fail("connected to a machine that is down"),
      (e: Error) => expect(e.message).to.match(/ECONNREFUSED/),
    );
    for (let i = 0; i < 50 && !sim.endpoints[0]!.listening; i++) await new Promise((res) => setTimeout(res, 100));
    const c2 = await connect(0);
    const h = await exec(c2, healthCommand({ role: "master", sudo: false, bootIdBefore: r.bootId }));
    expect(h.code, h.stdout).to.equal(0);
    c2.end();
    c.end();
  });

  it("presents a host key per machine and refuses a key it does not know", async () => {
    expect(new Set(sim.inventory.map((m) => m.hostKey)).size).to.equal(3);
    await connect(1, sim.inventory[0]!.hostKey).then(
      () => expect.fail("accepted another machine's host key"),
      (e: Error) => expect(e.message).to.match(/verification failed/i),
    );
  });
});
