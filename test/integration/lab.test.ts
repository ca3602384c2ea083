/**
 * The lab itself, on a private lab of its own (127.0.2.x, a temp dir) so the shared lab others
 * test against is never touched: up, SSH, apt against the mirror, reboot, every fault, down.
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { labDown, labFault, labStatus, labUp, readState } from "../../src/lab/lab";
import { LabPaths, labPaths } from "../../src/lab/paths";
import { sleep } from "../../src/lab/host";
import { ExecResult, labExec, labSkipReason } from "../support/lab";

const SHAPE = { machines: 7, clusters: 3, regions: 1 };
// Its own /24, overridable so two checkouts on one host can run this test at once.
const NETWORK = process.env.SMITH_LAB_TEST_NETWORK || "127.0.2";

describe("lab (integration)", function () {
  this.timeout(300_000);
  let paths: LabPaths;
  let dir: string;
  let m1: string;
  let m2: string;
  const run = (machine: string, cmd: string): Promise<ExecResult> => labExec(machine, cmd, { paths });
  const bootId = async (machine: string) => (await run(machine, "cat /proc/sys/kernel/random/boot_id")).stdout.trim();
  const stateOf = async (machine: string) => (await labStatus(paths)).rows.find((r) => r.name === machine)!;

  async function waitFor(what: string, ok: () => Promise<boolean>, ms = 60_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(250);
    }
  }

  before(async function () {
    const why = labSkipReason();
    if (why) {
      console.log(`      skipping lab integration tests: ${why}`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-lab-it-"));
    paths = labPaths({ privateDir: dir });
    await labUp({ shape: SHAPE, network: NETWORK, rebootDelaySeconds: 1, paths });
    const s = readState(paths)!;
    m1 = s.machines[1].name;
    m2 = s.machines[2].name;
  });

  after(async function () {
    if (!paths) return;
    const r = await labDown(paths);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.leftovers).to.deep.equal({ mounts: [], processes: [] });
  });

  it("starts every machine with its own hostname, address and host key (checked)", async () => {
    const s = readState(paths)!;
    expect(s.machines).to.have.length(SHAPE.machines);
    for (const m of s.machines) {
      const r = await run(m.name, "hostname; cat /etc/smith-lab/address");
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal(`${m.name}\n${m.host}\n`);
      expect(m.host.startsWith(`${NETWORK}.`)).to.equal(true);
    }
    expect(new Set(s.machines.map((m) => m.hostKey)).size).to.equal(s.machines.length);
    const inv = fs.readFileSync(paths.inventoryPath, "utf8");
    for (const m of s.machines) expect(inv).to.include(m.hostKey);
  });

  it("gives each machine its own pid namespace: sshd's init is PID 1", async () => {
    const r = await run(m1, "cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -e --no-headers | wc -l");
    expect(r.stdout).to.match(/^\/bin\/sh \/usr\/local\/lib\/smith-lab\/init/);
    expect(Number(r.stdout.trim().split("\n").pop())).to.be.lessThan(20);
  });

  it("sees the mirror's signed builds with apt, and installs build 1 from the start", async () => {
    const s = readState(paths)!;
    let r = await run(m1, "apt-get update 2>&1 && apt-cache policy smith-demo-svc");
    expect(r.code, r.stdout).to.equal(0);
    expect(r.stdout).to.include(`${s.repoUrl}/builds/1 smith/main amd64 Packages`);
    expect(r.stdout).to.match(/Installed: 1\.0/);
    expect(r.stdout).not.to.match(/NO_PUBKEY|not signed/);
    r = await run(
      m1,
      `echo "deb [signed-by=/usr/share/keyrings/smith-lab.gpg] ${s.repoUrl}/builds/2 smith main" >/etc/apt/sources.list.d/smith.list && apt-get update -qq && apt-cache policy smith-demo-kernel`,
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/Candidate: 1\.1/);
    expect((await stateOf(m1)).build).to.equal("1");
  });

  it("ships demo packages that behave like upstream: conffile kept with confold, kernel newer than the running one", async () => {
    const r = await run(
      m1,
      [
        "echo 'local = yes' >>/etc/smith-demo/conf.ini",
        "DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confold dist-upgrade >/dev/null 2>&1",
        "dpkg-query -W -f='${Version}\\n' smith-demo-conf smith-demo-kernel smith-demo-svc",
        "grep -c 'local = yes' /etc/smith-demo/conf.ini",
        "ls /etc/smith-demo/conf.ini.dpkg-dist",
        // The kernel package leaves the reboot to be detected: its image is newer than the running kernel.
        "test -e /var/run/reboot-required && echo reboot-required",
        "ls /boot",
        "cat /proc/sys/kernel/osrelease",
      ].join("; "),
    );
    expect(r.stdout).to.equal("1.1\n1.1\n1.1\n1\n/etc/smith-demo/conf.ini.dpkg-dist\nvmlinuz-1.1-smith-demo\n1.0-smith-demo\n");
    expect((await stateOf(m1)).build).to.equal("2");
  });

  it("reboots for real: processes end, a new boot id, reboot-required cleared", async () => {
    const before = await bootId(m1);
    await run(m1, "touch /var/run/reboot-required; setsid sleep 10000 </dev/null >/dev/null 2>&1 & echo started");
    expect((await run(m1, "pgrep -x sleep -a")).stdout).to.include("sleep 10000");
    const r = await run(m1, "nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1 & echo scheduled");
    expect(r.stdout.trim()).to.equal("scheduled");
    await waitFor("the machine to go down", async () => (await run(m1, "true")).code !== 0);
    await waitFor("the machine to come back", async () => (await run(m1, "true")).code === 0);
    const after = await bootId(m1);
    expect(after).to.match(/^[0-9a-f-]{36}$/);
    expect(after).not.to.equal(before);
    expect((await run(m1, "ps -eo args= | grep -cx 'sleep 10000' || true")).stdout.trim()).to.equal("0");
    expect((await run(m1, "test -e /var/run/reboot-required && echo pending || echo clear")).stdout.trim()).to.equal("clear");
    // The lab boot runs the newest installed demo kernel.
    expect((await run(m1, "cat /proc/sys/kernel/osrelease")).stdout.trim()).to.equal("1.1-smith-demo");
    // The boot id cannot be forged from inside; the host-side record agrees with the machine.
    expect((await run(m1, "echo forged >/proc/sys/kernel/random/boot_id")).code).to.not.equal(0);
    expect((await stateOf(m1)).bootId).to.equal(after);
  });

  it("supports `shutdown -r now` and `systemctl reboot` too", async () => {
    for (const cmd of ["shutdown -r now", "systemctl reboot"]) {
      const before = await bootId(m2);
      await run(m2, `nohup sh -c 'sleep 1; ${cmd}' >/dev/null 2>&1 &`);
      await waitFor(`${cmd} to reboot the machine`, async () => {
        const r = await run(m2, "cat /proc/sys/kernel/random/boot_id");
        return r.code === 0 && r.stdout.trim() !== before;
      });
    }
  });

  it("fault unreachable: sshd stops accepting connections, and comes back when turned off", async () => {
    await labFault(m2, "unreachable", true, undefined, paths);
    await waitFor("sshd to stop", async () => (await run(m2, "true")).code === 255);
    const st = await stateOf(m2);
    expect(st.state).to.equal("no-ssh");
    expect(st.faults).to.deep.equal(["unreachable"]);
    expect(readState(paths)!.machines.find((m) => m.name === m2)!.faults).to.have.property("unreachable");
    await labFault(m2, "unreachable", false, undefined, paths);
    await waitFor("sshd to return", async () => (await run(m2, "true")).code === 0);
    expect((await stateOf(m2)).faults).to.deep.equal([]);
  });

  it("fault dpkg-lock: apt cannot take dpkg's lock until the fault is off", async () => {
    expect((await run(m2, "apt-get update -qq")).code).to.equal(0);
    await labFault(m2, "dpkg-lock", true, 120, paths);
    let r = await run(m2, "apt-get install -y -o DPkg::Lock::Timeout=1 --reinstall smith-demo-conf 2>&1");
    expect(r.code).to.not.equal(0);
    expect(r.stdout).to.match(/Could not get lock \/var\/lib\/dpkg\/lock-frontend/);
    expect((await stateOf(m2)).faults).to.deep.equal(["dpkg-lock(120s)"]);
    await labFault(m2, "dpkg-lock", false, undefined, paths);
    r = await run(m2, "apt-get install -y -o DPkg::Lock::Timeout=10 --reinstall smith-demo-conf 2>&1");
    expect(r.code, r.stdout).to.equal(0);
    expect(r.stdout).to.include("Setting up smith-demo-conf (1.0)");
  });

  it("fault postinst-fail: smith-demo-svc fails to configure, then configures once off", async () => {
    await labFault(m2, "postinst-fail", true, undefined, paths);
    let r = await run(m2, "DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall smith-demo-svc 2>&1");
    expect(r.code).to.not.equal(0);
    expect(r.stdout).to.include("postinst failing on purpose");
    expect((await run(m2, "dpkg --audit")).stdout).to.include("smith-demo-svc");
    await labFault(m2, "postinst-fail", false, undefined, paths);
    r = await run(m2, "dpkg --configure -a 2>&1 && dpkg --audit");
    expect(r.code, r.stdout).to.equal(0);
    expect(r.stdout).not.to.include("smith-demo-svc  ");
  });

  it("fault health-fail: the health.d check fails while on and passes when off", async () => {
    const check = "/etc/smith/health.d/50-demo-svc";
    expect((await run(m2, check)).code).to.equal(0);
    await labFault(m2, "health-fail", true, undefined, paths);
    const r = await run(m2, check);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.include("503");
    await labFault(m2, "health-fail", false, undefined, paths);
    expect((await run(m2, check)).code).to.equal(0);
  });

  it("fault slow: postinst sleeps and the machine stays down longer on reboot", async () => {
    await labFault(m2, "slow", true, 2, paths);
    const r = await run(m2, "cat /run/smith-lab/faults/slow; DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall smith-demo-svc >/dev/null 2>&1; echo rc=$?");
    expect(r.stdout).to.equal("2\nrc=0\n");
    expect((await run(m2, "tail -n 1 /var/log/dpkg.log")).stdout).to.match(/installed smith-demo-svc:all 1\.0/);
    await run(m2, "nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1 &");
    const log = path.join(paths.machinesDir, m2, "console.log");
    // Reboot delay 1 s + 2 s of slowness (then 2 s more of slow boot before sshd).
    await waitFor("the slow reboot", async () => fs.readFileSync(log, "utf8").includes("booting again in 3s"));
    await labFault(m2, "slow", false, undefined, paths);
    await waitFor("the machine to come back", async () => (await run(m2, "true")).code === 0);
  });

  it("lab down stops everything: no mounts, no processes, nothing listening", async () => {
    const s = readState(paths)!;
    const r = await labDown(paths);
    expect(r.leftovers).to.deep.equal({ mounts: [], processes: [] });
    const mounts = execFileSync("findmnt", ["-rn", "-o", "TARGET"], { encoding: "utf8" });
    expect(mounts).not.to.include(dir);
    const ps = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
    expect(ps).not.to.include(dir);
    expect((await run(s.machines[0].name, "true").catch(() => ({ code: 255 }))).code).to.equal(255);
    expect(fs.existsSync(paths.machinesDir) ? fs.readdirSync(paths.machinesDir) : []).to.deep.equal([]);
  });
});
