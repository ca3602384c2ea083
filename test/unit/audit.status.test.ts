import { expect } from "chai";
import type { PatchEvent } from "../../src/audit/events";
import { fleetStatus } from "../../src/audit/status";
import { buildCounts } from "../../src/audit/status-render";
import type { StackRecord, StateResource } from "../../src/audit/types";
import { machineFacts } from "../../src/compliance/facts";
import type { Plan } from "../../src/plan/types";

const cmd = (node: string, step: string, stdout: string): StateResource => ({ urn: `urn:pulumi:s::smith::smith:fleet:NodePatch$command:remote:Command::${node}-${step}`, type: "command:remote:Command", outputs: { stdout } });
const patch = (node: string, build: string) =>
  cmd(node, "patch", JSON.stringify({ build, previous: null, noop: false, changed: [], rebootRequired: false, attempts: 1, startedAt: "2026-12-01T00:00:00Z", finishedAt: "2026-12-01T00:00:01Z", durationMs: 1 }));
const health = (node: string, healthy: boolean) => cmd(node, "health", JSON.stringify({ healthy, bootId: "b", checks: [] }));

const plan: Plan = {
  build: "3",
  waves: [
    { name: "w1", gate: null, clusters: [{ cluster: "c1", nodes: ["a", "b", "c"] }, { cluster: "c2", nodes: ["d"] }] },
    { name: "w2", gate: { approval: true }, clusters: [{ cluster: "c3", nodes: ["e"] }] },
  ],
  unassigned: [{ name: "z", reason: "no wave in w.yaml selects it" }],
};

describe("status: the fleet at a glance", () => {
  it("counts builds per cluster, names where a failed update stopped, held waves and leftovers", () => {
    const record: StackRecord = {
      stack: "s",
      source: "t",
      updates: [{ stack: "s", id: "u1", kind: "update", result: "failed", startTime: "2026-12-01T00:00:00Z", endTime: null, build: "3", ranBy: "x", approvals: [], message: "", resources: [] }],
      current: [
        patch("a", "3"), health("a", true), patch("b", "2"), patch("c", "2"), patch("d", "3"), health("d", false), patch("e", "2"), patch("gone", "2"),
        { urn: "urn:pulumi:s::smith::pulumi:pulumi:Stack::smith-s", type: "pulumi:pulumi:Stack", outputs: { waves: [{ name: "w1", held: false }, { name: "w2", held: true, reason: "approval gate: smith:approvals has no w2@3" }] } },
      ],
    };
    const s = fleetStatus(record, plan, new Map([["a", { build: "3" }], ["b", { build: "3" }], ["c", { error: "timed out" }]]));
    expect(s.clusters.map((c) => [c.cluster, buildCounts(c.builds, "3"), c.held, c.failedAt, c.unhealthy])).to.deep.equal([
      ["c1", "1 at 3, 2 at 2", null, "b", []],
      ["c2", "1 at 3", null, null, ["d"]],
      ["c3", "1 at 2", "approval gate: smith:approvals has no w2@3", null, []],
    ]);
    expect(s.clusters[0]!.live).to.deep.equal({ agree: 1, drift: ["b (state 2, machine 3)"], unreachable: ["c"] });
    expect(s.notPlanned).to.deep.equal(["gone"]);
    expect(s.unassigned).to.deep.equal([{ name: "z", reason: "no wave in w.yaml selects it" }]);
    expect(s.lastUpdate?.result).to.equal("failed");
  });
});

describe("compliance: where each machine is", () => {
  const ev = (machine: string, build: string, finishedAt: string): PatchEvent => ({ stack: "s", machine, build, previous: null, noop: false, packages: [], changedCount: 0, startedAt: finishedAt, finishedAt, rebooted: null, result: "healthy", updateId: "u", updateResult: "succeeded", ranBy: "x" });
  it("build from the latest event, since = first event of the latest run at that build; inventory decides vanished and never patched", () => {
    const record: StackRecord = { stack: "s", source: "t", updates: [], current: [] };
    const events = [ev("a", "2", "2026-11-01T00:00:00Z"), ev("a", "3", "2026-11-10T00:00:00Z"), ev("a", "3", "2026-11-20T00:00:00Z"), ev("gone", "2", "2026-11-01T00:00:00Z")];
    expect(machineFacts(record, events, ["a", "new"])).to.deep.equal([
      { stack: "s", machine: "a", build: "3", since: "2026-11-10T00:00:00Z", inInventory: true },
      { stack: "s", machine: "gone", build: "2", since: "2026-11-01T00:00:00Z", inInventory: false },
      { stack: "s", machine: "new", build: null, since: null, inInventory: true },
    ]);
  });
});
