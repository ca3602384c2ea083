import { expect } from "chai";
import { LiveView } from "../../src/pipeline/display";
import { plainLine, ProgressEvent } from "../../src/pipeline/progress";

const ts = "2026-12-02T03:00:00.123Z";
const node = (machine: string, step: "patch" | "reboot" | "health", state: "start" | "done" | "failed"): ProgressEvent => ({
  ts,
  type: "node",
  stage: "canary",
  stack: "prod",
  wave: "canary",
  cluster: "prod-bom01-carrier1",
  machine,
  step,
  state,
  op: "create",
  ...(state === "failed" ? { error: "apt failed" } : {}),
});

describe("rollout progress", () => {
  it("plain lines: timestamped, one per event, agent copies left out", () => {
    expect(plainLine({ ts, type: "stage", stage: "decision", kind: "approval", state: "waiting", detail: "npx smith approve …" })).to.equal("2026-12-02T03:00:00Z stage decision (approval): waiting — npx smith approve …");
    expect(plainLine(node("prod-bom01-carrier1-worker-01", "patch", "failed"))).to.equal("2026-12-02T03:00:00Z prod canary prod-bom01-carrier1 prod-bom01-carrier1-worker-01: patch failed — apt failed");
    expect(plainLine({ ...node("m", "patch", "start"), step: "agent" } as ProgressEvent)).to.equal(null);
    expect(plainLine({ ts, type: "soak", stage: "soak-review", stack: "dev", opensAt: "2026-12-03T03:00:00.000Z", remainingSeconds: 86399.2 })).to.equal("2026-12-02T03:00:00Z stage soak-review: soak of dev opens at 2026-12-03T03:00:00.000Z (86400 s)");
  });

  it("live view: a line per stage, per cluster of the running stage each machine's step", () => {
    const v = new LiveView([{ name: "dev", kind: "run" }, { name: "canary", kind: "run" }, { name: "decision", kind: "approval" }]);
    v.update({ ts, type: "rollout", state: "start", pipeline: "pipeline", build: "3" });
    v.update({ ts, type: "stage", stage: "dev", kind: "run", state: "done", detail: "dev: test, sample, rest" });
    v.update({ ts, type: "stage", stage: "canary", kind: "run", state: "start" });
    v.update(node("prod-bom01-carrier1-haproxy01", "health", "done"));
    v.update(node("prod-bom01-carrier1-haproxy02", "reboot", "start"));
    const lines = v.render(200).split("\n");
    expect(lines[0]).to.match(/^smith rollout: build 3, pipeline pipeline \(0m0\ds\)$/);
    expect(lines.slice(1, 5)).to.deep.equal([
      " ✓ dev          run      dev: test, sample, rest",
      " ▶ canary       run      ",
      "     prod canary prod-bom01-carrier1: haproxy01✓ haproxy02…reboot",
      " · decision     approval ",
    ]);
    v.update(node("prod-bom01-carrier1-haproxy02", "patch", "failed"));
    expect(v.render(200)).to.include("haproxy02✗patch");
    expect(v.render(30).split("\n").every((l) => l.length <= 30)).to.equal(true);
  });
});
