/**
 * The checks the lab end-to-end test and benchmark apply to a finished rollout
 * (test/support/rollout.ts): they must catch what they claim to, or the e2e test proves nothing.
 */
import { expect } from "chai";
import type { Plan } from "../../src/plan/types";
import {
  clusterOrderProblems,
  criticalPathSeconds,
  NodeRun,
  nodeRunsFromState,
  nodeWindowsFromEvents,
  waveOrderProblems,
} from "../support/rollout";

const plan: Plan = {
  build: "2",
  waves: [
    { name: "one", gate: null, clusters: [{ cluster: "c1", nodes: ["a"] }] },
    {
      name: "two",
      gate: null,
      clusters: [
        { cluster: "c1", nodes: ["b", "c"] },
        { cluster: "c2", nodes: ["d"] },
      ],
    },
  ],
  unassigned: [],
};

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

function run(name: string, start: number, end: number, build = "2", noop = false): NodeRun {
  return {
    name,
    patch: { build, previous: "1", noop, changed: [], rebootRequired: false, attempts: 1, startedAt: t(start), finishedAt: t(end), durationMs: (end - start) * 1000 },
  };
}

const runs = (...rs: NodeRun[]) => new Map(rs.map((r) => [r.name, r]));

describe("rollout checks (test/support/rollout.ts)", () => {
  it("accepts nodes of a cluster one after another in plan order, and waves in order", () => {
    const r = runs(run("a", 0, 5), run("b", 10, 15), run("c", 20, 25), run("d", 10, 30));
    expect(clusterOrderProblems(plan, r, "2")).to.deep.equal([]);
    expect(waveOrderProblems(plan, r, "2")).to.deep.equal([]);
  });

  it("reports two nodes of one cluster at the same time, or out of plan order", () => {
    expect(clusterOrderProblems(plan, runs(run("b", 10, 20), run("c", 15, 25)), "2")).to.have.length(1);
    expect(clusterOrderProblems(plan, runs(run("b", 30, 35), run("c", 10, 15)), "2")[0]).to.match(/^c1: c patch started .* before b/);
  });

  it("uses the engine windows: the next node must wait for the previous healthcheck", () => {
    const r = runs(run("b", 10, 12), run("c", 14, 16));
    const windows = new Map([
      ["b", { name: "b", start: 10, end: 20 }],
      ["c", { name: "c", start: 14, end: 30 }],
    ]);
    expect(clusterOrderProblems(plan, r, "2", windows)).to.deep.equal(["c1: c started at 14, before b's healthcheck ended at 20"]);
  });

  it("ignores nodes not patched in this run (other build or a no-op)", () => {
    expect(clusterOrderProblems(plan, runs(run("b", 10, 20, "1"), run("c", 15, 25)), "2")).to.deep.equal([]);
    expect(clusterOrderProblems(plan, runs(run("b", 10, 20, "2", true), run("c", 15, 25)), "2")).to.deep.equal([]);
  });

  it("reports a wave that started before the previous one finished", () => {
    const problems = waveOrderProblems(plan, runs(run("a", 0, 12), run("b", 10, 15), run("d", 11, 13)), "2");
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^wave two: b started .* before a of wave one finished/);
  });

  it("computes the critical path: per wave the slowest cluster's sum", () => {
    const d: Record<string, number> = { a: 5, b: 10, c: 10, d: 15 };
    const cp = criticalPathSeconds(plan, (n) => d[n]);
    expect(cp.total).to.equal(25);
    expect(cp.perWave).to.deep.equal([
      { wave: "one", cluster: "c1", seconds: 5 },
      { wave: "two", cluster: "c1", seconds: 20 },
    ]);
  });

  it("reads node windows from engine events and agent reports from the state", () => {
    const urn = (n: string, step: string) => `urn:pulumi:s::smith::smith:fleet:NodePatch$command:remote:Command::${n}-${step}`;
    const ev = (ts: number, kind: string, op: string, u: string) => JSON.stringify({ timestamp: ts, [kind]: { metadata: { op, urn: u } } });
    const log = [
      ev(100, "resourcePreEvent", "create-replacement", urn("a", "patch")),
      ev(101, "resourcePreEvent", "same", urn("b", "patch")),
      ev(130, "resOutputsEvent", "create-replacement", urn("a", "health")),
      ev(131, "resOutputsEvent", "same", urn("b", "health")),
      '{"timestamp": 140, "resOutputsEvent": {"meta', // cut short by a kill
    ].join("\n");
    expect([...nodeWindowsFromEvents(log).values()]).to.deep.equal([{ name: "a", start: 100, end: 130 }]);

    const report = JSON.stringify(run("a", 0, 5).patch);
    const state = {
      deployment: {
        resources: [
          { urn: urn("a", "patch"), type: "command:remote:Command", outputs: { stdout: `banner\n${report}\n` } },
          { urn: urn("a", "reboot"), type: "command:remote:Command", outputs: { stdout: '{"rebooting":true,"bootId":"x"}' } },
          { urn: urn("a", "agent"), type: "command:remote:CopyToRemote", outputs: {} },
        ],
      },
    };
    const r = nodeRunsFromState(state).get("a")!;
    expect(r.patch?.finishedAt).to.equal(t(5));
    expect(r.reboot).to.deep.equal({ rebooting: true, bootId: "x" });
    expect(r.health).to.equal(undefined);
  });
});
