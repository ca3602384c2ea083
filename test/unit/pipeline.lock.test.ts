import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { acquireRolloutLock, currentHolder, LockHolder, readHolder, STALE_MS } from "../../src/pipeline/lock";

/** The rollout lock in a pod: pid 1 everywhere, hostnames = pod names, a shared volume. */
describe("rollout lock (src/pipeline/lock.ts)", () => {
  let dir: string;
  const pod = (hostname: string, startTicks = 100): LockHolder => ({ pid: 1, hostname, bootId: "boot-a", startTicks });
  const write = (h: LockHolder | string, ageMs = 0) => {
    const f = path.join(dir, "build-7.lock");
    fs.writeFileSync(f, typeof h === "string" ? h : JSON.stringify(h));
    const t = new Date(Date.now() - ageMs);
    fs.utimesSync(f, t, t);
    return f;
  };
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-lock-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("records hostname, pid, boot id and start time, and releases", () => {
    const l = acquireRolloutLock(dir, "7");
    const h = readHolder(path.join(dir, "build-7.lock"))!;
    expect(h).to.deep.equal(currentHolder());
    expect(h.hostname).to.equal(os.hostname());
    expect(h.startTicks).to.be.a("number");
    // another process on this host: we (the holder) still run, with the recorded start time
    expect(() => acquireRolloutLock(dir, "7", { self: { ...h, pid: 999_999_999 } })).to.throw(`smith rollout pid ${process.pid} on ${os.hostname()} is already rolling out build 7`);
    l.release();
    expect(fs.existsSync(path.join(dir, "build-7.lock"))).to.equal(false);
  });

  it("a dead pod's lock (other hostname, no heartbeat) is taken over; a live pod's (fresh heartbeat) is not", () => {
    write(pod("smith-rollout-prod-a-x1"), STALE_MS + 1000);
    const l = acquireRolloutLock(dir, "7", { self: pod("smith-rollout-prod-a-y2") });
    expect(l.tookOverFrom).to.equal("pid 1 on smith-rollout-prod-a-x1");
    l.release();
    write(pod("smith-rollout-prod-a-x1"), 5000);
    expect(() => acquireRolloutLock(dir, "7", { self: pod("smith-rollout-prod-a-y2") })).to.throw(/pid 1 on smith-rollout-prod-a-x1 is already rolling out/);
  });

  it("same host: alive only if the pid runs and started when recorded; a reboot frees it", () => {
    const self = { pid: 50, hostname: "h", bootId: "boot-a", startTicks: 900 };
    const other = { pid: 42, hostname: "h", bootId: "boot-a", startTicks: 500 };
    write(other);
    expect(() => acquireRolloutLock(dir, "7", { self, startTicksOf: (p) => (p === 42 ? 500 : null) })).to.throw(/pid 42 on h/);
    // pid 42 now belongs to another process (started later): the holder is gone
    acquireRolloutLock(dir, "7", { self, startTicksOf: (p) => (p === 42 ? 777 : null) }).release();
    write({ ...other, bootId: "boot-b" });
    expect(acquireRolloutLock(dir, "7", { self, startTicksOf: () => 500 }).tookOverFrom).to.equal("pid 42 on h");
  });

  it("a lock naming our own pid (pid 1 of the previous container on this host) is taken over", () => {
    write({ pid: 1, hostname: "h", bootId: "boot-a", startTicks: 3 });
    expect(acquireRolloutLock(dir, "7", { self: { pid: 1, hostname: "h", bootId: "boot-a", startTicks: 9 }, startTicksOf: () => 9 }).tookOverFrom).to.equal("pid 1 on h");
  });

  it("reads the older pid-only lock as a holder on this host", () => {
    const f = write("1\n");
    expect(readHolder(f)).to.deep.equal({ pid: 1, hostname: os.hostname(), bootId: null, startTicks: null });
    expect(acquireRolloutLock(dir, "7", { self: { pid: 1, hostname: os.hostname(), bootId: "b", startTicks: 5 } }).tookOverFrom).to.equal(`pid 1 on ${os.hostname()}`);
  });
});
