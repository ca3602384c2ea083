/**
 * The program's reboot wait (components/fleet/boot-probe.ts) against a real sshd on loopback:
 * it returns as soon as the boot id differs from the one before the reboot, keeps polling
 * (bounded) while it is the same, and never talks to a server whose host key is not the pinned one.
 */
import { expect } from "chai";
import * as fs from "fs";
import { sshRebootProber } from "../../components/fleet/boot-probe";
import { Sshd, sshdUnavailableReason, startSshd } from "../support/sshd";

describe("reboot prober over ssh2 (real sshd)", function () {
  this.timeout(60_000);
  let sshd: Sshd | undefined;
  const bootId = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();

  before(async function () {
    const why = sshdUnavailableReason();
    if (why) {
      console.log(`      skipping: ${why}`);
      this.skip();
    }
    sshd = await startSshd();
  });
  after(async () => sshd?.stop());

  const wait = (over: Record<string, unknown>) =>
    sshRebootProber(Promise.resolve(sshd!.clientPrivateKey))({
      host: sshd!.host,
      port: sshd!.port,
      user: sshd!.user,
      hostKey: sshd!.hostKey,
      bootIdBefore: "an-earlier-boot",
      timeoutMs: 20_000,
      ...over,
    });

  it("returns at the first probe that finds a new boot id", async () => {
    const r = await wait({});
    expect(r).to.deep.equal({ rebooted: true, bootId, probes: 1 });
  });

  it("keeps polling while the boot id is the old one, up to its bound, and says so", async () => {
    const r = await wait({ bootIdBefore: bootId, timeoutMs: 3_000 });
    expect(r.rebooted).to.equal(false);
    expect(r.probes).to.be.greaterThan(1);
    // The last probe may be the one the bound cut short.
    expect(r.lastError).to.match(new RegExp(`^(boot id still ${bootId}|no answer within \\d+ ms)$`));
  });

  it("refuses a server whose host key is not the pinned one", async () => {
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEMwZxYNz8GKb/Ew0CxogS1x0SiHaWdk6vpZJbNlIRPF";
    const r = await wait({ hostKey: other, timeoutMs: 1_500 });
    expect(r.rebooted).to.equal(false);
    expect(r.lastError).to.match(/host key mismatch|Handshake failed/);
  });
});
