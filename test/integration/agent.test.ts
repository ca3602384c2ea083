import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { AGENT_EXIT, AGENT_REMOTE_PATH, healthCommand, patchCommand, rebootCommand, statusCommand } from "../../src/agent/command";
import { parseAgentError, parseHealthReport, parsePatchReport, parseRebootReport, parseStatusReport } from "../../src/agent/report";
import { collectStatus } from "../../src/agent/ssh-runner";
import { readState } from "../../src/lab/lab";
import { ensureLab, labExec, labFault, labSkipReason, type LabInfo, type LabMachineInfo } from "../support/lab";

/**
 * smith-agent on a real lab machine, over real SSH: copied in, patched between builds 1–3 of the
 * lab mirror, rebooted, health-checked, and put through every lab fault. One machine, one
 * scenario in order (each step starts from the state the previous one left).
 */

const AGENT = path.resolve(__dirname, "../../agent/smith-agent");
const KEYRING = "/usr/share/keyrings/smith-lab.gpg";
const VERSION = { "1": "1.0", "2": "1.1", "3": "1.2" } as const;
const DEMO = ["smith-demo-conf", "smith-demo-kernel", "smith-demo-svc"];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("smith-agent on the lab", function () {
  this.timeout(300_000);
  let lab: LabInfo;
  let m: LabMachineInfo;

  function ssh(command: string, input?: string): Run {
    const r = spawnSync(
      "ssh",
      [
        "-i", lab.keyPath,
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", `UserKnownHostsFile=${lab.knownHostsPath}`,
        "-o", "ConnectTimeout=3",
        "-o", "LogLevel=ERROR",
        "-p", String(m.port),
        `root@${m.host}`,
        command,
      ],
      { encoding: "utf8", input: input ?? "", timeout: 240_000 },
    );
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  function agent(command: string, expectCode: number): Run {
    const r = ssh(command);
    expect(r.code, `${command}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(expectCode);
    // Exactly one line on stdout, whatever happened.
    expect(r.stdout.trimEnd().split("\n"), r.stdout).to.have.length(1);
    return r;
  }

  const patch = (build: string, extra: Partial<Parameters<typeof patchCommand>[0]> = {}) =>
    patchCommand({ build, repoUrl: lab.repoUrl, sudo: false, keyring: KEYRING, ...extra });

  async function inMachine(cmd: string): Promise<string> {
    const r = await labExec(m.name, cmd);
    expect(r.code, `${cmd}: ${r.stderr}`).to.be.oneOf([0, 1]);
    return r.stdout;
  }

  async function versions(): Promise<Record<string, string>> {
    const out = await inMachine(`dpkg-query -W ${DEMO.join(" ")}`);
    return Object.fromEntries(out.trim().split("\n").map((l) => l.split("\t") as [string, string]));
  }

  const expectVersions = async (build: keyof typeof VERSION) =>
    expect(await versions()).to.deep.equal(Object.fromEntries(DEMO.map((p) => [p, VERSION[build]])));

  const bootId = () => ssh("cat /proc/sys/kernel/random/boot_id").stdout.trim();

  async function waitForBoot(before: string, ms = 120_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const id = bootId();
      if (id && id !== before) return id;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${m.name} did not come back with a new boot id within ${ms} ms`);
  }

  /** reboot-if-required, then (when it reboots) wait for the new boot and prove health. */
  async function rebootIfRequiredAndCheck(): Promise<{ rebooted: boolean }> {
    const before = bootId();
    const rb = parseRebootReport(agent(rebootCommand({ sudo: false, delaySeconds: 1 }), 0).stdout);
    expect(rb.bootId).to.equal(before);
    if (rb.rebooting) await waitForBoot(before);
    const h = parseHealthReport(agent(healthCommand({ role: m.role, sudo: false, bootIdBefore: before }), 0).stdout);
    expect(h.healthy, JSON.stringify(h)).to.equal(true);
    return { rebooted: rb.rebooting };
  }

  before(async function () {
    const reason = labSkipReason();
    if (reason) {
      console.log(`    skipping smith-agent lab tests: ${reason}`);
      this.skip();
    }
    lab = await ensureLab();
    // The lab's test machine is meant for tests like this one: no cluster depends on it.
    m = lab.machines.find((x) => x.role === "test") ?? lab.machines[0]!;
    for (const f of ["unreachable", "dpkg-lock", "postinst-fail", "health-fail", "slow"] as const) await labFault(m.name, f, false);
    const cp = ssh(`mkdir -p ${path.dirname(AGENT_REMOTE_PATH)} && cat >${AGENT_REMOTE_PATH}.new && chmod 0755 ${AGENT_REMOTE_PATH}.new && mv -f ${AGENT_REMOTE_PATH}.new ${AGENT_REMOTE_PATH}`, readFileSync(AGENT, "utf8"));
    expect(cp.code, cp.stderr).to.equal(0);
  });

  after(async function () {
    if (!lab || !m) return;
    for (const f of ["unreachable", "dpkg-lock", "postinst-fail", "health-fail", "slow"] as const) await labFault(m.name, f, false).catch(() => undefined);
  });

  it("starts from build 1 (forced, whatever ran here before) and is healthy", async () => {
    const r = parsePatchReport(agent(patch("1", { force: true }), 0).stdout);
    expect(r.build).to.equal("1");
    await expectVersions("1");
    await rebootIfRequiredAndCheck();
    const s = parseStatusReport(agent(statusCommand({ sudo: false }), 0).stdout);
    expect(s.build).to.equal("1");
    expect(s.pending).to.deep.equal([]);
  });

  it("patches to build 2: real package versions, a reboot request, local conffile kept", async () => {
    await inMachine("printf '# local change by the admin\\n' >>/etc/smith-demo/conf.ini");
    const r = parsePatchReport(agent(patch("2"), 0).stdout);
    expect(r).to.include({ build: "2", previous: "1", noop: false, rebootRequired: true, attempts: 1 });
    expect([...r.changed].sort((a, b) => a.name.localeCompare(b.name))).to.deep.equal(DEMO.map((name) => ({ name, from: "1.0", to: "1.1" })));
    await expectVersions("2");
    const conf = await inMachine("cat /etc/smith-demo/conf.ini; ls /etc/smith-demo/");
    expect(conf).to.contain("# local change by the admin");
    expect(conf).to.contain("version = 1.0");
    expect(conf).to.contain("conf.ini.dpkg-dist");
    // The admin's own apt sources were not touched.
    expect(await inMachine("cat /etc/apt/sources.list.d/smith.list")).to.contain("/builds/1 smith main");
  });

  it("re-running the same build is a no-op", () => {
    const r = parsePatchReport(agent(patch("2"), 0).stdout);
    expect(r).to.include({ build: "2", previous: "2", noop: true, attempts: 0 });
    expect(r.changed).to.deep.equal([]);
  });

  it("reboots because it is required, and health proves the new boot", async () => {
    const before = bootId();
    const unhealthy = agent(healthCommand({ role: m.role, sudo: false }), AGENT_EXIT.unhealthy);
    expect(parseHealthReport(unhealthy.stdout).checks.find((c) => c.name === "reboot-required")?.ok).to.equal(false);
    const { rebooted } = await rebootIfRequiredAndCheck();
    expect(rebooted).to.equal(true);
    expect(bootId()).to.not.equal(before);
  });

  it("does not reboot when no reboot is required", async () => {
    const before = bootId();
    const rb = parseRebootReport(agent(rebootCommand({ sudo: false, delaySeconds: 1 }), 0).stdout);
    expect(rb).to.deep.equal({ rebooting: false, bootId: before });
    await new Promise((r) => setTimeout(r, ((readState()?.rebootDelaySeconds ?? 2) + 3) * 1000));
    expect(bootId()).to.equal(before);
  });

  it("refuses to go back to build 1 without --force (exit 4)", async () => {
    const r = agent(patch("1"), AGENT_EXIT.downgradeRefused);
    expect(parseAgentError(r.stdout)).to.include({ exitCode: 4 });
    await expectVersions("2");
  });

  it("dpkg-lock fault: gives up after the lock timeout (exit 3), then succeeds", async () => {
    await labFault(m.name, "dpkg-lock", true, 60);
    const r = agent(patch("3", { lockTimeoutSeconds: 3 }), AGENT_EXIT.lockTimeout);
    expect(parseAgentError(r.stdout)?.error).to.match(/lock not released within 3s/);
    await expectVersions("2");
    // The build's lists were fetched before the lock stopped the upgrade: status shows what is pending.
    const st = parseStatusReport(agent(statusCommand({ sudo: false }), 0).stdout);
    expect(st.build).to.equal("2");
    expect(st.pending).to.deep.equal(DEMO);
    await labFault(m.name, "dpkg-lock", false);
    const ok = parsePatchReport(agent(patch("3"), 0).stdout);
    expect(ok).to.include({ build: "3", previous: "2", noop: false });
    await expectVersions("3");
    await rebootIfRequiredAndCheck();
  });

  it("postinst-fail fault: fails after retries (exit 5), is unhealthy, and the next run repairs dpkg", async () => {
    await labFault(m.name, "postinst-fail", true);
    const r = agent(patch("2", { force: true, retries: 1, backoffSeconds: 1 }), AGENT_EXIT.aptFailed);
    const err = parseAgentError(r.stdout)!;
    expect(err).to.include({ exitCode: 5, attempts: 2 });
    const h = parseHealthReport(agent(healthCommand({ role: m.role, sudo: false }), AGENT_EXIT.unhealthy).stdout);
    expect(h.checks.find((c) => c.name === "dpkg-audit")?.ok).to.equal(false);
    const st = parseStatusReport(agent(statusCommand({ sudo: false }), 0).stdout);
    expect(st.build).to.equal("3");
    expect(st.lastRun).to.include({ exitCode: 5 });
    await labFault(m.name, "postinst-fail", false);
    const ok = parsePatchReport(agent(patch("2", { force: true }), 0).stdout);
    expect(ok).to.include({ build: "2", previous: "3" });
    expect(await inMachine("dpkg --audit")).to.equal("");
    await expectVersions("2");
    await rebootIfRequiredAndCheck();
  });

  it("slow fault: the agent stops itself at --max-runtime (exit 5); a later run completes", async () => {
    await labFault(m.name, "slow", true, 30);
    const r = agent(patch("3", { maxRuntimeSeconds: 8 }), AGENT_EXIT.aptFailed);
    expect(parseAgentError(r.stdout)?.error).to.match(/exceeded its maximum runtime of 8s/);
    await labFault(m.name, "slow", false);
    const ok = parsePatchReport(agent(patch("3"), 0).stdout);
    expect(ok.build).to.equal("3");
    await expectVersions("3");
    expect(await inMachine("dpkg --audit")).to.equal("");
    await rebootIfRequiredAndCheck();
  });

  it("health-fail fault: the role's health check fails (exit 6) until the fault clears", async () => {
    await labFault(m.name, "health-fail", true);
    const h = parseHealthReport(agent(healthCommand({ role: m.role, sudo: false, timeoutSeconds: 10 }), AGENT_EXIT.unhealthy).stdout);
    expect(h.healthy).to.equal(false);
    const svc = h.checks.find((c) => c.name === "health.d/50-demo-svc");
    expect(svc?.ok).to.equal(false);
    expect(svc?.detail).to.match(/503/);
    await labFault(m.name, "health-fail", false);
    expect(parseHealthReport(agent(healthCommand({ role: m.role, sudo: false }), 0).stdout).healthy).to.equal(true);
  });

  it("--force goes back to build 1 with the build's versions", async () => {
    const r = parsePatchReport(agent(patch("1", { force: true }), 0).stdout);
    expect(r).to.include({ build: "1", previous: "3", noop: false });
    expect([...r.changed].sort((a, b) => a.name.localeCompare(b.name))).to.deep.equal(DEMO.map((name) => ({ name, from: "1.2", to: "1.0" })));
    await expectVersions("1");
    await rebootIfRequiredAndCheck();
  });

  it("a missing build or an unreachable repository is exit 7, after the retries", () => {
    const r = agent(patch("99", { retries: 0 }), AGENT_EXIT.repoUnreachable);
    expect(parseAgentError(r.stdout)?.error).to.match(/builds\/99 unreachable or build missing \(attempts: 1\)/);
    // Nothing listens on port 1 of the loopback: connection refused, retried once.
    const down = agent(patchCommand({ build: "1", repoUrl: "http://127.0.0.1:1", sudo: false, keyring: KEYRING, force: true, retries: 1, backoffSeconds: 1 }), AGENT_EXIT.repoUnreachable);
    expect(parseAgentError(down.stdout)).to.include({ exitCode: 7, attempts: 2 });
    // Failed runs change nothing: still build 1, and status says so.
    expect(parseStatusReport(agent(statusCommand({ sudo: false }), 0).stdout).build).to.equal("1");
  });

  it("without --keyring, uses the admin source's signed-by for the same repository, else fails clearly (exit 7)", async () => {
    const noKeyring = patchCommand({ build: "1", repoUrl: lab.repoUrl, sudo: false, force: true });
    const ok = parsePatchReport(agent(noKeyring, 0).stdout);
    expect(ok).to.include({ build: "1", attempts: 1 });
    expect(await inMachine("cat /var/lib/smith/apt/sources.list")).to.equal(`deb [signed-by=${KEYRING}] ${lab.repoUrl}/builds/1 smith main\n`);
    await inMachine("mv /etc/apt/sources.list.d/smith.list /root/smith.list.moved");
    try {
      const r = agent(noKeyring, AGENT_EXIT.repoUnreachable);
      const err = parseAgentError(r.stdout)!;
      expect(err.error).to.match(/signature of .*builds\/1 could not be verified .*pass --keyring/);
      expect(err).to.include({ attempts: 1 }); // a bad signature is not retried
    } finally {
      await inMachine("mv /root/smith.list.moved /etc/apt/sources.list.d/smith.list");
    }
  });

  it("collects status over ssh2 with host key verification; unreachable fault shows per machine", async () => {
    const machine = { ...m, user: "root" };
    const [ok] = await collectStatus([machine], { privateKey: readFileSync(lab.keyPath), timeoutMs: 20_000 });
    expect(ok!.ok, ok!.error).to.equal(true);
    expect(ok!.status?.build).to.equal("1");

    await labFault(m.name, "unreachable", true);
    try {
      const deadline = Date.now() + 20_000;
      let down = ssh("true");
      while (down.code === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        down = ssh("true");
      }
      expect(down.code).to.equal(255); // ssh's own exit code: no connection
      const [bad] = await collectStatus([machine], { privateKey: readFileSync(lab.keyPath), timeoutMs: 5_000 });
      expect(bad!.ok).to.equal(false);
      expect(bad!.error).to.be.a("string").and.not.equal("");
    } finally {
      await labFault(m.name, "unreachable", false);
    }
    const deadline = Date.now() + 30_000;
    while (ssh("true").code !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect(parseStatusReport(agent(statusCommand({ sudo: false }), 0).stdout).build).to.equal("1");
  });
});
