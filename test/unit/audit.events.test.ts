import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { filterEvents, patchEvents } from "../../src/audit/events";
import { FileBackendHistory } from "../../src/audit/file-backend";
import type { StackRecord, StateResource } from "../../src/audit/types";
import { whoRan } from "../../src/audit/who";

const URN = (node: string, step: string) => `urn:pulumi:s::smith::smith:fleet:PatchWave$smith:fleet:ClusterRollout$smith:fleet:NodePatch$command:remote:Command::${node}-${step}`;
function patch(node: string, build: string, previous: string, t: string, extra: Record<string, unknown> = {}): StateResource {
  const report = { build, previous, noop: false, changed: [{ name: "k", from: `1.${Number(previous) - 1}`, to: `1.${Number(build) - 1}` }], changedCount: 1, rebootRequired: true, attempts: 1, startedAt: `${t}:00Z`, finishedAt: `${t}:05Z`, durationMs: 5000, ...extra };
  return { urn: URN(node, "patch"), type: "command:remote:Command", outputs: { stdout: `banner\n${JSON.stringify(report)}\n` } };
}
const reboot = (node: string, rebooting: boolean): StateResource => ({ urn: URN(node, "reboot"), type: "command:remote:Command", outputs: { stdout: JSON.stringify({ rebooting, bootId: "b" }) } });
const health = (node: string, healthy: boolean): StateResource => ({ urn: URN(node, "health"), type: "command:remote:Command", outputs: { stdout: JSON.stringify({ healthy, bootId: "c", checks: [] }) } });
const update = (id: string, start: string, result: string, resources: StateResource[]) => ({ stack: "s", id, kind: "update", result, startTime: start, endTime: start, build: null, ranBy: "ci", approvals: [], message: "", resources });

describe("audit: patch events from checkpoints", () => {
  const a2 = [patch("a", "2", "1", "2026-12-01T10:00"), reboot("a", true), health("a", true)];
  const b2 = [patch("b", "2", "1", "2026-12-01T10:01"), reboot("b", false)];
  const record: StackRecord = {
    stack: "s",
    source: "test",
    updates: [
      update("u1", "2026-12-01T09:59:00.000Z", "failed", [...a2, ...b2]),
      // u2 re-ran only b's healthcheck; a was removed from the inventory before u3.
      update("u2", "2026-12-01T11:00:00.000Z", "succeeded", [...a2, ...b2, health("b", true)]),
      update("u3", "2026-12-02T10:00:00.000Z", "succeeded", [patch("b", "3", "2", "2026-12-02T10:00"), reboot("b", true), health("b", false)]),
    ],
    current: [patch("b", "3", "2", "2026-12-02T10:00"), reboot("b", true), health("b", false)],
  };

  it("finds each run once, attributed to the first update that recorded it, removed machines included", () => {
    const ev = patchEvents(record);
    expect(ev.map((e) => `${e.machine}@${e.build} ${e.updateId} ${e.updateResult} rebooted=${e.rebooted} ${e.result}`)).to.deep.equal([
      "a@2 u1 failed rebooted=true healthy",
      "b@2 u1 failed rebooted=false healthy", // its healthcheck passed in u2
      "b@3 u3 succeeded rebooted=true unhealthy",
    ]);
    expect(ev[0]!.packages).to.deep.equal([{ name: "k", from: "1.0", to: "1.1" }]);
  });

  it("reads `rebooting` from the patch report when there is no reboot step (patch --reboot-if-required)", () => {
    const r: StackRecord = { stack: "s", source: "t", updates: [], current: [patch("c", "2", "1", "2026-12-01T10:00", { rebooting: true, bootId: "x" })] };
    const [e] = patchEvents(r);
    expect(e!.rebooted).to.equal(true);
    expect(e!.updateId).to.equal("current");
    expect(e!.result).to.equal("no healthcheck");
  });

  it("skips reports that are not patch lines (agent errors, garbage)", () => {
    const bad: StateResource = { urn: URN("d", "patch"), type: "command:remote:Command", outputs: { stdout: '{"error":"apt failed","exitCode":5}' } };
    expect(patchEvents({ stack: "s", source: "t", updates: [], current: [bad, { ...bad, outputs: { stdout: "nope" } }] })).to.deep.equal([]);
  });

  it("filters by time and machine glob", () => {
    const ev = patchEvents(record);
    expect(filterEvents(ev, { since: new Date("2026-12-02T00:00:00Z") }).map((e) => e.machine)).to.deep.equal(["b"]);
    expect(filterEvents(ev, { until: new Date("2026-12-01T10:00:30Z") }).map((e) => e.machine)).to.deep.equal(["a"]);
    expect(filterEvents(ev, { machine: "[a]*" }).map((e) => e.machine)).to.deep.equal(["a"]);
  });
});

describe("audit: who ran an update", () => {
  it("prefers the service's user, then CI, then git", () => {
    expect(whoRan("alice", { "ci.system": "GitHub" })).to.equal("alice");
    expect(whoRan(undefined, { "ci.system": "GitHub", "ci.build.id": "42", "git.author": "Bob" })).to.equal("GitHub build 42 (commit by Bob)");
    expect(whoRan(undefined, { "git.committer": "Carol", "git.committer.email": "c@x" })).to.equal("Carol <c@x> (git HEAD)");
    expect(whoRan(undefined, { "exec.kind": "cli" })).to.equal("unknown (cli)");
  });
});

describe("audit: the file backend", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-audit-fb-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function write(rel: string, doc: unknown, gz = false): void {
    const file = path.join(dir, ".pulumi", rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const text = JSON.stringify(doc);
    fs.writeFileSync(gz ? `${file}.gz` : file, gz ? zlib.gzipSync(text) : text);
  }

  it("names the known stacks when one does not exist", async () => {
    write("stacks/smith/dev.json", { version: 3, checkpoint: { latest: { resources: [] } } });
    try {
      await new FileBackendHistory(dir, "smith").read("prod");
      expect.fail("no error");
    } catch (e) {
      expect((e as Error).message).to.equal(`--stack prod: no such stack of project smith in file://${dir} (stacks: dev)`);
    }
  });

  it("reads history entries with their checkpoints (also gzipped), oldest first", async () => {
    write("stacks/smith/dev.json", { version: 3, checkpoint: { latest: { resources: [patch("a", "3", "2", "2026-12-02T10:00")] } } });
    const h = (t: number, build: string) => ({ kind: "update", startTime: t, endTime: t + 60, result: "succeeded", environment: { "git.author": "Ann" }, config: { "smith:build": build, "smith:sshPrivateKey": { secure: "v1:xx" } } });
    write("history/smith/dev/dev-1764669600000000000.history.json", h(1764669600, "3"), true);
    write("history/smith/dev/dev-1764669600000000000.checkpoint.json", { version: 3, checkpoint: { latest: { resources: [patch("a", "3", "2", "2026-12-02T10:00")] } } }, true);
    write("history/smith/dev/dev-1764583200000000000.history.json", h(1764583200, "2"));
    write("history/smith/dev/dev-1764583200000000000.checkpoint.json", { version: 3, checkpoint: { latest: { resources: [patch("a", "2", "1", "2026-12-01T10:00")] } } });
    const r = await new FileBackendHistory(dir, "smith").read("dev");
    expect(r.updates.map((u) => [u.id, u.build, u.startTime, u.ranBy])).to.deep.equal([
      ["dev-1764583200000000000", "2", "2025-12-01T10:00:00.000Z", "Ann (git HEAD)"],
      ["dev-1764669600000000000", "3", "2025-12-02T10:00:00.000Z", "Ann (git HEAD)"],
    ]);
    expect(patchEvents(r).map((e) => `${e.build} ${e.updateId}`)).to.deep.equal(["2 dev-1764583200000000000", "3 dev-1764669600000000000"]);
  });

  it("a stack never updated has no updates and no events", async () => {
    write("stacks/smith/dev.json", { version: 3, checkpoint: { stack: "organization/smith/dev", latest: null } });
    const r = await new FileBackendHistory(dir, "smith").read("dev");
    expect(r.updates).to.deep.equal([]);
    expect(patchEvents(r)).to.deep.equal([]);
  });
});

describe("audit: approvals recorded with an update", () => {
  it("takes `smith approve`'s who-and-when entries for the run's build, else the bare approvals", async () => {
    const { approvalsFor } = await import("../../src/audit/checkpoint");
    const config = {
      "smith:approvals": ["canary@41", "main@42", "review@42"],
      "smith:approvedBy": ["canary@41 by ann at 2026-11-01T00:00:00Z", "main@42 by bob at 2026-12-01T09:00:00Z"],
    };
    expect(approvalsFor(config, "42")).to.deep.equal(["main@42 by bob at 2026-12-01T09:00:00Z"]);
    expect(approvalsFor({ "smith:approvals": { value: '["main@42","x@420"]', objectValue: ["main@42", "x@420"] } }, "42")).to.deep.equal(["main@42"]);
    expect(approvalsFor({ "smith:approvals": "main@42" }, "42")).to.deep.equal(["main@42"]);
    expect(approvalsFor(config, null)).to.deep.equal([]);
  });
});
