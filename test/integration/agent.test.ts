import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { AGENT_EXIT, AGENT_REMOTE_PATH, healthCommand, patchCommand, rebootCommand, statusCommand } from "../../src/agent/command";
import { healthOutcome, parseAgentError, parseHealthReport, parsePatchReport, parseRebootReport, parseStatusReport } from "../../src/agent/report";
import { collectStatus } from "../../src/agent/ssh-runner";
import { LAB_MIRRORS } from "../../src/lab/builds";
import { readState } from "../../src/lab/lab";
import { ensureLab, labExec, labFault, labPaths, labSkipReason, type LabInfo, type LabMachineInfo } from "../support/lab";

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

  /** ssh's arguments for `command` on the test machine: the lab key, its host key only. */
  function sshArgs(command: string): string[] {
    return [
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
    ];
  }

  function ssh(command: string, input?: string): Run {
    const r = spawnSync("ssh", sshArgs(command), { encoding: "utf8", input: input ?? "", timeout: 240_000 });
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
    expect(h.durationMs).to.be.a("number"); // the machine-side time of health
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
    await runningKernelOf("1");
    const s = parseStatusReport(agent(statusCommand({ sudo: false }), 0).stdout);
    expect(s.build).to.equal("1");
    expect(s.pending).to.deep.equal([]);
  });

  it("patches to build 2: real package versions, a reboot request, local conffile kept", async () => {
    await inMachine("printf '# local change by the admin\\n' >>/etc/smith-demo/conf.ini");
    const r = parsePatchReport(agent(patch("2"), 0).stdout);
    expect(r).to.include({ build: "2", previous: "1", noop: false, rebootRequired: true, rebooting: false, attempts: 1 });
    // Nothing touched /var/run/reboot-required: the newer kernel image is the reason.
    expect(r.rebootReasons).to.deep.equal(["kernel"]);
    expect(await inMachine("test -e /var/run/reboot-required && echo file; cat /proc/sys/kernel/osrelease; ls /boot")).to.equal("1.0-smith-demo\nvmlinuz-1.1-smith-demo\n");
    // Downloaded packages do not stay behind.
    expect(await inMachine("ls /var/cache/apt/archives | grep -c '\\.deb$'")).to.equal("0\n");
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
    // The lab boot runs the newest installed kernel: nothing is left to reboot for.
    expect(await inMachine("cat /proc/sys/kernel/osrelease")).to.equal("1.1-smith-demo\n");
  });

  it("does not reboot when no reboot is required", async () => {
    const before = bootId();
    const rb = parseRebootReport(agent(rebootCommand({ sudo: false, delaySeconds: 1 }), 0).stdout);
    // A delay below the minimum is raised to it.
    expect(rb).to.deep.equal({ rebooting: false, bootId: before, reasons: [], delay: 2 });
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
    // The failing package is named, and the build is not recorded.
    expect(err.error).to.match(/failed \(attempts: 2\): smith-demo-svc$/);
    expect(err.packages).to.deep.equal(["smith-demo-svc"]);
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
    // The killed run paused apt's periodic jobs; the agent's bounding parent restored them.
    expect(await inMachine("ls /etc/apt/apt.conf.d /var/lib/smith")).to.not.match(/zz-smith-pause|periodic-paused/);
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
      // apt's global trusted keys never vouch for a smith build: refused before apt runs.
      const r = agent(noKeyring, AGENT_EXIT.repoUnreachable);
      const err = parseAgentError(r.stdout)!;
      expect(err.error).to.match(/no dedicated keyring for .*pass --keyring/);
      expect(err).to.include({ attempts: 0 });
      // A keyring someone other than root can change vouches for nothing either.
      await inMachine(`cp ${KEYRING} /tmp/k.gpg`);
      const w = agent(patch("1", { force: true, keyring: "/tmp/k.gpg" }), AGENT_EXIT.repoUnreachable);
      expect(parseAgentError(w.stdout)?.error).to.match(/keyring \/tmp\/k\.gpg .*writable by someone other than root/);
      // A root-only keyring without the build's signing key: the signature fails at once, not retried.
      const other = agent(patch("1", { force: true, keyring: "/usr/share/keyrings/debian-archive-keyring.gpg" }), AGENT_EXIT.repoUnreachable);
      const bad = parseAgentError(other.stdout)!;
      expect(bad.error).to.match(/signature of .*builds\/1 could not be verified .*pass --keyring/);
      expect(bad).to.include({ attempts: 1 });
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

  // ---- issue 7 §3: the agent never records a build it did not fully apply ----

  /** Machine back at build 2 and running its kernel (1.1): the start of each case below. */
  async function atBuild2(): Promise<void> {
    agent(patch("2", { force: true }), 0);
    await runningKernelOf("2");
  }

  /**
   * Going back leaves the newer kernel running (no reboot is needed for an older image): boot
   * into the build's own kernel anyway, so the next upgrade has a kernel to reboot for.
   */
  async function runningKernelOf(build: keyof typeof VERSION): Promise<void> {
    if ((await inMachine("cat /proc/sys/kernel/osrelease")).trim() !== `${VERSION[build]}-smith-demo`) {
      const before = bootId();
      await inMachine("nohup setsid sh -c 'sleep 1; reboot' </dev/null >/dev/null 2>&1 &");
      await waitForBoot(before);
    }
    await rebootIfRequiredAndCheck();
    expect(await inMachine("cat /proc/sys/kernel/osrelease")).to.equal(`${VERSION[build]}-smith-demo\n`);
  }

  /** ssh() without blocking the event loop, for checks while the command runs. */
  function sshAsync(command: string): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn("ssh", sshArgs(command), { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  const recorded = () => parseStatusReport(agent(statusCommand({ sudo: false }), 0).stdout).build;

  it("a package held with apt-mark keeps its dependants back too: exit 8 naming both, build not recorded", async () => {
    await atBuild2();
    await inMachine("apt-mark hold smith-demo-conf >/dev/null");
    try {
      const r = agent(patch("3"), AGENT_EXIT.partialUpgrade);
      const err = parseAgentError(r.stdout)!;
      // smith-demo-svc 1.2 needs smith-demo-conf 1.2: an unmet dependency keeps it back.
      expect(err).to.deep.include({ exitCode: 8, packages: ["smith-demo-conf", "smith-demo-svc"] });
      expect(err.error).to.match(/build 3 not fully applied: kept back: smith-demo-conf smith-demo-svc/);
      expect(recorded()).to.equal("2");
      // Not a no-op the second time either.
      expect(parseAgentError(agent(patch("3"), AGENT_EXIT.partialUpgrade).stdout)?.exitCode).to.equal(8);
    } finally {
      await inMachine("apt-mark unhold smith-demo-conf >/dev/null");
    }
    const ok = parsePatchReport(agent(patch("3"), 0).stdout);
    expect(ok).to.include({ build: "3", previous: "2", noop: false });
    await expectVersions("3");
    // A simulated run shows nothing left to upgrade from the build.
    expect(parseStatusReport(agent(statusCommand({ sudo: false }), 0).stdout)).to.deep.include({ build: "3", pending: [] });
  });

  it("a package pinned away by an admin preferences file: exit 8 naming it", async () => {
    await atBuild2();
    await inMachine("printf 'Package: smith-demo-kernel\\nPin: version 1.2\\nPin-Priority: -1\\n' >/etc/apt/preferences.d/hold-kernel");
    try {
      const err = parseAgentError(agent(patch("3"), AGENT_EXIT.partialUpgrade).stdout)!;
      expect(err.packages).to.deep.equal(["smith-demo-kernel"]);
      expect(recorded()).to.equal("2");
    } finally {
      await inMachine("rm -f /etc/apt/preferences.d/hold-kernel");
    }
    expect(parsePatchReport(agent(patch("3"), 0).stdout).build).to.equal("3");
  });

  it("an upgrade that would remove a package is refused (exit 10) unless --allow-remove", async () => {
    await atBuild2();
    // A local package that cannot live with smith-demo-conf 1.2.
    await inMachine(
      "d=$(mktemp -d) && mkdir $d/DEBIAN && printf 'Package: smith-local-tool\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: lab <lab@smith.invalid>\\nConflicts: smith-demo-conf (>= 1.2)\\nDescription: local tool\\n local\\n' >$d/DEBIAN/control && dpkg-deb --build $d /tmp/local.deb >/dev/null && dpkg -i /tmp/local.deb >/dev/null",
    );
    const err = parseAgentError(agent(patch("3"), AGENT_EXIT.removalRefused).stdout)!;
    expect(err).to.deep.include({ exitCode: 10, packages: ["smith-local-tool"] });
    expect(err.error).to.match(/would remove packages: smith-local-tool; refused without --allow-remove/);
    await expectVersions("2");
    const ok = parsePatchReport(agent(patch("3", { allowRemove: true }), 0).stdout);
    expect(ok.changed).to.deep.include({ name: "smith-local-tool", from: "1.0", to: null });
  });

  it("checks free space on /var and /boot before downloading (exit 9), and downloads nothing", async () => {
    await atBuild2();
    const v = parseAgentError(agent(patch("3", { minFreeVarMiB: 1 << 30 }), AGENT_EXIT.noSpace).stdout)!;
    expect(v.error).to.match(/^not enough free space in \/var\/cache\/apt\/archives: \d+ MiB free/);
    const b = parseAgentError(agent(patch("3", { minFreeBootMiB: 1 << 30 }), AGENT_EXIT.noSpace).stdout)!;
    expect(b.error).to.match(/^not enough free space in \/boot for a kernel upgrade/);
    expect(await inMachine("ls /var/cache/apt/archives | grep -c '\\.deb$'")).to.equal("0\n");
    await expectVersions("2");
    expect(recorded()).to.equal("2");
  });

  it("refuses an older build re-signed and served as N: its Release label names another build (exit 7)", async () => {
    // The mirror lab machines use (repoUrl = http://127.0.0.1:<port>/mirror-a, src/lab/builds.ts).
    const www = path.join(path.dirname(labPaths().statePath), "www", LAB_MIRRORS[0]!, "builds");
    rmSync(path.join(www, "7"), { recursive: true, force: true });
    cpSync(path.join(www, "1"), path.join(www, "7"), { recursive: true });
    try {
      const r = agent(patch("7"), AGENT_EXIT.repoUnreachable);
      const err = parseAgentError(r.stdout)!;
      expect(err.error).to.match(/builds\/7: its Release is labelled 'smith-build-1', expected 'smith-build-7'/);
      expect(err.attempts).to.equal(1); // never retried
      expect(recorded()).to.equal("2");
      await expectVersions("2");
    } finally {
      rmSync(path.join(www, "7"), { recursive: true, force: true });
    }
  });

  it("a reboot is needed when services hold deleted libraries", async () => {
    await atBuild2();
    const lib = "/usr/lib/x86_64-linux-gnu/libsmithtest.so";
    // A service that maps a library, then the library replaced on disk as dpkg does (rename over).
    await inMachine(`cp /usr/lib/x86_64-linux-gnu/libz.so.1 ${lib} && { LD_PRELOAD=${lib} setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $! >/tmp/holder.pid; }; sleep 0.3; cp ${lib} ${lib}.new && mv -f ${lib}.new ${lib}`);
    try {
      const h = parseHealthReport(agent(healthCommand({ role: m.role, sudo: false }), AGENT_EXIT.unhealthy).stdout);
      expect(h.checks.find((c) => c.name === "reboot-required")?.detail).to.match(/deleted libraries in use by sleep\(\d+\)/);
      const p = parsePatchReport(agent(patch("2"), 0).stdout);
      expect(p).to.include({ noop: true, rebootRequired: true });
      expect(p.rebootReasons).to.deep.equal(["deleted-libraries"]);
    } finally {
      await inMachine(`kill $(cat /tmp/holder.pid); rm -f ${lib} /tmp/holder.pid`);
    }
    expect(parseHealthReport(agent(healthCommand({ role: m.role, sudo: false }), 0).stdout).healthy).to.equal(true);
  });

  it("patch --reboot-if-required schedules the reboot; health before it says pending (exit 12), after it healthy", async () => {
    await atBuild2();
    const r = parsePatchReport(agent(patch("3", { rebootIfRequired: true, rebootDelaySeconds: 6 }), 0).stdout);
    expect(r).to.include({ build: "3", rebootRequired: true, rebooting: true });
    const before = r.bootId!;
    expect(before).to.equal(bootId());
    // A probe that arrives before the reboot: not unhealthy, "ask again".
    const early = agent(healthCommand({ role: m.role, sudo: false, bootIdBefore: before }), AGENT_EXIT.rebootPending);
    const h = parseHealthReport(early.stdout);
    expect(h).to.include({ healthy: false, reboot: "pending" });
    expect(healthOutcome(h)).to.equal("reboot-pending");
    await waitForBoot(before);
    const after = parseHealthReport(agent(healthCommand({ role: m.role, sudo: false, bootIdBefore: before }), 0).stdout);
    expect(after).to.include({ healthy: true, reboot: "done" });
  });

  it("a lost reboot is scheduled again by health", async () => {
    await atBuild2();
    agent(patch("3"), 0);
    const rb = parseRebootReport(agent(rebootCommand({ sudo: false, delaySeconds: 120 }), 0).stdout);
    expect(rb).to.include({ rebooting: true, delay: 120 });
    // The scheduler dies (an admin, an OOM kill): that reboot will never happen.
    await inMachine("s=$(sed -n 3p /var/lib/smith/reboot-scheduled) && kill ${s#pid:}");
    const h = parseHealthReport(agent(healthCommand({ role: m.role, sudo: false, bootIdBefore: rb.bootId }), AGENT_EXIT.rebootPending).stdout);
    expect(h.reboot).to.equal("rescheduled");
    await waitForBoot(rb.bootId);
    expect(parseHealthReport(agent(healthCommand({ role: m.role, sudo: false, bootIdBefore: rb.bootId }), 0).stdout).reboot).to.equal("done");
  });

  it("pauses apt's periodic jobs during a patch and restores them, also after a crash", async () => {
    await atBuild2();
    await labFault(m.name, "slow", true, 4);
    try {
      const running = sshAsync(patch("3"));
      // While the patch runs (the svc postinst sleeps), apt's periodic jobs are switched off.
      let seen = "";
      const deadline = Date.now() + 30_000;
      while (!seen.includes('APT::Periodic::Enable "0"') && Date.now() < deadline) {
        seen = (await labExec(m.name, "apt-config dump APT::Periodic")).stdout;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(seen).to.contain('APT::Periodic::Enable "0"');
      expect(seen).to.contain('APT::Periodic::Unattended-Upgrade "0"');
      expect((await running).code).to.equal(0);
    } finally {
      await labFault(m.name, "slow", false);
    }
    expect(await inMachine("apt-config dump APT::Periodic; ls /etc/apt/apt.conf.d")).to.not.match(/Enable "0"|zz-smith-pause/);
    // A run killed outright (no chance to clean up) leaves its record; the next agent run restores.
    await inMachine(`printf 'APT::Periodic::Enable "0";\\n' >/etc/apt/apt.conf.d/zz-smith-pause; printf '\\n' >/var/lib/smith/periodic-paused`);
    agent(statusCommand({ sudo: false }), 0);
    expect(await inMachine("ls /etc/apt/apt.conf.d /var/lib/smith")).to.not.match(/zz-smith-pause|periodic-paused/);
  });

  it("a dpkg lock held a little longer than --lock-timeout is waited for once more", async () => {
    await atBuild2();
    await labFault(m.name, "dpkg-lock", true, 6);
    try {
      const r = parsePatchReport(agent(patch("3", { lockTimeoutSeconds: 4 }), 0).stdout);
      expect(r).to.include({ build: "3", attempts: 2 });
    } finally {
      await labFault(m.name, "dpkg-lock", false);
    }
  });

  it("verifies the installed agent by sha256 before every use, reinstalling it from the copy", async () => {
    const sha = createHash("sha256").update(readFileSync(AGENT)).digest("hex");
    const copyPath = `.smith-agent-${sha.slice(0, 16)}`;
    const cp = ssh(`cat >"$HOME/${copyPath}"`, readFileSync(AGENT, "utf8"));
    expect(cp.code, cp.stderr).to.equal(0);
    const status = statusCommand({ sudo: false, agent: { sha256: sha, copyPath } });
    // Missing (a reimaged machine), tampered with, loose permissions: each is put right, then it runs.
    for (const damage of [`rm -f ${AGENT_REMOTE_PATH}`, `echo 'echo pwned' >>${AGENT_REMOTE_PATH}`, `chmod 0777 ${AGENT_REMOTE_PATH}`, "chmod 0777 /usr/local/lib/smith"]) {
      await inMachine(damage);
      const r = agent(status, 0);
      expect(parseStatusReport(r.stdout).build, damage).to.be.a("string");
      expect(await inMachine(`stat -c '%U:%G %a' /usr/local/lib/smith ${AGENT_REMOTE_PATH}; sha256sum <${AGENT_REMOTE_PATH}`), damage).to.equal(`root:root 755\nroot:root 755\n${sha}  -\n`);
    }
    // Tampered and no copy to reinstall from: exit 11, nothing runs.
    await inMachine(`echo 'echo pwned' >>${AGENT_REMOTE_PATH}; mv "$HOME/${copyPath}" /root/agent.moved`);
    try {
      const r = agent(status, AGENT_EXIT.agentIntegrity);
      expect(parseAgentError(r.stdout)?.error).to.match(/missing or modified and there is no copy/);
      expect(r.stdout).to.not.contain("pwned");
    } finally {
      await inMachine(`mv /root/agent.moved "$HOME/${copyPath}"`);
    }
    // A directory above the agent that others can write: refused.
    await inMachine("chmod 0777 /usr/local/lib");
    try {
      const r = agent(status, AGENT_EXIT.agentIntegrity);
      expect(parseAgentError(r.stdout)?.error).to.match(/\/usr\/local\/lib is a symlink or writable by non-root/);
    } finally {
      await inMachine("chmod 0755 /usr/local/lib");
    }
    agent(status, 0);
  });
});
