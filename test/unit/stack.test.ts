import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as sinon from "sinon";
import type * as pulumiType from "@pulumi/pulumi";
import { installMocks, Recorder, valueOf, PATCH_FINISHED_AT } from "./components.mocks";

type Program = typeof import("../../stacks/program");

const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEMwZxYNz8GKb/Ew0CxogS1x0SiHaWdk6vpZJbNlIRPF";
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nstack-test-key\n-----END OPENSSH PRIVATE KEY-----\n";
const NOW = new Date("2026-11-25T12:00:00Z");
/** A real stack's environment: its own backend and passphrase file (the program checks both). */
const REAL_ENV = { PULUMI_BACKEND_URL: "s3://fleet-state/smith", PULUMI_CONFIG_PASSPHRASE_FILE: "/run/secrets/smith" };

const machine = (name: string, cluster: string, role = "worker", hostKey: string | null = ED) =>
  `  - { name: ${name}, host: 10.1.0.${name.length}, environment: dev, region: r1, cluster: ${cluster}, role: ${role}${hostKey ? `, hostKey: ${hostKey}` : ""} }`;

const INVENTORY = ["machines:", machine("t1", "dev-test", "test"), ...["a1", "a2", "a3"].map((n) => machine(n, "a")), ...["b1", "b2"].map((n) => machine(n, "b")), machine("x9", "other", "db")].join("\n");

const WAVES = `
scope: { role: [test, worker] }
waves:
  - name: test
    select: { role: test }
  - name: main
    select: { cluster: a }
    gate: { approval: true }
  - name: last
`;

const SOAK_WAVES = `
waves:
  - name: canary
    select: { role: test }
    gate: { soak: { hours: 24, stack: staging } }
  - name: rest
    optional: true
`;

describe("stack program (stacks/program.ts, Pulumi mocks)", function () {
  let rec: Recorder;
  let program: Program;
  let pulumi: typeof pulumiType;
  let dir: string;
  let warn: sinon.SinonStub;
  let info: sinon.SinonStub;

  before(async () => {
    rec = installMocks({ stack: "dev" });
    pulumi = await import("@pulumi/pulumi");
    program = await import("../../stacks/program");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-stack-"));
    fs.writeFileSync(path.join(dir, "inv.yaml"), INVENTORY);
    fs.writeFileSync(path.join(dir, "waves.yaml"), WAVES);
    fs.writeFileSync(path.join(dir, "soak.yaml"), SOAK_WAVES);
    fs.writeFileSync(path.join(dir, "key"), KEY);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    rec.reset();
    warn = sinon.stub(pulumi.log, "warn").resolves();
    info = sinon.stub(pulumi.log, "info").resolves();
  });
  afterEach(() => sinon.restore());

  function configure(extra: Record<string, string> = {}, secret: string[] = []) {
    const values: Record<string, string> = {
      "smith:build": "42",
      "smith:inventory": "inv.yaml",
      "smith:waves": "waves.yaml",
      "smith:repoUrl": "http://127.0.0.1:8080/apt",
      "smith:sshPrivateKeyPath": "key",
      ...extra,
    };
    for (const k of Object.keys(values)) if (values[k] === "") delete values[k];
    pulumi.runtime.setAllConfig(values, secret);
  }

  async function run(): Promise<Record<string, unknown>> {
    const outputs = await program.main({ projectDir: dir, now: () => NOW, env: REAL_ENV });
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(outputs)) resolved[k] = pulumi.Output.isInstance(v) ? await valueOf(v) : v;
    await rec.settle();
    return resolved;
  }

  const patched = () =>
    rec
      .ofType("command:remote:Command")
      .filter((r) => r.name.endsWith("-patch"))
      .map((r) => r.name.replace(/-patch$/, ""))
      .sort();
  const deps = (n: string) => rec.byName(n).dependencies.map((u) => rec.nameOfUrn(u));

  it("patches every planned machine in wave order when all gates are open", async () => {
    configure({ "smith:approvals": '["main@42"]' });
    const out = await run();
    expect(patched()).to.deep.equal(["a1", "a2", "a3", "b1", "b2", "t1"]);
    expect(rec.ofType("smith:fleet:PatchWave").map((r) => r.name)).to.deep.equal(["test", "main", "last"]);
    // main waits for test; last waits for main's chain end.
    expect(deps("a1-patch")).to.have.members(["a1-agent", "t1-health"]);
    expect(deps("b1-patch")).to.have.members(["b1-agent", "a3-health"]);
    expect(out.build).to.equal("42");
    expect(out.rollout).to.deep.equal({ build: "42", complete: true, finishedAt: PATCH_FINISHED_AT, nodes: 6, held: [] });
    const a2 = (out.nodes as Record<string, Record<string, unknown>>).a2;
    expect(a2).to.deep.include({ build: "42", rebooted: false, finishedAt: PATCH_FINISHED_AT, changed: 1 });
    // Each node records the host key it was patched through (a reinstall is then noticed) and its chain revision.
    expect(a2.hostKey).to.match(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(a2.rev).to.equal((rec.byName("a2-patch").inputs.triggers as string[])[1]);
    expect(out.waves).to.deep.equal([
      { name: "test", held: false, clusters: 1, planned: 1, registered: 1 },
      { name: "main", held: false, clusters: 1, planned: 3, registered: 3 },
      { name: "last", held: false, clusters: 1, planned: 2, registered: 2 },
    ]);
    expect(out.unassigned).to.deep.equal({ count: 1, machines: [{ name: "x9", reason: "role db is not in scope of " + path.join(dir, "waves.yaml") }] });
    // The self-reference (previous outputs) is read from this stack, file-backend style.
    expect(rec.ofType("pulumi:pulumi:StackReference").map((r) => r.inputs.name)).to.deep.equal(["organization/smith/dev"]);
    // Host keys come from the inventory.
    for (const r of rec.resources.filter((x) => x.custom && x.type.startsWith("command:"))) {
      expect((r.inputs.connection as Record<string, unknown>).hostKey, r.name).to.equal(ED);
    }
    // The key stays in the program: commands log in through its SSH agent; no resource holds it.
    const conn = rec.byName("a1-patch").inputs.connection as Record<string, unknown>;
    expect(conn.privateKey).to.equal(undefined);
    expect(conn.agentSocketPath).to.match(/smith-ssh-.*\/agent\.sock$/);
    expect(fs.statSync(path.dirname(String(conn.agentSocketPath))).mode & 0o077).to.equal(0);
    for (const r of rec.resources) expect(JSON.stringify(r.raw), r.name).to.not.contain("stack-test-key");
  });

  it("holds an unapproved wave and every later one: never-patched nodes are not registered", async () => {
    configure();
    const out = await run();
    expect(patched()).to.deep.equal(["t1"]);
    expect(out.rollout).to.deep.include({ complete: false, held: ["main", "last"], nodes: 1 });
    const msgs = warn.getCalls().map((c) => String(c.args[0]));
    expect(msgs.some((m) => m.startsWith("wave main is HELD: approval gate: smith:approvals has no main@42"))).to.equal(true, msgs.join("\n"));
    expect(info.getCalls().map((c) => String(c.args[0]))).to.include("wave last is HELD: earlier wave main is held; 2 node(s) wait");
  });

  it("keeps already-patched nodes of a held wave exactly as they are (previous build, frozen)", async () => {
    configure();
    rec.behaviour.stackOutputs = {
      "organization/smith/dev": {
        nodes: {
          a1: { build: "41", rebooted: true, finishedAt: "2026-11-20T00:00:00Z", changed: 3 },
          b2: { build: "41", rebooted: false, finishedAt: "2026-11-20T00:00:00Z", changed: 0 },
        },
      },
    };
    rec.behaviour.stdout = (name) =>
      /^(a1|b2)-patch$/.test(name)
        ? JSON.stringify({ build: "41", previous: "40", noop: false, changed: [], changedCount: 3, rebootRequired: false, attempts: 1, startedAt: "x", finishedAt: "2026-11-20T00:00:00Z", durationMs: 1 })
        : undefined;
    const out = await run();
    expect(patched()).to.deep.equal(["a1", "b2", "t1"]);
    expect((rec.byName("a1-patch").inputs.triggers as string[])[0]).to.equal("41");
    expect(rec.byName("a1-patch").inputs.create).to.contain("--build '41'");
    expect(rec.byName("a1-patch").ignoreChanges).to.include.members(["create", "triggers", "connection"]);
    expect(rec.byName("t1-patch").ignoreChanges).to.deep.equal(["connection"]);
    expect((out.nodes as Record<string, { build: string }>).a1.build).to.equal("41");
    expect(out.rollout).to.deep.include({ complete: false, finishedAt: PATCH_FINISHED_AT, nodes: 3 });
    expect(out.waves).to.deep.include({ name: "main", held: true, reason: "approval gate: smith:approvals has no main@42", clusters: 1, planned: 3, registered: 1 });
  });

  it("records one stack frame per resource, the component code that made it (less state per machine)", async () => {
    configure({ "smith:approvals": '["main@42"]' });
    await run();
    const patch = rec.byName("a1-patch");
    expect(patch.stackFrames).to.equal(1);
    expect(patch.sourcePosition).to.match(/components\/fleet\/node-patch\.ts:\d+$/);
  });

  describe("dynamic fleet (issue 9 §9)", () => {
    it("patches again a machine reinstalled under the same name (new host key, back at an old build)", async () => {
      configure({ "smith:approvals": '["main@42"]' });
      const first = await run();
      const nodes = first.nodes as Record<string, Record<string, unknown>>;
      const oldTriggers = rec.byName("a2-patch").inputs.triggers;
      // Next run: same build; a2 was reinstalled: the inventory has its new host key.
      const NEW_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFd7ZcqVUi5b0Ohh4eQxOoB1i3Q2m2D3UuR8h9xq6S2x";
      fs.writeFileSync(path.join(dir, "reinstalled.yaml"), INVENTORY.split("\n").map((l) => (l.includes("name: a2,") ? l.replace(ED, NEW_KEY) : l)).join("\n"));
      rec.reset();
      configure({ "smith:approvals": '["main@42"]', "smith:inventory": "reinstalled.yaml" });
      rec.behaviour.stackOutputs = { "organization/smith/dev": { nodes } };
      await run();
      expect(rec.byName("a2-patch").inputs.triggers, "a2's chain is replaced").to.not.deep.equal(oldTriggers);
      expect((rec.byName("a2-health").inputs.connection as Record<string, unknown>).hostKey).to.equal(NEW_KEY);
      // a2 is a new machine: its chain is replaced with the current connection (the new host key).
      for (const step of ["agent", "patch", "health"]) {
        expect(rec.byName(`a2-${step}`).ignoreChanges, `a2-${step}`).to.deep.equal([]);
        expect(rec.byName(`a1-${step}`).ignoreChanges, `a1-${step}`).to.deep.equal(["connection"]);
      }
    });

    it("drops a machine removed from the inventory without touching it (nothing registered, gone from the outputs)", async () => {
      configure({ "smith:approvals": '["main@42"]' });
      const first = (await run()).nodes as Record<string, unknown>;
      fs.writeFileSync(path.join(dir, "fewer.yaml"), INVENTORY.split("\n").filter((l) => !l.includes("name: a2,")).join("\n"));
      rec.reset();
      configure({ "smith:approvals": '["main@42"]', "smith:inventory": "fewer.yaml" });
      rec.behaviour.stackOutputs = { "organization/smith/dev": { nodes: first } };
      const out = await run();
      expect(rec.resources.filter((r) => r.name.startsWith("a2"))).to.deep.equal([]);
      expect(Object.keys(out.nodes as object)).to.not.include("a2");
      // The chain closes over the gap: a3 follows a1.
      expect(deps("a3-patch")).to.include("a1-health");
    });
  });

  describe("soak gates", () => {
    const rollout = (finishedAt: string, extra: Record<string, unknown> = {}) => ({
      "acme/smith/staging": { rollout: { build: "42", complete: true, finishedAt, nodes: 10, held: [], ...extra } },
    });

    it("opens after the soak stack finished this build long enough ago (org configurable)", async () => {
      configure({ "smith:waves": "soak.yaml", "smith:stackOrg": "acme" });
      rec.behaviour.stackOutputs = rollout("2026-11-24T11:00:00Z");
      const out = await run();
      expect(patched()).to.deep.equal(["a1", "a2", "a3", "b1", "b2", "t1", "x9"]);
      expect((out.rollout as { complete: boolean }).complete).to.equal(true);
      // The canary wave depends on its gate (the soak StackReference).
      expect(deps("t1-patch")).to.include("stack-staging");
      expect(rec.ofType("pulumi:pulumi:StackReference").map((r) => r.inputs.name)).to.have.members(["acme/smith/dev", "acme/smith/staging"]);
    });

    const heldCases: [string, Record<string, Record<string, unknown>> | undefined, string][] = [
      ["too recent", rollout("2026-11-25T09:00:00Z"), "finished build 42 at 2026-11-25T09:00:00Z, 3.0h ago; opens at 2026-11-26T09:00:00.000Z"],
      ["another build", { "acme/smith/staging": { rollout: { build: "41", complete: true, finishedAt: "2026-11-01T00:00:00Z" } } }, "is at build 41, not 42"],
      ["incomplete", rollout("2026-11-01T00:00:00Z", { complete: false, held: ["rest"] }), "has not completed build 42 (held: rest)"],
      ["no output", undefined, "has no rollout output yet"],
    ];
    for (const [what, outputs, reason] of heldCases) {
      it(`holds when the soak stack's rollout is ${what}`, async () => {
        configure({ "smith:waves": "soak.yaml", "smith:stackOrg": "acme" });
        rec.behaviour.stackOutputs = outputs;
        const out = await run();
        expect(patched()).to.deep.equal([]);
        expect(out.rollout).to.deep.include({ complete: false, held: ["canary", "rest"], finishedAt: null });
        const msg = String(warn.firstCall?.args[0]);
        expect(msg).to.contain("wave canary is HELD: soak gate (24h on acme/smith/staging)");
        expect(msg).to.contain(reason);
      });
    }
  });

  describe("user errors become one RunError line", () => {
    async function failure(): Promise<Error> {
      try {
        await program.main({ projectDir: dir, now: () => NOW, env: REAL_ENV });
      } catch (e) {
        return e as Error;
      }
      throw new Error("expected the program to fail");
    }

    it("bad config", async () => {
      configure({ "smith:build": "" });
      const e = await failure();
      expect(pulumi.RunError.isInstance(e)).to.equal(true);
      expect(e.message).to.equal("config: smith:build: is required");
    });

    it("a plain-text private key", async () => {
      configure({ "smith:sshPrivateKeyPath": "", "smith:sshPrivateKey": KEY });
      const e = await failure();
      expect(e.message).to.contain("smith:sshPrivateKey: must be stored as a secret");
      expect(e.message).to.not.contain("stack-test-key");
    });

    it("a missing key file", async () => {
      configure({ "smith:sshPrivateKeyPath": "nope" });
      expect((await failure()).message).to.equal(`${path.join(dir, "nope")}: cannot read smith:sshPrivateKeyPath key file (ENOENT)`);
    });

    it("a machine without a host key", async () => {
      fs.writeFileSync(path.join(dir, "nokey.yaml"), ["machines:", machine("t1", "dev-test", "test", null)].join("\n"));
      configure({ "smith:inventory": "nokey.yaml", "smith:waves": "soak.yaml" });
      expect((await failure()).message).to.contain("inventory: machine t1: no hostKey in the inventory");
    });

    it("a bad inventory path", async () => {
      configure({ "smith:inventory": '["missing.yaml"]' });
      expect((await failure()).message).to.equal(`${path.join(dir, "missing.yaml")}: cannot read inventory file (ENOENT)`);
    });
  });

  it("reads the secret key with requireSecret and host keys from smith:knownHosts", async () => {
    fs.writeFileSync(path.join(dir, "nokey.yaml"), ["machines:", machine("t1", "dev-test", "test", null)].join("\n"));
    fs.writeFileSync(path.join(dir, "known_hosts"), `10.1.0.2 ${ED}\n`);
    configure(
      { "smith:inventory": "nokey.yaml", "smith:knownHosts": "known_hosts", "smith:sshPrivateKeyPath": "", "smith:sshPrivateKey": KEY, "smith:waves": "soak.yaml" },
      ["smith:sshPrivateKey"],
    );
    rec.behaviour.stackOutputs = { "organization/smith/staging": { rollout: { build: "42", complete: true, finishedAt: "2026-11-01T00:00:00Z" } } };
    await run();
    const c = rec.byName("t1-patch").inputs.connection as Record<string, unknown>;
    expect(c.hostKey).to.equal(ED);
    // The secret key went to the program's SSH agent, not into the connection.
    expect(c.privateKey).to.equal(undefined);
    expect(fs.existsSync(String(c.agentSocketPath))).to.equal(true);
  });

  describe("lab conveniences never reach a real stack (issue 7 §1)", () => {
    async function refusal(env: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Promise<string> {
      configure(extra);
      try {
        await program.main({ projectDir: dir, now: () => NOW, env });
      } catch (e) {
        expect(rec.resources.filter((r) => r.custom), "nothing registered").to.deep.equal([]);
        expect((e as Error).message).to.not.contain("\n");
        return (e as Error).message;
      }
      throw new Error("expected the program to refuse");
    }

    it("refuses the lab passphrase before registering anything", async () => {
      const msg = await refusal({ PULUMI_BACKEND_URL: "s3://b", PULUMI_CONFIG_PASSPHRASE: "smith-lab-local-only" });
      expect(msg).to.match(/^stack dev: secrets: the secrets passphrase is the public lab passphrase/);
      // Before the key file is even read (Pulumi.prod.yaml's key path does not exist on this box).
      const first = await refusal({ PULUMI_BACKEND_URL: "s3://b", PULUMI_CONFIG_PASSPHRASE: "smith-lab-local-only" }, { "smith:sshPrivateKeyPath": "/nonexistent/key" });
      expect(first).to.match(/secrets passphrase is the public lab passphrase/);
    });

    it("refuses the checkout-local backend unless smith:allowLocalBackend is true", async () => {
      const env = { PULUMI_BACKEND_URL: `file://${dir}/.smith/state`, PULUMI_CONFIG_PASSPHRASE: "real" };
      expect(await refusal(env)).to.match(/^stack dev: backend: the state backend .* is inside this checkout/);
      configure({ "smith:allowLocalBackend": "true", "smith:approvals": '["main@42"]' });
      await program.main({ projectDir: dir, now: () => NOW, env });
      await rec.settle();
      expect(patched()).to.have.length(6);
    });

    it("refuses smith:requireHostKeys false on a non-lab stack", async () => {
      const msg = await refusal(REAL_ENV, { "smith:requireHostKeys": "false" });
      expect(msg).to.equal("stack dev: smith:requireHostKeys: false is allowed only on lab stacks (lab, lab-*): real machines are always verified by host key");
    });
  });

  describe("shards in lockstep through wave barriers (smith:lockstepDir)", () => {
    const shardOf = (cluster: string) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { shardFleet } = require("../../src/shard/shard") as typeof import("../../src/shard/shard");
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { parseInventory } = require("../../src/inventory/load") as typeof import("../../src/inventory/load");
      const shards = shardFleet(parseInventory(INVENTORY, "inv.yaml"), { size: 3, by: "region" });
      return { names: shards.map((x) => x.name), mine: shards.find((x) => x.clusters.includes(cluster))!.name };
    };

    it("puts a barrier after every wave but the last: the next wave waits for it, it waits for the wave", async () => {
      const { names, mine } = shardOf("a");
      expect(names.length).to.be.greaterThan(1);
      configure({ "smith:approvals": '["main@42"]', "smith:shard": mine, "smith:shardSize": "3", "smith:lockstepDir": "locks" });
      await run();
      const barriers = rec.ofType("command:local:Command").map((r) => r.name);
      expect(barriers).to.deep.equal(["lockstep-test", "lockstep-main"]);
      const cmd = String(rec.byName("lockstep-main").inputs.create);
      expect(cmd).to.equal(`'node' 'bin/smith.js' 'shard' 'barrier' '--dir' 'locks' '--build' '42' '--wave' 'main' '--shard' '${mine}' '--shards' '${names.join(",")}' '--timeout-minutes' '360'`);
      // main's first node waits for the barrier after test; the barrier after main waits for main's chain end.
      expect(deps("a1-patch")).to.include("lockstep-test");
      expect(deps("lockstep-main")).to.deep.equal(["a3-health"]);
      expect((rec.byName("lockstep-main").inputs.triggers as string[])[0]).to.equal("42");
    });

    it("holds a shard's waves after a wave held in another shard (gates are decided on the whole fleet)", async () => {
      const b = shardOf("b").mine;
      expect(b).to.not.equal(shardOf("a").mine);
      // b's shard has only wave last; main (approval gate, cluster a) is in another shard.
      configure({ "smith:shard": b, "smith:shardSize": "3" });
      const out = await run();
      expect(patched()).to.deep.equal([]);
      expect(out.waves).to.deep.equal([{ name: "last", held: true, reason: "earlier wave main is held", clusters: 0, planned: 2, registered: 0 }]);
      rec.reset();
      configure({ "smith:approvals": '["main@42"]', "smith:shard": b, "smith:shardSize": "3" });
      await run();
      expect(patched()).to.deep.equal(["b1", "b2"]);
    });

    it("has no barrier before a held wave, and none without smith:lockstepDir", async () => {
      const { mine } = shardOf("a");
      configure({ "smith:shard": mine, "smith:shardSize": "3", "smith:lockstepDir": "locks" });
      await run();
      expect(rec.ofType("command:local:Command").map((r) => r.name)).to.deep.equal([]);
      rec.reset();
      configure({ "smith:approvals": '["main@42"]', "smith:shard": mine, "smith:shardSize": "3" });
      await run();
      expect(rec.ofType("command:local:Command")).to.have.length(0);
    });
  });
});
