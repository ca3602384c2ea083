import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * The agent's decisions that need no apt: is a reboot needed (reboot-required file, kernel older
 * than the newest image, deleted libraries in use), the state of a scheduled reboot, which
 * packages apt's failure names, root-only paths. Run under /bin/sh against fake /boot and /proc.
 */
const AGENT = path.resolve(__dirname, "../../agent/smith-agent");

function lib(script: string, args: string[] = []) {
  const r = spawnSync("/bin/sh", ["-c", `SMITH_AGENT_LIB=1 . "$0"; ${script}`, AGENT, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("agent reboot detection and run decisions", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "smith-reboot-"));
    mkdirSync(path.join(dir, "boot"));
    mkdirSync(path.join(dir, "proc"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const check = () =>
    lib(
      'NEEDRESTART=/nonexistent/needrestart BOOT_DIR=$1/boot OSRELEASE_FILE=$1/osrelease PROC_DIR=$1/proc REBOOT_REQUIRED=$1/reboot-required; reboot_check; printf "%s|%s" "$REBOOT_REASONS" "$REBOOT_DETAIL"',
      [dir],
    ).stdout;
  const proc = (pid: number, comm: string, maps: string, sid = 424242) => {
    const d = path.join(dir, "proc", String(pid));
    mkdirSync(d);
    writeFileSync(path.join(d, "maps"), maps);
    writeFileSync(path.join(d, "comm"), `${comm}\n`);
    writeFileSync(path.join(d, "stat"), `${pid} (${comm}) S 1 ${pid} ${sid} 0 -1\n`);
  };

  it("needs no reboot when the running kernel is the newest image and nothing is stale", () => {
    writeFileSync(path.join(dir, "boot", "vmlinuz-6.1.0-18-amd64"), "");
    writeFileSync(path.join(dir, "osrelease"), "6.1.0-18-amd64\n");
    expect(check()).to.equal("|");
  });

  it("needs a reboot when a newer kernel image is installed (Debian version order)", () => {
    for (const k of ["6.1.0-9-amd64", "6.1.0-18-amd64", "6.1.0-18-amd64.dpkg-tmp"]) writeFileSync(path.join(dir, "boot", `vmlinuz-${k}`), "");
    writeFileSync(path.join(dir, "osrelease"), "6.1.0-9-amd64\n");
    expect(check()).to.equal("kernel|kernel 6.1.0-9-amd64 is running, 6.1.0-18-amd64 is installed");
  });

  it("does not ask for a reboot when the running kernel is newer than every image (it was removed)", () => {
    writeFileSync(path.join(dir, "boot", "vmlinuz-1.0-smith-demo"), "");
    writeFileSync(path.join(dir, "osrelease"), "1.1-smith-demo\n");
    expect(check()).to.equal("|");
  });

  it("needs a reboot for /var/run/reboot-required, naming its packages", () => {
    writeFileSync(path.join(dir, "reboot-required"), "");
    writeFileSync(path.join(dir, "reboot-required.pkgs"), "libc6\nlibc6\nsystemd\n");
    expect(check()).to.equal(`reboot-required|${dir}/reboot-required exists (for: libc6 systemd)`);
  });

  it("needs a reboot when processes map deleted libraries or programs, not deleted temp files", () => {
    proc(101, "nginx", "7f00 r-xp 0 fd:01 5 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)\n");
    proc(102, "sshd", "55aa r-xp 0 fd:01 6 /usr/sbin/sshd (deleted)\n");
    proc(103, "postgres", "7f00 rw-s 0 00:01 7 /dev/shm/PostgreSQL.1 (deleted)\n7f01 r-xp 0 fd:01 8 /tmp/x.so (deleted)\n");
    proc(104, "cron", "7f00 r-xp 0 fd:01 9 /usr/lib/x86_64-linux-gnu/libc.so.6\n");
    proc(105, "bash", "7f00 r--p 0 fd:01 10 /usr/lib/locale/locale-archive (deleted)\n");
    expect(check()).to.equal("deleted-libraries|deleted libraries in use by nginx(101) sshd(102)");
  });

  it("reports every reason together", () => {
    writeFileSync(path.join(dir, "reboot-required"), "");
    writeFileSync(path.join(dir, "boot", "vmlinuz-2"), "");
    writeFileSync(path.join(dir, "osrelease"), "1\n");
    proc(7, "svc", "1 r-xp 0 0:0 1 /lib/libz.so.1 (deleted)\n");
    expect(check().split("|")[0]).to.equal("reboot-required kernel deleted-libraries");
  });

  it("tells a pending reboot from a lost one", () => {
    const state = (lines: string) => {
      writeFileSync(path.join(dir, "reboot-scheduled"), lines);
      return lib('STATE_DIR=$1; reboot_state "$2"', [dir, "boot-a"]).stdout.trim();
    };
    const now = Math.floor(Date.now() / 1000);
    expect(state(`boot-b\n${now}\npid:1\n`)).to.equal("none");
    // Its scheduler (this test's own process) is alive: pending.
    expect(state(`boot-a\n${now + 60}\npid:${process.pid}\n`)).to.equal("pending");
    // Scheduler gone just after the due time: the machine is going down.
    expect(state(`boot-a\n${now - 2}\npid:999999999\n`)).to.equal("pending");
    // Scheduler gone long after (or before) the due time: lost.
    expect(state(`boot-a\n${now - 600}\npid:999999999\n`)).to.equal("lost");
    expect(state(`boot-a\n${now + 600}\npid:999999999\n`)).to.equal("lost");
    // What older agents wrote (the boot id only): lost, so it is scheduled again.
    expect(state("boot-a\n")).to.equal("lost");
  });

  it("raises a reboot delay below the minimum", () => {
    expect(lib("reboot_delay 0; reboot_delay 1; reboot_delay 2; reboot_delay 30").stdout).to.equal("2\n2\n2\n30\n");
  });

  it("names the packages apt and dpkg failed on", () => {
    const log = path.join(dir, "log");
    writeFileSync(
      log,
      [
        "Setting up smith-demo-svc (1.2) ...",
        "dpkg: error processing package smith-demo-svc (--configure):",
        "Errors were encountered while processing:",
        " smith-demo-svc",
        " other-pkg",
        "E: Sub-process /usr/bin/dpkg returned an error code (1)",
        "The following packages have unmet dependencies:",
        " web-app : Depends: libfoo (>= 2) but 1 is to be installed",
        "",
      ].join("\n"),
    );
    expect(lib('failed_packages "$1"', [log]).stdout).to.equal("other-pkg\nsmith-demo-svc\nweb-app\n");
  });

  it("prints words as a JSON array", () => {
    expect(lib('json_words ""; echo; json_words "a  b-c"').stdout).to.equal('[]\n["a","b-c"]');
  });

  it("root_only refuses paths others can write or that pass through symlinks", () => {
    expect(lib('root_only "$1"', [path.join(dir, "x")]).status).to.not.equal(0); // missing, and /tmp is world-writable
    expect(lib("root_only /tmp").status).to.not.equal(0);
    const usr = lib("root_only /usr/bin/env");
    // /usr/bin/env is root:root 0755 on Debian.
    expect(usr.status, usr.stderr).to.equal(0);
  });
});

describe("agent: needrestart and apt's periodic jobs", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "smith-periodic-"));
    for (const d of ["bin", "state", "apt/apt.conf.d", "systemd"]) mkdirSync(path.join(dir, d), { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const tool = (name: string, body: string) => writeFileSync(path.join(dir, "bin", name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });

  it("takes the services running outdated code from needrestart when it is installed", () => {
    tool("needrestart", 'echo "NEEDRESTART-VER: 3.6"; echo "NEEDRESTART-KSTA: 1"; echo "NEEDRESTART-SVC: nginx.service"; echo "NEEDRESTART-SVC: ssh.service"');
    const r = lib('NEEDRESTART=$1/bin/needrestart BOOT_DIR=$1/none OSRELEASE_FILE=$1/none REBOOT_REQUIRED=$1/none; reboot_check; printf "%s|%s" "$REBOOT_REASONS" "$REBOOT_DETAIL"', [dir]);
    expect(r.stdout).to.equal("deleted-libraries|deleted libraries in use by nginx.service ssh.service");
  });

  it("pauses the apt periodic jobs and the active apt-daily timers, and restores exactly those", () => {
    // A systemctl that says apt-daily.timer is active (apt-daily-upgrade.timer is not) and logs the rest.
    tool("systemctl", `echo "$*" >>"${dir}/calls"; [ "$1 $2" != "is-active --quiet" ] || [ "$3" = apt-daily.timer ]`);
    const env = `PATH=$1/bin:$PATH STATE_DIR=$1/state APT_ETC=$1/apt SYSTEMD_RUN_DIR=$1/systemd`;
    const paused = lib(`${env}; pause_periodic && cat $1/state/periodic-paused $1/apt/apt.conf.d/zz-smith-pause`, [dir]);
    expect(paused.status, paused.stderr).to.equal(0);
    expect(paused.stdout).to.match(/^apt-daily\.timer\n/);
    expect(paused.stdout).to.contain('APT::Periodic::Enable "0";');
    expect(paused.stdout).to.contain('APT::Periodic::Unattended-Upgrade "0";');
    const restored = lib(`${env}; resume_periodic; find $1/state $1/apt/apt.conf.d -type f; cat $1/calls`, [dir]);
    expect(restored.stdout).to.equal(
      "is-active --quiet apt-daily.timer\nis-active --quiet apt-daily-upgrade.timer\nstop apt-daily.timer\nstart apt-daily.timer\n",
    );
  });
});
