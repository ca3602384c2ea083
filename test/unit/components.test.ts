import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type * as pulumiType from "@pulumi/pulumi";
import type { Machine } from "../../src/inventory/schema";
import { installMocks, plainStrings, Recorder, valueOf, PATCH_FINISHED_AT, defaultStdout } from "./components.mocks";
import { nodePatchCommand } from "../../components/fleet/node-commands";
import { ensureAgentCommand } from "../../src/agent/command";

type Fleet = typeof import("../../components/fleet");

const SHA = "ab".repeat(32);
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nsmith-test-key-material\n-----END OPENSSH PRIVATE KEY-----\n";
const HOSTKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEMwZxYNz8GKb/Ew0CxogS1x0SiHaWdk6vpZJbNlIRPF";
const AGENT = "/usr/local/lib/smith/smith-agent";
const ENSURE = ensureAgentCommand({ sudo: false, sha256: SHA, copyPath: `.smith-agent-${SHA.slice(0, 16)}` });

function machine(name: string, cluster = "c1", extra: Partial<Machine> = {}): Machine {
  return { name, host: `10.0.0.${name.length}`, environment: "dev", region: "r1", cluster, role: "worker", hostKey: HOSTKEY, ...extra };
}

describe("fleet components (Pulumi mocks)", function () {
  let rec: Recorder;
  let fleet: Fleet;
  let pulumi: typeof pulumiType;

  before(async () => {
    rec = installMocks();
    pulumi = await import("@pulumi/pulumi");
    fleet = await import("../../components/fleet");
  });
  beforeEach(() => rec.reset());

  const settings = () => ({
    repoUrl: "http://repo.example/apt",
    privateKey: pulumi.secret(KEY),
    agentSha256: SHA,
    healthTimeoutMinutes: 20,
    rebootDelaySeconds: 3,
  });

  function target(m: Machine, extra: Record<string, unknown> = {}) {
    return { machine: m, build: "42", hostKey: m.hostKey, ...extra };
  }

  describe("NodePatch", () => {
    const deps = (n: string) => rec.byName(n).dependencies.map((u) => rec.nameOfUrn(u));
    const patchLine = (extra: Record<string, unknown>) =>
      JSON.stringify({ ...JSON.parse(defaultStdout("x-patch", { create: "--build '42'" })), finishedAt: new Date().toISOString(), ...extra }) + "\n";

    it("registers the agent copy, patch and health under the node, named after it: three resources, no separate reboot", async () => {
      new fleet.NodePatch("web-1", { ...settings(), ...target(machine("web-1")) });
      await rec.settle();
      const node = rec.byName("web-1");
      expect(node.type).to.equal("smith:fleet:NodePatch");
      expect(rec.byName("web-1-agent").type).to.equal("command:remote:CopyToRemote");
      for (const step of ["patch", "health"]) {
        const r = rec.byName(`web-1-${step}`);
        expect(r.type).to.equal("command:remote:Command");
        expect(r.parentUrn).to.equal(node.urn);
      }
      expect(rec.byName("web-1-agent").parentUrn).to.equal(node.urn);
      expect(rec.resources.filter((r) => r.custom).map((r) => r.name).sort()).to.deep.equal(["web-1-agent", "web-1-health", "web-1-patch"]);
    });

    it("renders the exact command lines, every value quoted: one patch step verifies the agent, patches and schedules the reboot", async () => {
      new fleet.NodePatch("web-1", { ...settings(), patchTimeoutMinutes: 30, ...target(machine("web-1", "c1", { role: "db" })) });
      await rec.settle();
      expect(rec.byName("web-1-patch").inputs.create).to.equal(
        nodePatchCommand({ build: "42", repoUrl: "http://repo.example/apt", user: "root", agentSha256: SHA, maxRuntimeSeconds: 1800, rebootDelaySeconds: 3 }),
      );
      expect(rec.byName("web-1-patch").inputs.create).to.match(
        new RegExp(` && ${AGENT} patch --build '42' --repo 'http://repo.example/apt' --max-runtime '1800' --reboot-if-required --reboot-delay '3'$`),
      );
      // No reboot was scheduled: nothing to compare the boot id with.
      // The agent is verified before every use (issue 7 §3): health has the same prelude.
      expect(rec.byName("web-1-health").inputs.create).to.equal(`${ENSURE} && ${AGENT} health --role 'db'`);
    });

    it("uses sudo -n for a non-root user (machine user wins over sshUser)", async () => {
      new fleet.NodePatch("web-2", { ...settings(), sshUser: "ops", ...target(machine("web-2")) });
      new fleet.NodePatch("web-3", { ...settings(), sshUser: "ops", ...target(machine("web-3", "c1", { user: "root" })) });
      await rec.settle();
      expect(rec.byName("web-2-patch").inputs.create).to.match(/^sudo -n sh -c /).and.contain(`sudo -n ${AGENT} patch --build '42'`);
      expect(rec.byName("web-2-health").inputs.create).to.match(/^sudo -n /);
      expect((rec.byName("web-2-patch").inputs.connection as { user: string }).user).to.equal("ops");
      expect((rec.byName("web-3-patch").inputs.connection as { user: string }).user).to.equal("root");
      expect(rec.byName("web-3-patch").inputs.create).to.not.contain("sudo");
    });

    it("waits for the new boot (prober) only for a reboot scheduled in this update, then passes the old boot id to health", async () => {
      const calls: unknown[] = [];
      const rebootProber = async (w: unknown) => {
        calls.push(w);
        return { rebooted: true, bootId: "b00t-2", probes: 2 };
      };
      rec.behaviour.stdout = (name) => (name.endsWith("-patch") ? patchLine({ rebootRequired: true, rebooting: true, bootId: "b00t-1" }) : undefined);
      new fleet.NodePatch("web-1", { ...settings(), rebootProber, ...target(machine("web-1", "c1", { port: 2222 })) });
      await rec.settle();
      expect(rec.byName("web-1-health").inputs.create).to.equal(`${ENSURE} && ${AGENT} health --role 'worker' --boot-id-before 'b00t-1'`);
      expect(calls).to.deep.equal([
        {
          host: "10.0.0.5",
          port: 2222,
          user: "root",
          hostKey: HOSTKEY,
          bootIdBefore: "b00t-1",
          timeoutMs: 20 * 60_000,
          initialDelayMs: 3000,
          // Still the old boot 30 s after the reboot was due: the agent's health re-queues a lost one.
          nudge: { command: `${ENSURE} && ${AGENT} health --role 'worker' --boot-id-before 'b00t-1'`, afterMs: 33_000 },
        },
      ]);
      // A stored result (same finishedAt as the last update recorded): nothing is rebooting, no probe.
      rec.reset();
      calls.length = 0;
      const stored = patchLine({ rebooting: true, bootId: "b00t-1", finishedAt: PATCH_FINISHED_AT });
      rec.behaviour.stdout = (name) => (name.endsWith("-patch") ? stored : undefined);
      new fleet.NodePatch("web-1", { ...settings(), rebootProber, ...target(machine("web-1"), { previousFinishedAt: PATCH_FINISHED_AT }) });
      await rec.settle();
      expect(calls).to.deep.equal([]);
      expect(rec.byName("web-1-health").inputs.create).to.contain("--boot-id-before 'b00t-1'");
    });

    it("every resource of the chain has the same triggers: the build and the chain revision", async () => {
      const n = new fleet.NodePatch("web-1", { ...settings(), ...target(machine("web-1")) });
      await rec.settle();
      for (const step of ["agent", "patch", "health"]) expect(rec.byName(`web-1-${step}`).inputs.triggers, step).to.deep.equal(["42", n.revision]);
      const copy = rec.byName("web-1-agent");
      expect(copy.inputs.remotePath).to.equal(`.smith-agent-${SHA.slice(0, 16)}`);
    });

    // Issue 7 §4: whatever input changes, either nothing of the node changes or ALL its resources
    // are replaced (their triggers change), so the change runs through the chain in order.
    const changes: [string, Record<string, unknown>, Partial<Machine>][] = [
      ["a new build", { build: "43" }, {}],
      ["a new agent", { agentSha256: "cd".repeat(32) }, {}],
      ["another repoUrl", { repoUrl: "https://mirror2.example/apt" }, {}],
      ["another sshUser", { sshUser: "ops" }, {}],
      ["another reboot delay", { rebootDelaySeconds: 9 }, {}],
      ["another patch timeout", { patchTimeoutMinutes: 45 }, {}],
      ["another role", {}, { role: "db" }],
      ["another port", {}, { port: 2200 }],
      ["a new host key (reinstalled machine)", { hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFd7ZcqVUi5b0Ohh4eQxOoB1i3Q2m2D3UuR8h9xq6S2x" }, {}],
    ];
    for (const [what, change, machineChange] of changes) {
      it(`${what} replaces every resource of the node (triggers), never updates one step alone`, async () => {
        const render = async (c: Record<string, unknown>, mc: Partial<Machine>) => {
          rec.reset();
          new fleet.NodePatch("web-1", { ...settings(), ...target(machine("web-1", "c1", mc)), ...c });
          await rec.settle();
          return new Map(rec.resources.filter((r) => r.custom).map((r) => [r.name, r.inputs]));
        };
        const a = await render({}, {});
        const b = await render(change, machineChange);
        for (const [name, inputs] of a) {
          const other = b.get(name)!;
          expect(other.triggers, `${name} triggers`).to.not.deep.equal(inputs.triggers);
        }
      });
    }

    it("a rotated private key alone changes nothing (connection ignored, triggers equal)", async () => {
      const n1 = new fleet.NodePatch("web-1", { ...settings(), ...target(machine("web-1"), { previousBuild: "42" }) });
      const n2 = new fleet.NodePatch("web-2", { ...settings(), privateKey: pulumi.secret("other"), ...target(machine("web-2"), { previousBuild: "42", previousRev: undefined }) });
      await rec.settle();
      expect(rec.byName("web-1-patch").inputs.triggers).to.deep.equal(["42", n1.revision]);
      expect(n2.revision, "the key is not part of the revision").to.equal(n1.revision);
      for (const step of ["agent", "patch", "health"]) expect(rec.byName(`web-2-${step}`).ignoreChanges).to.deep.equal(["connection"]);
    });

    it("bounds the patch (agent --max-runtime + margin) and the health wait with explicit timeouts", async () => {
      new fleet.NodePatch("web-1", { ...settings(), patchTimeoutMinutes: 30, ...target(machine("web-1")) });
      await rec.settle();
      expect(rec.byName("web-1-patch").customTimeouts).to.deep.include({ create: "35m", update: "35m" });
      expect(rec.byName("web-1-health").customTimeouts).to.deep.include({ create: "20m", update: "20m" });
    });

    it("pins the host key, ignores connection changes and dials the healthcheck until the machine is back", async () => {
      new fleet.NodePatch("web-1", { ...settings(), ...target(machine("web-1", "c1", { port: 2222 })) });
      await rec.settle();
      for (const n of ["web-1-agent", "web-1-patch", "web-1-health"]) {
        const r = rec.byName(n);
        expect(r.ignoreChanges, n).to.deep.equal(["connection"]);
        const c = r.inputs.connection as Record<string, unknown>;
        expect(c.hostKey, n).to.equal(HOSTKEY);
        expect(c.host, n).to.equal("10.0.0.5");
        expect(c.port, n).to.equal(2222);
      }
      expect((rec.byName("web-1-health").inputs.connection as Record<string, unknown>).dialErrorLimit).to.equal(-1);
      expect((rec.byName("web-1-patch").inputs.connection as Record<string, unknown>).dialErrorLimit).to.not.equal(-1);
      expect(rec.byName("web-1-patch").inputs.addPreviousOutputInEnv).to.equal(false);
    });

    it("never registers the private key as plain text", async () => {
      new fleet.NodePatch("web-1", { ...settings(), ...target(machine("web-1")) });
      await rec.settle();
      for (const r of rec.resources) {
        expect(plainStrings(r.raw).some((s) => s.includes("smith-test-key-material")), r.name).to.equal(false);
      }
      // ...yet it does reach the provider, inside the secret.
      expect((rec.byName("web-1-patch").inputs.connection as Record<string, unknown>).privateKey).to.equal(KEY);
    });

    it("orders copy → patch → health, all after `after`", async () => {
      class Gate extends pulumi.CustomResource {
        constructor(n: string) {
          super("test:index:Gate", n, {});
        }
      }
      const gate = new Gate("gate");
      new fleet.NodePatch("web-1", { ...settings(), ...target(machine("web-1")), after: [gate] });
      await rec.settle();
      expect(deps("web-1-agent")).to.deep.equal(["gate"]);
      expect(deps("web-1-patch")).to.have.members(["web-1-agent", "gate"]);
      expect(deps("web-1-health")).to.deep.equal(["web-1-patch"]);
    });

    it("hooks: beforePatch resources wait for `after` and the patch waits for them; afterHealth ends the node", async () => {
      class Step extends pulumi.CustomResource {
        constructor(n: string, props: Record<string, unknown>, o: pulumiType.CustomResourceOptions) {
          super("test:index:Step", n, props, o);
        }
      }
      const seen: { triggers?: unknown; frozen?: boolean } = {};
      const hooks = {
        beforePatch: (ctx: import("../../components/fleet/hooks").NodeHookContext) => {
          seen.triggers = ctx.triggers;
          seen.frozen = ctx.frozen;
          return [new Step(`${ctx.name}-drain`, { triggers: ctx.triggers }, { parent: ctx.parent, dependsOn: ctx.after })];
        },
        afterHealth: (ctx: import("../../components/fleet/hooks").NodeHookContext & { health: pulumiType.Resource }) => [
          new Step(`${ctx.name}-uncordon`, { triggers: ctx.triggers }, { parent: ctx.parent, dependsOn: [ctx.health] }),
        ],
      };
      const c = new fleet.ClusterRollout("w/c1", { nodes: ["k1", "k2"].map((n) => target(machine(n))), settings: { ...settings(), hooks: () => hooks } });
      await rec.settle();
      expect(deps("k1-patch")).to.have.members(["k1-agent", "k1-drain"]);
      expect(deps("k2-drain")).to.deep.equal(["k1-uncordon"]);
      expect(deps("k2-patch")).to.have.members(["k2-agent", "k2-drain", "k1-uncordon"]);
      expect(deps("k2-uncordon")).to.deep.equal(["k2-health"]);
      expect(rec.byName("k1-drain").parentUrn).to.equal(rec.byName("k1").urn);
      expect(c.last.map((r) => (r as unknown as { __name?: string }).__name)).to.deep.equal(["k2-uncordon"]);
      expect(seen.triggers).to.deep.equal(["42", c.nodes[1].revision]);
      expect(seen.frozen).to.equal(false);
    });

    it("exposes the agent's report as outputs, with the host key fingerprint and revision", async () => {
      rec.behaviour.stdout = (name) => (name.endsWith("-patch") ? patchLine({ rebooting: true, bootId: "x", finishedAt: PATCH_FINISHED_AT }) : undefined);
      const n = new fleet.NodePatch("web-1", { ...settings(), ...target(machine("web-1"), { previousFinishedAt: PATCH_FINISHED_AT }) });
      expect(await valueOf(n.build)).to.equal("42");
      expect(await valueOf(n.finishedAt)).to.equal(PATCH_FINISHED_AT);
      expect(await valueOf(n.startedAt)).to.equal("2026-11-25T09:59:00Z");
      expect(await valueOf(n.rebooted)).to.equal(true);
      expect(await valueOf(n.packagesChanged)).to.equal(1);
      expect(n.hostKeyFingerprint).to.match(/^SHA256:/);
      // Outputs wait for the healthcheck: the stack never reports a node done before it passed.
      const d = await (n.build as unknown as { resources(): Promise<Set<unknown>> }).resources();
      expect(d.has(n.health)).to.equal(true);
      await rec.settle();
    });

    it("when the chain is replaced (new build or revision) the connection is not ignored, so a new key or host key is used", async () => {
      const probe = new fleet.NodePatch("probe", { ...settings(), ...target(machine("web-2")) });
      new fleet.NodePatch("web-1", { ...settings(), ...target(machine("web-1"), { previousBuild: "41" }) });
      new fleet.NodePatch("web-2", { ...settings(), ...target(machine("web-2"), { previousBuild: "42", previousRev: probe.revision }) });
      new fleet.NodePatch("web-3", { ...settings(), ...target(machine("web-3"), { previousBuild: "42", previousRev: "0000000000000000" }) });
      await rec.settle();
      for (const step of ["agent", "patch", "health"]) {
        expect(rec.byName(`web-1-${step}`).ignoreChanges, step).to.deep.equal([]);
        expect(rec.byName(`web-2-${step}`).ignoreChanges, step).to.deep.equal(["connection"]);
        expect(rec.byName(`web-3-${step}`).ignoreChanges, step).to.deep.equal([]);
      }
    });

    it("frozen (held) nodes ignore every input, so the stored state stays as it is", async () => {
      new fleet.NodePatch("web-1", { ...settings(), ...target(machine("web-1"), { build: "41", frozen: true }) });
      await rec.settle();
      expect((rec.byName("web-1-patch").inputs.triggers as string[])[0]).to.equal("41");
      expect(rec.byName("web-1-patch").ignoreChanges).to.include.members(["connection", "create", "triggers"]);
      expect(rec.byName("web-1-agent").ignoreChanges).to.include.members(["connection", "source", "remotePath", "triggers"]);
    });

    it("hashes the real agent by default and copies that file", async () => {
      const agentFile = path.resolve(__dirname, "../../agent/smith-agent");
      const sha = crypto.createHash("sha256").update(fs.readFileSync(agentFile)).digest("hex");
      const s = settings() as Record<string, unknown>;
      delete s.agentSha256;
      new fleet.NodePatch("web-1", { ...(s as ReturnType<typeof settings>), ...target(machine("web-1")) });
      await rec.settle();
      const copy = rec.byName("web-1-agent");
      expect(copy.inputs.remotePath).to.equal(`.smith-agent-${sha.slice(0, 16)}`);
      expect(JSON.stringify(copy.inputs.source)).to.contain("smith-agent");
    });
  });

  describe("ClusterRollout", () => {
    const deps = (n: string) => rec.byName(n).dependencies.map((u) => rec.nameOfUrn(u));

    it("chains nodes in plan order: node k+1's patch waits for node k's health", async () => {
      const nodes = ["n1", "n2", "n3"].map((n) => target(machine(n)));
      const c = new fleet.ClusterRollout("w/c1", { nodes, settings: settings() });
      await rec.settle();
      expect(rec.byName("w/c1").type).to.equal("smith:fleet:ClusterRollout");
      expect(deps("n1-patch")).to.deep.equal(["n1-agent"]);
      expect(deps("n2-patch")).to.have.members(["n2-agent", "n1-health"]);
      expect(deps("n3-patch")).to.have.members(["n3-agent", "n2-health"]);
      // The copy is in the chain too: a new agent is not copied to a whole cluster at once.
      expect(deps("n2-agent")).to.deep.equal(["n1-health"]);
      expect(c.last).to.have.length(1);
      expect(c.last[0]).to.equal(c.nodes[2].health);
      expect(rec.byName("n2").parentUrn).to.equal(rec.byName("w/c1").urn);
    });

    it("runs `concurrency` chains side by side", async () => {
      const nodes = ["n1", "n2", "n3", "n4", "n5"].map((n) => target(machine(n)));
      const c = new fleet.ClusterRollout("w/c1", { nodes, concurrency: 2, settings: settings() });
      await rec.settle();
      expect(deps("n1-patch")).to.deep.equal(["n1-agent"]);
      expect(deps("n2-patch")).to.deep.equal(["n2-agent"]);
      expect(deps("n3-patch")).to.have.members(["n3-agent", "n1-health"]);
      expect(deps("n4-patch")).to.have.members(["n4-agent", "n2-health"]);
      expect(deps("n5-patch")).to.have.members(["n5-agent", "n3-health"]);
      expect(c.last).to.have.members([c.nodes[4].health, c.nodes[3].health]);
    });
  });

  describe("PatchWave", () => {
    const deps = (n: string) => rec.byName(n).dependencies.map((u) => rec.nameOfUrn(u));

    it("runs clusters independently and each wave after every chain of the previous one", async () => {
      const w1 = new fleet.PatchWave("one", {
        clusters: [
          { cluster: "a", nodes: ["a1", "a2"].map((n) => target(machine(n, "a"))) },
          { cluster: "b", nodes: ["b1", "b2", "b3"].map((n) => target(machine(n, "b"))), concurrency: 2 },
        ],
        settings: settings(),
      });
      const w2 = new fleet.PatchWave("two", {
        clusters: [
          { cluster: "a", nodes: [target(machine("a3", "a"))] },
          { cluster: "c", nodes: [target(machine("c1", "c"))] },
        ],
        settings: settings(),
        after: w1.last,
      });
      await rec.settle();
      expect(rec.byName("one").type).to.equal("smith:fleet:PatchWave");
      expect(rec.byName("one/a").parentUrn).to.equal(rec.byName("one").urn);
      // Within wave one, cluster b does not wait for cluster a.
      expect(deps("b1-patch")).to.deep.equal(["b1-agent"]);
      expect(deps("a1-patch")).to.deep.equal(["a1-agent"]);
      // Wave two waits for the end of every chain of wave one: a2, b2 (chain 2) and b3 (chain 1).
      for (const first of ["a3-patch", "c1-patch"]) {
        expect(deps(first)).to.have.members([first.replace("-patch", "-agent"), "a2-health", "b2-health", "b3-health"]);
      }
      expect(w2.last).to.have.length(2);
    });

    it("skips empty clusters and passes `after` through a wave without nodes", async () => {
      const gate = new pulumi.ComponentResource("test:gate:Gate", "gate");
      const w = new fleet.PatchWave("held", { clusters: [{ cluster: "a", nodes: [] }], settings: settings(), after: [gate], held: true });
      await rec.settle();
      expect(w.clusters).to.have.length(0);
      expect(w.last).to.deep.equal([gate]);
      expect(rec.resources.filter((r) => r.type === "smith:fleet:ClusterRollout")).to.have.length(0);
    });
  });

  it("mock default stdout matches the agent contract", () => {
    expect(JSON.parse(defaultStdout("x-patch", { create: "... --build '7' ..." })).build).to.equal("7");
  });
});
