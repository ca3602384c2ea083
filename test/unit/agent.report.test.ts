import { expect } from "chai";
import {
  AgentReportError,
  healthOutcome,
  parseAgentError,
  parseHealthReport,
  parsePatchReport,
  parseRebootReport,
  parseStatusReport,
} from "../../src/agent/report";

// Lines as the agent prints them (copied from real runs in the lab).
const PATCH =
  '{"build":"2","previous":"1","noop":false,"changed":[{"name":"smith-kern","from":"1.0","to":"2.0"},{"name":"new-pkg","from":null,"to":"1"}],"changedCount":2,"rebootRequired":true,"attempts":1,"startedAt":"2026-11-25T18:28:45Z","finishedAt":"2026-11-25T18:28:45Z","durationMs":963}';
const PATCH_ERROR =
  '{"error":"refusing to go back from build 2 to build 1 without --force","exitCode":4,"build":"1","previous":"2","changed":[],"changedCount":0,"attempts":0,"startedAt":"2026-11-25T18:28:52Z","finishedAt":"2026-11-25T18:28:52Z","durationMs":21}';
const HEALTH =
  '{"healthy":false,"bootId":"6f66a9d9","checks":[{"name":"health.d/10-x","ok":false,"detail":"exit 3: bad \\"quote\\"\\nline2"}]}';

describe("agent report parsing", () => {
  it("parses a patch report", () => {
    const r = parsePatchReport(`${PATCH}\n`);
    expect(r.build).to.equal("2");
    expect(r.previous).to.equal("1");
    expect(r.changed).to.deep.equal([
      { name: "smith-kern", from: "1.0", to: "2.0" },
      { name: "new-pkg", from: null, to: "1" },
    ]);
    expect(r.rebootRequired).to.equal(true);
    expect(r.durationMs).to.equal(963);
  });

  it("takes the last JSON line, ignoring banners and blank lines", () => {
    const out = `Welcome to host\n{"not":"this one"}\n${PATCH}\n\n`;
    expect(parsePatchReport(out).build).to.equal("2");
    expect(parseRebootReport('motd\r\n{"rebooting":true,"bootId":"abc"}\r\n')).to.deep.equal({ rebooting: true, bootId: "abc" });
  });

  it("parses health checks with escaped details", () => {
    const r = parseHealthReport(HEALTH);
    expect(r.healthy).to.equal(false);
    expect(r.checks[0]!.detail).to.equal('exit 3: bad "quote"\nline2');
  });

  it("parses status with and without a last run", () => {
    expect(parseStatusReport('{"build":null,"lastRun":null,"pending":[]}')).to.deep.equal({ build: null, lastRun: null, pending: [] });
    const s = parseStatusReport(`{"build":"2","lastRun":${PATCH},"pending":["a","b"]}`);
    expect(s.pending).to.deep.equal(["a", "b"]);
    expect(s.lastRun).to.have.property("build", "2");
    const failed = parseStatusReport(`{"build":"2","lastRun":${PATCH_ERROR},"pending":[]}`);
    expect(failed.lastRun).to.have.property("exitCode", 4);
  });

  it("turns the agent's error line into an AgentReportError carrying it", () => {
    try {
      parsePatchReport(PATCH_ERROR);
      expect.fail("should throw");
    } catch (e) {
      expect(e).to.be.instanceOf(AgentReportError);
      expect((e as AgentReportError).message).to.equal(
        "patch report: agent failed with exit 4: refusing to go back from build 2 to build 1 without --force",
      );
      expect((e as AgentReportError).agentError?.exitCode).to.equal(4);
    }
    expect(parseAgentError(`noise\n${PATCH_ERROR}`)?.exitCode).to.equal(4);
    expect(parseAgentError(PATCH)).to.equal(null);
    expect(parseAgentError("garbage")).to.equal(null);
  });

  it("explains garbage clearly", () => {
    expect(() => parsePatchReport("")).to.throw(AgentReportError, "patch report: no JSON line in the agent's output; output was empty");
    expect(() => parsePatchReport("bash: smith-agent: command not found\n")).to.throw(
      'patch report: no JSON line in the agent\'s output; last line: "bash: smith-agent: command not found"',
    );
    expect(() => parseHealthReport('{"healthy":tru')).to.throw(/health report: last JSON line of the agent's output is not valid JSON/);
    expect(() => parseRebootReport('{"rebooting":"yes","bootId":"x"}')).to.throw(/reboot report: unexpected agent output at rebooting/);
    expect(() => parseStatusReport('{"build":"1","pending":[]}')).to.throw(/status report: unexpected agent output at lastRun/);
  });

  it("keeps error messages short for huge garbage", () => {
    try {
      parsePatchReport(`{${"x".repeat(100_000)}`);
      expect.fail("should throw");
    } catch (e) {
      expect((e as Error).message.length).to.be.lessThan(400);
    }
  });
});

describe("agent report parsing: reboot reasons and pending reboots", () => {
  it("parses the patch line's reboot fields, and accepts lines of older agents without them", () => {
    const line = PATCH.replace('"rebootRequired":true,', '"rebootRequired":true,"rebootReasons":["kernel","deleted-libraries"],"rebooting":true,"bootId":"b-1",');
    expect(parsePatchReport(line)).to.include({ rebooting: true, bootId: "b-1" });
    expect(parsePatchReport(line).rebootReasons).to.deep.equal(["kernel", "deleted-libraries"]);
    expect(parsePatchReport(PATCH).rebootReasons).to.equal(undefined);
    expect(parseRebootReport('{"rebooting":true,"bootId":"x","reasons":["kernel"],"delay":2}')).to.deep.equal({ rebooting: true, bootId: "x", reasons: ["kernel"], delay: 2 });
  });

  it("tells a pending or rescheduled reboot (exit 12) from an unhealthy machine (exit 6)", () => {
    const h = (reboot: string | null, healthy: boolean) =>
      healthOutcome(parseHealthReport(JSON.stringify({ healthy, bootId: "b", ...(reboot ? { reboot } : {}), checks: [] })));
    expect(h("pending", false)).to.equal("reboot-pending");
    expect(h("rescheduled", false)).to.equal("reboot-pending");
    expect(h("done", true)).to.equal("healthy");
    expect(h("none", false)).to.equal("unhealthy");
    expect(h(null, true)).to.equal("healthy");
    expect(() => parseHealthReport('{"healthy":false,"bootId":"b","reboot":"maybe","checks":[]}')).to.throw(/reboot/);
  });

  it("keeps the packages of a partial upgrade in the error line", () => {
    const err = parseAgentError('{"error":"build 3 not fully applied: kept back: a b","exitCode":8,"build":"3","previous":"2","packages":["a","b"],"changed":[],"changedCount":0,"attempts":1}');
    expect(err).to.deep.include({ exitCode: 8, packages: ["a", "b"] });
  });
});
