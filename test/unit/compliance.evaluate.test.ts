import { expect } from "chai";
import { complianceExitCode, evaluateMachine, MachineFacts } from "../../src/compliance/evaluate";
import type { BuildManifest } from "../../src/compliance/manifest";
import { parseManifest } from "../../src/compliance/manifest";
import { DEFAULT_POLICY, parsePolicy, Policy } from "../../src/compliance/policy";
import { auditTestManifests, demoManifest } from "../support/manifests";

const DAY = 86_400_000;
const manifests = (m: Record<number, unknown>) => new Map(Object.entries(m).map(([n, v]) => [Number(n), parseManifest(JSON.stringify(v), `m${n}`)]));
const fixture = manifests(auditTestManifests());
const at = (build: string | null, extra: Partial<MachineFacts> = {}): MachineFacts => ({ stack: "s", machine: "m1", build, since: null, inInventory: true, ...extra });
/** build 3's kernel fix: high (14 d) from 2026-11-20 → due 2026-12-04T00:00Z. */
const DUE = Date.parse("2026-12-04T00:00:00Z");

describe("compliance: due dates against the policy", () => {
  it("a machine at the newest build is current", () => {
    const r = evaluateMachine(at("3"), fixture, DEFAULT_POLICY, new Date("2026-12-30T00:00:00Z"));
    expect(r.status).to.equal("current");
    expect(r.lacking).to.deep.equal([]);
  });

  it("due = earliest firstSeen + deadline over the fixes it lacks", () => {
    const r = evaluateMachine(at("2"), fixture, DEFAULT_POLICY, new Date(DUE - 30 * DAY));
    expect(r.due).to.equal("2026-12-04T00:00:00.000Z");
    expect(r.status).to.equal("ok");
    expect(r.reason).to.equal("lacks smith-demo-kernel 1.2 (build 3, DSA-LAB-3 high, first seen 2026-11-20T00:00:00Z): due 2026-12-04T00:00:00.000Z");
    expect(r.lacking.map((l) => `${l.name} ${l.version} ${l.due}`)).to.deep.equal([
      "smith-demo-conf 1.2 null",
      "smith-demo-kernel 1.2 2026-12-04T00:00:00.000Z",
      "smith-demo-svc 1.2 2027-02-18T00:00:00.000Z",
    ]);
  });

  it("exactly 7 days before the due date is due soon; a millisecond earlier is not", () => {
    expect(evaluateMachine(at("2"), fixture, DEFAULT_POLICY, new Date(DUE - 7 * DAY)).status).to.equal("due-soon");
    expect(evaluateMachine(at("2"), fixture, DEFAULT_POLICY, new Date(DUE - 7 * DAY - 1)).status).to.equal("ok");
  });

  it("at the due instant it is still due; after it, overdue", () => {
    expect(evaluateMachine(at("2"), fixture, DEFAULT_POLICY, new Date(DUE)).status).to.equal("due-soon");
    expect(evaluateMachine(at("2"), fixture, DEFAULT_POLICY, new Date(DUE + 1)).status).to.equal("overdue");
  });

  it("a machine two builds behind lacks both builds' fixes: the older one is due first", () => {
    const r = evaluateMachine(at("1"), fixture, DEFAULT_POLICY, new Date("2026-11-15T00:00:00Z"));
    // build 2's kernel: medium (30 d) from 2026-11-01.
    expect(r.due).to.equal("2026-12-01T00:00:00.000Z");
    expect(r.status).to.equal("ok");
    expect(r.lacking).to.have.length(6);
  });

  it("fixes without advisories have no deadline unless the policy gives one", () => {
    const m = manifests({ 1: demoManifest(1, "2026-10-01T00:00:00Z", {}), 2: demoManifest(2, "2026-11-01T00:00:00Z", {}) });
    const none = evaluateMachine(at("1"), m, DEFAULT_POLICY, new Date("2027-06-01T00:00:00Z"));
    expect(none.status).to.equal("ok");
    expect(none.due).to.equal(null);
    expect(none.reason).to.equal("behind build 2; no lacking fix has a deadline");
    const p: Policy = { ...DEFAULT_POLICY, withoutAdvisory: 60 };
    const some = evaluateMachine(at("1"), m, p, new Date("2027-06-01T00:00:00Z"));
    expect(some.status).to.equal("overdue");
    expect(some.due).to.equal("2026-12-31T00:00:00.000Z");
  });

  it("a severity the policy has no deadline for makes the machine unknown (exit 2)", () => {
    const { high: _high, ...rest } = DEFAULT_POLICY.deadlines;
    const p: Policy = { ...DEFAULT_POLICY, deadlines: rest };
    const r = evaluateMachine(at("2"), fixture, p, new Date("2026-11-21T00:00:00Z"));
    expect(r.status).to.equal("unknown");
    expect(r.reason).to.equal("the policy has no deadline for severity high (smith-demo-kernel 1.2)");
    expect(complianceExitCode([r])).to.equal(2);
  });

  it("severity `unknown` in a manifest uses the policy's `unknown` deadline", () => {
    const m = manifests({
      1: demoManifest(1, "2026-10-01T00:00:00Z", {}),
      2: demoManifest(2, "2026-11-01T00:00:00Z", { "smith-demo-svc": { firstSeen: "2026-11-01T00:00:00Z", advisories: [{ id: "X-1", severity: "unknown", published: "2026-11-01T00:00:00Z" }] } }),
    });
    expect(evaluateMachine(at("1"), m, DEFAULT_POLICY, new Date("2026-11-02T00:00:00Z")).due).to.equal("2026-12-01T00:00:00.000Z");
  });

  it("several advisories on one fix: the most urgent deadline counts", () => {
    const adv = (severity: string) => ({ id: `A-${severity}`, severity, published: "2026-11-01T00:00:00Z" });
    const m = manifests({ 1: demoManifest(1, "2026-10-01T00:00:00Z", {}), 2: demoManifest(2, "2026-11-01T00:00:00Z", { "smith-demo-svc": { firstSeen: "2026-11-01T00:00:00Z", advisories: [adv("low"), adv("critical")] } }) });
    expect(evaluateMachine(at("1"), m, DEFAULT_POLICY, new Date("2026-11-02T00:00:00Z")).due).to.equal("2026-11-08T00:00:00.000Z");
  });

  it("a missing manifest in between makes the machine unknown", () => {
    const m = new Map<number, BuildManifest>([...fixture].filter(([n]) => n !== 2));
    const r = evaluateMachine(at("1"), m, DEFAULT_POLICY, new Date("2026-11-21T00:00:00Z"));
    expect(r.status).to.equal("unknown");
    expect(r.reason).to.match(/^no manifest for build 2/);
  });

  it("never patched: lacks every fix of every known build, flagged", () => {
    const r = evaluateMachine(at(null), fixture, DEFAULT_POLICY, new Date("2026-11-21T00:00:00Z"));
    expect(r.flags).to.deep.equal(["never-patched"]);
    expect(r.lacking).to.have.length(9);
    expect(r.status).to.equal("ok");
    expect(r.due).to.equal("2026-12-01T00:00:00.000Z");
  });

  it("vanished machines are reported but do not set the exit status", () => {
    const gone = evaluateMachine(at("2", { inInventory: false }), fixture, DEFAULT_POLICY, new Date(DUE + DAY));
    expect(gone.status).to.equal("overdue");
    expect(gone.flags).to.deep.equal(["vanished"]);
    expect(complianceExitCode([gone])).to.equal(0);
    const soon = evaluateMachine(at("2"), fixture, DEFAULT_POLICY, new Date(DUE - DAY));
    expect(complianceExitCode([gone, soon])).to.equal(1);
  });

  it("--live: the machine's own build wins and drift is flagged; unreachable is unknown", () => {
    const drift = evaluateMachine(at("3", { live: { build: "2" } }), fixture, DEFAULT_POLICY, new Date(DUE - DAY));
    expect(drift.flags).to.deep.equal(["drift"]);
    expect(drift.build).to.equal("2");
    expect(drift.status).to.equal("due-soon");
    const down = evaluateMachine(at("3", { live: { error: "timed out after 30000 ms" } }), fixture, DEFAULT_POLICY, new Date(DUE - DAY));
    expect(down.status).to.equal("unknown");
    expect(down.flags).to.deep.equal(["unreachable"]);
    expect(down.reason).to.equal("unreachable: timed out after 30000 ms");
  });

  it("no manifest at all: unknown", () => {
    expect(evaluateMachine(at("2"), new Map(), DEFAULT_POLICY, new Date()).reason).to.equal("no published build manifest found");
  });
});

describe("compliance: policy files", () => {
  it("reads examples/policy.yaml as the default policy", async () => {
    const fs = await import("fs");
    expect(parsePolicy(fs.readFileSync("examples/policy.yaml", "utf8"), "examples/policy.yaml")).to.deep.equal(DEFAULT_POLICY);
  });

  it("applies defaults", () => {
    expect(parsePolicy("deadlines: {high: 3}\n", "p.yaml")).to.deep.equal({ deadlines: { high: 3 }, withoutAdvisory: null, dueSoonDays: 7 });
  });

  for (const [text, msg] of [
    ["deadlines: {hihg: 3}\n", /p\.yaml:1: deadlines.*hihg/],
    ["deadlines: {high: -1}\n", /p\.yaml:1: deadlines\.high/],
    ["deadlines: {high: 2.5}\n", /deadlines\.high/],
    ["deadlines: {}\nextra: 1\n", /extra/],
    ["deadlines: [\n", /invalid YAML/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)} in one line`, () => {
      expect(() => parsePolicy(text, "p.yaml")).to.throw(msg);
      try {
        parsePolicy(text, "p.yaml");
      } catch (e) {
        expect((e as Error).message).to.not.include("\n");
      }
    });
  }
});
