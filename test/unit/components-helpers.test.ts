import { expect } from "chai";
import fc from "fast-check";
import { chainIndexes } from "../../components/fleet/chains";
import { ensureAgentCommand } from "../../src/agent/command";
import { rebootOutcome } from "../../components/fleet/reports";
import {
  agentCopyPath,
  chainRevision,
  hostKeyFingerprint,
  isFreshPatch,
  nodeHealthCommand,
  nodePatchCommand,
  needsSudo,
  rebootProbeDelayMs,
} from "../../components/fleet/node-commands";
import { asRollout, decideWaves, GateInputs } from "../../components/fleet/gates";
import { asNodeRecords, sameMachine, nodesOutput, rolloutOutput, rolloutWaves, unassignedOutput, UNASSIGNED_OUTPUT_LIMIT, NodeResult } from "../../components/fleet/rollout";
import type { Machine } from "../../src/inventory/schema";
import type { Plan, PlanWave } from "../../src/plan/types";

const SHA = "0123456789abcdef".repeat(4);

describe("fleet helpers (pure)", () => {
  describe("node commands", () => {
    it("one patch step: verified agent, patch, reboot scheduled in the same run; every value quoted", () => {
      const cmd = nodePatchCommand({ build: "42", repoUrl: "http://r/x'; rm -rf / #", user: "root", agentSha256: SHA, rebootDelaySeconds: 3, maxRuntimeSeconds: 1800 });
      expect(cmd).to.equal(
        `${ensureAgentCommand({ sudo: false, sha256: SHA, copyPath: agentCopyPath(SHA) })} && /usr/local/lib/smith/smith-agent patch --build '42' --repo 'http://r/x'\\''; rm -rf / #' --max-runtime '1800' --reboot-if-required --reboot-delay '3'`,
      );
      expect(nodePatchCommand({ build: "42", repoUrl: "http://r", user: "ops", agentSha256: SHA })).to.match(/^sudo -n sh -c [\s\S]* && sudo -n \/usr\/local\/lib\/smith\/smith-agent patch /);
    });

    it("reads the reboot the patch step scheduled from its line; no fields = no reboot; an agent error line fails", () => {
      const line = (extra: Record<string, unknown>) =>
        JSON.stringify({ build: "42", previous: "41", noop: false, changed: [], changedCount: 0, rebootRequired: true, attempts: 1, startedAt: "a", finishedAt: "b", durationMs: 5, ...extra });
      expect(rebootOutcome(line({ rebooting: true, bootId: "b00t" }))).to.deep.equal({ rebooting: true, bootId: "b00t" });
      expect(rebootOutcome(line({}))).to.deep.equal({ rebooting: false, bootId: "" });
      expect(() => rebootOutcome('{"error":"agent x is neither installed nor copied","exitCode":11}')).to.throw(/exit 11/);
    });

    it("fingerprints host keys like OpenSSH, and every chain input changes the revision", () => {
      expect(hostKeyFingerprint(undefined)).to.equal("none");
      // ssh-keygen -lf on this key prints SHA256:... — the same digest of the key blob.
      expect(hostKeyFingerprint("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEMwZxYNz8GKb/Ew0CxogS1x0SiHaWdk6vpZJbNlIRPF c")).to.match(/^SHA256:[A-Za-z0-9+/]{43}$/);
      const base = { repoUrl: "http://r", user: "root", host: "h", port: 22, role: "w", agentSha256: SHA, rebootDelaySeconds: 2, maxRuntimeSeconds: 1800, hostKeyFingerprint: "SHA256:x" };
      const rev = chainRevision(base);
      expect(rev).to.match(/^[0-9a-f]{16}$/);
      for (const change of [{ repoUrl: "http://s" }, { user: "ops" }, { host: "h2" }, { port: 2222 }, { role: "db" }, { agentSha256: "f".repeat(64) }, { rebootDelaySeconds: 3 }, { maxRuntimeSeconds: 60 }, { hostKeyFingerprint: "SHA256:y" }]) {
        expect(chainRevision({ ...base, ...change }), JSON.stringify(change)).to.not.equal(rev);
      }
    });

    it("a record written through another host key is not this machine's (reinstalled)", () => {
      const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEMwZxYNz8GKb/Ew0CxogS1x0SiHaWdk6vpZJbNlIRPF";
      const rec = { build: "42", rebooted: false, finishedAt: "t", changed: 0 };
      expect(sameMachine({ ...rec, hostKey: hostKeyFingerprint(key) }, key)).to.deep.include({ build: "42" });
      expect(sameMachine({ ...rec, hostKey: "SHA256:old" }, key)).to.equal(undefined);
      expect(sameMachine(rec, key), "older outputs without hostKey").to.deep.equal(rec);
    });

    it("content-addresses the agent copy and rejects anything but a sha256", () => {
      expect(agentCopyPath(SHA)).to.equal(".smith-agent-0123456789abcdef");
      expect(() => agentCopyPath("../../etc/passwd")).to.throw(/not a sha256/);
    });

    it("sudo only for non-root users", () => {
      expect(needsSudo("root")).to.equal(false);
      expect(needsSudo("ops")).to.equal(true);
    });

    it("passes the boot id only when a reboot was scheduled", () => {
      expect(nodeHealthCommand({ role: "db", user: "root", reboot: { rebooting: false, bootId: "b" } })).to.equal(
        "/usr/local/lib/smith/smith-agent health --role 'db'",
      );
      expect(nodeHealthCommand({ role: "db", user: "ops", reboot: { rebooting: true, bootId: "b" } })).to.equal(
        "sudo -n /usr/local/lib/smith/smith-agent health --role 'db' --boot-id-before 'b'",
      );
    });

    it("probes for the new boot only for a reboot scheduled in this update, from the reboot delay on", () => {
      expect(rebootProbeDelayMs({ rebooting: true, fresh: true, delaySeconds: 3, dryRun: false })).to.equal(3_000);
      expect(rebootProbeDelayMs({ rebooting: true, fresh: true, dryRun: false })).to.equal(5_000);
      expect(rebootProbeDelayMs({ rebooting: true, fresh: false, delaySeconds: 3, dryRun: false })).to.equal(undefined);
      expect(rebootProbeDelayMs({ rebooting: false, fresh: true, delaySeconds: 3, dryRun: false })).to.equal(undefined);
      expect(rebootProbeDelayMs({ rebooting: true, fresh: true, delaySeconds: 3, dryRun: true })).to.equal(undefined);
    });
  });

  describe("fresh patch reports", () => {
    const start = new Date("2026-11-25T12:00:00Z");
    const cases: [string, string | null, string | undefined, boolean][] = [
      ["ran in this update", "2026-11-25T12:05:00Z", "2026-11-20T00:00:00Z", true],
      ["first run ever", "2026-11-25T12:05:00Z", undefined, true],
      ["machine clock a little behind", "2026-11-25T11:55:00Z", undefined, true],
      ["stored result the outputs know", "2026-11-25T12:05:00Z", "2026-11-25T12:05:00Z", false],
      ["stored result of a failed earlier update", "2026-11-25T09:00:00Z", "2026-11-20T00:00:00Z", false],
      ["no time at all", null, undefined, false],
    ];
    for (const [what, finishedAt, previousFinishedAt, fresh] of cases) {
      it(`${what}: ${fresh ? "fresh" : "stored"}`, () => {
        expect(isFreshPatch({ finishedAt, previousFinishedAt, programStartedAt: start })).to.equal(fresh);
      });
    }
  });

  describe("chains", () => {
    it("one chain at concurrency 1", () => {
      expect(chainIndexes(3)).to.deep.equal([
        { chain: 0, previous: undefined },
        { chain: 0, previous: 0 },
        { chain: 0, previous: 1 },
      ]);
    });

    it("property: every node waits for the node `concurrency` before it; chains are disjoint", () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 8 }), (n, c) => {
          const ch = chainIndexes(n, c);
          ch.forEach((x, i) => {
            expect(x.previous).to.equal(i >= c ? i - c : undefined);
            if (x.previous !== undefined) expect(ch[x.previous].chain).to.equal(x.chain);
          });
          expect(new Set(ch.map((x) => x.chain)).size).to.equal(Math.min(n, c));
        }),
      );
    });

    it("rejects a bad concurrency", () => {
      expect(() => chainIndexes(3, 0)).to.throw(/positive integer/);
    });
  });

  describe("gates", () => {
    const wave = (name: string, gate: PlanWave["gate"] = null, phase?: PlanWave["phase"]): PlanWave => ({ name, gate, clusters: [], ...(phase ? { phase } : {}) });
    const inputs = (over: Partial<GateInputs> = {}): GateInputs => ({
      build: "42",
      approvals: [],
      soakRollouts: new Map(),
      now: new Date("2026-11-25T12:00:00Z"),
      stackOrg: "organization",
      project: "smith",
      ...over,
    });
    const plan = (waves: PlanWave[]): Plan => ({ build: "42", waves, unassigned: [] });

    it("a closed gate holds its wave and every later one", () => {
      const d = decideWaves(plan([wave("a"), wave("b", { approval: true }), wave("c")]), inputs());
      expect(d).to.deep.equal([
        { wave: "a", held: false, reason: undefined },
        { wave: "b", held: true, reason: "approval gate: smith:approvals has no b@42" },
        { wave: "c", held: true, reason: "earlier wave b is held" },
      ]);
    });

    it("approval of a phased wave: per phase or for the whole wave", () => {
      const w = [wave("h/phase-1", { approval: true }, { index: 1, of: 2, wave: "h" }), wave("h/phase-2", { approval: true }, { index: 2, of: 2, wave: "h" })];
      expect(decideWaves(plan(w), inputs({ approvals: ["h@42"] })).map((x) => x.held)).to.deep.equal([false, false]);
      const d = decideWaves(plan(w), inputs({ approvals: ["h/phase-1@42"] }));
      expect(d.map((x) => x.held)).to.deep.equal([false, true]);
      expect(d[1].reason).to.equal("approval gate: smith:approvals has no h/phase-2@42 (or h@42)");
    });

    it("approval for another build does not count", () => {
      expect(decideWaves(plan([wave("b", { approval: true })]), inputs({ approvals: ["b@41"] }))[0].held).to.equal(true);
    });

    it("both gates: both reasons", () => {
      const d = decideWaves(plan([wave("b", { approval: true, soak: { hours: 1, stack: "dev" } })]), inputs());
      expect(d[0].reason).to.equal("approval gate: smith:approvals has no b@42; soak gate (1h on organization/smith/dev): organization/smith/dev has no rollout output yet");
    });

    it("soak opens exactly at `hours`", () => {
      const r = (finishedAt: string) => inputs({ soakRollouts: new Map([["dev", { build: "42", complete: true, finishedAt }]]) });
      const w = [wave("p", { approval: false, soak: { hours: 24, stack: "dev" } })];
      expect(decideWaves(plan(w), r("2026-11-24T12:00:00Z"))[0].held).to.equal(false);
      expect(decideWaves(plan(w), r("2026-11-24T12:00:01Z"))[0].held).to.equal(true);
      expect(decideWaves(plan(w), r("garbage"))[0].reason).to.contain("reports no finish time");
    });

    it("asRollout treats malformed outputs as absent", () => {
      expect(asRollout("x")).to.equal(undefined);
      expect(asRollout({ build: 42, complete: true })).to.equal(undefined);
      expect(asRollout({ build: "1", complete: false })).to.deep.equal({ build: "1", complete: false, finishedAt: null, nodes: 0, held: [] });
    });
  });

  describe("rollout inputs and outputs", () => {
    const m = (name: string): Machine => ({ name, host: "h", environment: "e", region: "r", cluster: "c", role: "w" });
    const machines = new Map(["a", "b", "c", "d"].map((n) => [n, m(n)]));
    const plan: Plan = {
      build: "42",
      waves: [
        { name: "one", gate: null, clusters: [{ cluster: "c", nodes: ["a", "b"], concurrency: 2 }] },
        { name: "two", gate: { approval: true, soak: { hours: 1, stack: "dev" } }, clusters: [{ cluster: "c", nodes: ["c", "d"] }] },
      ],
      unassigned: [],
    };
    const previous = asNodeRecords({ a: { build: "41", rebooted: false, finishedAt: "T0", changed: 1 }, c: { build: "41", finishedAt: null }, bad: { build: 1 } });

    it("asNodeRecords keeps well-formed entries only", () => {
      expect([...previous.keys()]).to.deep.equal(["a", "c"]);
      expect(asNodeRecords(null).size).to.equal(0);
    });

    it("running waves patch all planned nodes; held waves only previously patched ones, frozen", () => {
      const w = rolloutWaves(
        plan,
        machines,
        [
          { wave: "one", held: false },
          { wave: "two", held: true, reason: "approval gate" },
        ],
        previous,
        new Map([["a", "KEY"]]),
      );
      expect(w[0].clusters[0]).to.deep.equal({
        cluster: "c",
        concurrency: 2,
        nodes: [
          { machine: m("a"), hostKey: "KEY", previousFinishedAt: "T0", previousBuild: "41", previousRev: undefined, build: "42" },
          { machine: m("b"), hostKey: undefined, previousFinishedAt: undefined, previousBuild: undefined, previousRev: undefined, build: "42" },
        ],
      });
      expect(w[1]).to.deep.include({ name: "two", held: true, reason: "approval gate", soakStack: "dev", planned: 2, registered: 1 });
      expect(w[1].clusters[0].nodes).to.deep.equal([{ machine: m("c"), hostKey: undefined, previousFinishedAt: undefined, previousBuild: "41", previousRev: undefined, build: "41", frozen: true }]);
    });

    it("rollout output: complete only without held waves; finishedAt is the latest of this build", () => {
      const results: NodeResult[] = [
        { name: "b", build: "42", rebooted: true, finishedAt: "2026-11-25T10:00:00Z", packagesChanged: 2, frozen: false, hostKey: "SHA256:b", rev: "r1" },
        { name: "a", build: "42", rebooted: false, finishedAt: "2026-11-25T11:00:00Z", packagesChanged: 0, frozen: false, hostKey: "none", rev: "r1" },
        { name: "c", build: "41", rebooted: false, finishedAt: "2026-11-25T12:00:00Z", packagesChanged: 0, frozen: true, hostKey: "none", rev: "r0" },
      ];
      const waves = rolloutWaves(plan, machines, [{ wave: "one", held: false }, { wave: "two", held: true }], previous, new Map());
      expect(rolloutOutput("42", waves, results)).to.deep.equal({ build: "42", complete: false, finishedAt: "2026-11-25T11:00:00Z", nodes: 3, held: ["two"] });
      expect(Object.keys(nodesOutput(results))).to.deep.equal(["a", "b", "c"]);
      expect(nodesOutput(results).b).to.deep.equal({ build: "42", rebooted: true, finishedAt: "2026-11-25T10:00:00Z", changed: 2, hostKey: "SHA256:b", rev: "r1" });
      // Round trip: the next run reads what this one wrote.
      expect(asNodeRecords(nodesOutput(results)).get("b")).to.deep.equal(nodesOutput(results).b);
    });

    it("a reinstalled machine (another host key than its record) is new: patched in a running wave, not registered in a held one", () => {
      const KEY2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEMwZxYNz8GKb/Ew0CxogS1x0SiHaWdk6vpZJbNlIRPF";
      const prev = asNodeRecords({
        a: { build: "42", rebooted: false, finishedAt: "T0", changed: 1, hostKey: "SHA256:old", rev: "r" },
        c: { build: "41", rebooted: false, finishedAt: "T1", changed: 1, hostKey: "SHA256:old", rev: "r" },
      });
      const keys = new Map([["a", KEY2], ["c", KEY2]]);
      const w = rolloutWaves(plan, machines, [{ wave: "one", held: false }, { wave: "two", held: true }], prev, keys);
      // Running wave: the record is passed on; NodePatch's revision (with the new host key) differs from `rev`.
      expect(w[0].clusters[0].nodes[0]).to.deep.include({ build: "42", previousBuild: "42", previousRev: "r" });
      expect(w[1].registered).to.equal(0);
    });

    it("caps the unassigned list", () => {
      const many: Plan = { build: "1", waves: [], unassigned: Array.from({ length: 70 }, (_, i) => ({ name: `m${i}`, reason: "r" })) };
      const u = unassignedOutput(many);
      expect(u.count).to.equal(70);
      expect(u.machines).to.have.length(UNASSIGNED_OUTPUT_LIMIT);
    });
  });
});

describe("remote commands with a plain connection (components/fleet/remote-plain.ts)", () => {
  it("refuses a connection that carries a key, a password or a proxy", async () => {
    const { PlainRemoteCommand, PlainCopyToRemote } = await import("../../components/fleet/remote-plain");
    expect(() => new PlainRemoteCommand("x", { connection: { host: "h", privateKey: "k" }, create: "true" })).to.throw(/x: a connection with a key, password or proxy must stay secret/);
    expect(() => new PlainCopyToRemote("y", { connection: { host: "h", password: "p" }, source: "s" as never, remotePath: "/r" })).to.throw(/y: a connection with a key/);
  });
});
