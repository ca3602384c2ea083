/**
 * Audit, compliance, status and the PR comment over real state: smith's program, the real engine
 * and command provider, a private 5-machine lab (SMITH_LAB_TEST_NETWORK, else 127.0.6). Two
 * rollouts of stack `lab-audit`: build 2 to every machine, then build 3 with one machine held
 * back at 2 (its wave's approval gate closed) and one machine removed from the inventory.
 * Set SMITH_AUDIT_FIXTURE_OUT=DIR to keep the stack's history files (the unit tests' fixture).
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { auditCommand } from "../../cli/commands/audit";
import { complianceCommand } from "../../cli/commands/compliance";
import { previewStack } from "../../cli/commands/pr-comment";
import { statusCommand } from "../../cli/commands/status";
import { defaultContext, ReportContext } from "../../src/audit/context";
import { GitHubComments, upsertComment } from "../../src/audit/github";
import { renderPrComment } from "../../src/audit/pr-comment";
import { renderCompliance } from "../../src/compliance/render";
import { labDown, labUp, readState } from "../../src/lab/lab";
import { LabPaths, labPaths } from "../../src/lab/paths";
import { writeAuditFixture } from "../support/audit-fixture";
import { labExec, labSkipReason } from "../support/lab";
import { auditTestManifests, writeManifests } from "../support/manifests";
import { commandProviderUnavailableReason, pulumiUnavailableReason, REPO_ROOT, runPulumi } from "../support/pulumi";

const STACK = "lab-audit";
const NETWORK = process.env.SMITH_LAB_TEST_NETWORK || "127.0.6";
const SHAPE = { machines: 5, clusters: 2, regions: 1 };

function log(msg: string): void {
  console.log(`      ${msg}`);
}

describe("audit and compliance over real state (lab, real engine)", function () {
  this.timeout(20 * 60_000);
  let dir: string;
  let paths: LabPaths;
  let ctx: ReportContext;
  let machines: string[];
  let held: string;
  let removed: string;
  let manifests: string;
  const configFile = path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`);

  async function pulumi(args: string[], input?: string): Promise<string> {
    const r = await runPulumi(args, { cwd: REPO_ROOT, input, timeoutMs: 15 * 60_000 });
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    return r.stdout;
  }

  /** Rewrites the stack's plain config (the encrypted key set once stays in the file). */
  async function configure(build: string, inventory: string, approvals: string[]): Promise<void> {
    await pulumi(["config", "set", "-s", STACK, "smith:build", build]);
    await pulumi(["config", "set", "-s", STACK, "smith:inventory", inventory]);
    await pulumi(["config", "rm", "-s", STACK, "smith:approvals"]);
    for (const [i, a] of approvals.entries()) await pulumi(["config", "set", "-s", STACK, "--path", `smith:approvals[${i}]`, a]);
  }

  before(async function () {
    const why = labSkipReason() ?? pulumiUnavailableReason() ?? commandProviderUnavailableReason();
    if (why) {
      console.log(`      skipping the audit integration test: ${why}`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-audit-it-"));
    paths = labPaths({ privateDir: path.join(dir, "lab") });
    const t0 = Date.now();
    await labUp({ shape: SHAPE, network: NETWORK, rebootDelaySeconds: 1, paths });
    log(`private lab up in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const s = readState(paths)!;
    machines = s.machines.map((m) => m.name).sort();
    held = s.machines.find((m) => m.environment === "prestage" && m.role === "worker")!.name;
    removed = s.machines.find((m) => m.environment === "dev" && m.role === "worker")!.name;

    // Inventories: all machines (build 2), then without `removed` (build 3).
    const inv = fs.readFileSync(paths.inventoryPath, "utf8");
    fs.writeFileSync(path.join(dir, "inventory-2.yaml"), inv);
    const doc = (await import("yaml")).parse(inv) as { machines: { name: string }[] };
    fs.writeFileSync(path.join(dir, "inventory-3.yaml"), stringify({ machines: doc.machines.filter((m) => m.name !== removed) }));
    fs.writeFileSync(
      path.join(dir, "waves.yaml"),
      stringify({ waves: [{ name: "main", select: { name: { not: held } } }, { name: "hold", gate: { approval: true } }] }),
    );
    manifests = writeManifests(path.join(dir, "builds"), auditTestManifests());

    await runPulumi(["stack", "rm", STACK, "--force", "--yes", "--non-interactive"], { cwd: REPO_ROOT });
    fs.writeFileSync(
      configFile,
      stringify({ config: { "smith:build": "2", "smith:inventory": path.join(dir, "inventory-2.yaml"), "smith:waves": path.join(dir, "waves.yaml"), "smith:repoUrl": s.repoUrl, "smith:sshUser": "root", "smith:rebootDelaySeconds": "1" } }),
    );
    await pulumi(["stack", "init", STACK, "--no-select", "--non-interactive"]);
    await pulumi(["config", "set", "--secret", "smith:sshPrivateKey", "-s", STACK], fs.readFileSync(s.keyPath, "utf8"));
    ctx = defaultContext();
  });

  after(async function () {
    if (!paths) return;
    const keep = process.env.SMITH_AUDIT_FIXTURE_OUT;
    if (keep) {
      writeAuditFixture(path.join(REPO_ROOT, ".smith", "state", ".pulumi"), keep, "smith", STACK);
      log(`history kept in ${keep}`);
    }
    await runPulumi(["stack", "rm", STACK, "--force", "--yes", "--non-interactive"], { cwd: REPO_ROOT }).catch(() => undefined);
    fs.rmSync(configFile, { force: true });
    const r = await labDown(paths);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.leftovers).to.deep.equal({ mounts: [], processes: [] });
  });

  it("says 'nothing yet' before the first update", async () => {
    const out = await auditCommand(ctx, { stack: [STACK], format: "table" });
    expect(out).to.match(/^nothing yet: no patch events in lab-audit \(0 updates\)/);
  });

  it("rolls out build 2 everywhere, then build 3 with one machine held and one removed", async () => {
    await configure("2", path.join(dir, "inventory-2.yaml"), ["hold@2"]);
    let t0 = Date.now();
    await pulumi(["up", "-s", STACK, "--yes", "--skip-preview", "--non-interactive"]);
    log(`up to build 2: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    await configure("3", path.join(dir, "inventory-3.yaml"), []);
    t0 = Date.now();
    await pulumi(["up", "-s", STACK, "--yes", "--skip-preview", "--non-interactive"]);
    log(`up to build 3: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });

  it("audit lists every machine with both events and exact package versions", async () => {
    const json = JSON.parse(await auditCommand(ctx, { stack: [STACK], format: "json" })) as { events: { machine: string; build: string; previous: string | null; packages: { name: string; from: string; to: string }[]; rebooted: boolean; result: string; updateId: string; ranBy: string }[]; updates: unknown[]; current: Record<string, string[]> };
    const by = (m: string) => json.events.filter((e) => e.machine === m).map((e) => e.build);
    for (const m of machines) {
      const want = m === held || m === removed ? ["2"] : ["2", "3"];
      expect(by(m), m).to.deep.equal(want);
    }
    for (const e of json.events) {
      // Fresh lab machines have build 1's packages but no smith build recorded yet.
      expect(e.previous, e.machine).to.equal(e.build === "2" ? null : "2");
      const from = `1.${Number(e.previous ?? "1") - 1}`;
      const to = `1.${Number(e.build) - 1}`;
      expect(e.packages.map((p) => `${p.name} ${p.from}→${p.to}`).sort(), `${e.machine}@${e.build}`).to.deep.equal(
        ["smith-demo-conf", "smith-demo-kernel", "smith-demo-svc"].map((p) => `${p} ${from}→${to}`),
      );
      expect(e.rebooted, e.machine).to.equal(true);
      expect(e.result, e.machine).to.equal("healthy");
      expect(e.updateId).to.match(new RegExp(`^${STACK}-\\d+$`));
    }
    expect(json.updates).to.have.length(2);
    expect(json.current[STACK], "the removed machine left the current state").to.not.include(removed);
    const md = await auditCommand(ctx, { stack: [STACK], format: "markdown" });
    expect(md).to.include(`\`${removed}\` (removed)`);
    const csv = await auditCommand(ctx, { stack: [STACK], format: "csv" });
    expect(csv.split("\n")).to.have.length(1 + 3 * (2 * machines.length - 2));
    const filtered = await auditCommand(ctx, { stack: [STACK], format: "csv", machine: held });
    expect(filtered.split("\n").slice(1).every((l) => l.startsWith(`${STACK},${held},`))).to.equal(true);
  });

  it("compliance flags the held machine as due soon, then overdue, and the removed one as vanished", async () => {
    const soon = await complianceCommand(ctx, { stack: [STACK], manifests, now: "2026-11-28T00:00:00Z", format: "table", concurrency: "4" });
    const row = (m: string) => soon.machines.find((r) => r.machine === m)!;
    expect(row(held).status).to.equal("due-soon");
    expect(row(held).due).to.equal("2026-12-04T00:00:00.000Z");
    expect(row(held).build).to.equal("2");
    expect(row(removed).flags).to.include("vanished");
    for (const m of machines.filter((x) => x !== held && x !== removed)) expect(row(m).status, m).to.equal("current");
    expect(soon.exitCode).to.equal(1);
    const late = await complianceCommand(ctx, { stack: [STACK], manifests, now: "2026-12-05T00:00:00Z", format: "table", concurrency: "4" });
    expect(late.machines.find((r) => r.machine === held)!.status).to.equal("overdue");
    expect(late.exitCode).to.equal(2);
    log(renderCompliance(late, "table").split("\n").slice(-1)[0]!);
  });

  it("compliance reads the lab's own published manifests by default (<smith:repoUrl>/builds)", async () => {
    const repoUrl = readState(paths)!.repoUrl;
    const m3 = (await (await fetch(`${repoUrl}/builds/3/manifest.json`)).json()) as { diff: { upgraded: { name: string; firstSeen: string; advisories: { severity: string }[] }[] } };
    const kernel = m3.diff.upgraded.find((u) => u.name === "smith-demo-kernel")!;
    expect(kernel.advisories.map((a) => a.severity)).to.deep.equal(["critical"]);
    const r = await complianceCommand(ctx, { stack: [STACK], now: kernel.firstSeen, format: "table", concurrency: "4" });
    expect(r.manifests).to.equal(`${repoUrl}/builds`);
    expect(r.newest).to.equal("3");
    const h = r.machines.find((m) => m.machine === held)!;
    // critical: 7 days (the default policy) from the day kernel 1.2 first appeared upstream.
    expect(h.due).to.equal(new Date(Date.parse(kernel.firstSeen) + 7 * 86_400_000).toISOString());
    expect(h.status).to.equal("due-soon");
  });

  it("the CLI prints the reports, exits 1 for due soon and 2 with one line for a bad stack", () => {
    const run = (args: string[]) => spawnSync(process.execPath, [path.join(REPO_ROOT, "bin", "smith.js"), ...args], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000 });
    const c = run(["compliance", "--stack", STACK, "--manifests", manifests, "--now", "2026-11-28T00:00:00Z"]);
    expect(c.status, c.stderr).to.equal(1);
    expect(c.stdout).to.include("newest build 3: 1 due-soon, 3 current; 1 vanished (exit 1)");
    const a = run(["audit", "--stack", STACK, "--format", "markdown"]);
    expect(a.status, a.stderr).to.equal(0);
    expect(a.stdout).to.include(`# Patch evidence: \`${STACK}\``);
    const st = run(["status", "--stack", STACK]);
    expect(st.status, st.stderr).to.equal(0);
    expect(st.stdout).to.include("HELD: approval gate: smith:approvals has no hold@3");
    const bad = run(["audit", "--stack", "no-such-stack"]);
    expect(bad.status).to.equal(2);
    expect(bad.stderr.trim().split("\n")).to.have.length(1);
    expect(bad.stderr).to.match(/^smith: --stack no-such-stack: no such stack of project smith in file:\/\/.* \(stacks: .*lab-audit.*\)$/m);
  });

  it("compliance --live confirms builds over SSH and reports drift", async () => {
    const victim = machines.find((m) => m !== held && m !== removed)!;
    const r0 = await complianceCommand(ctx, { stack: [STACK], manifests, now: "2026-11-28T00:00:00Z", format: "table", live: true, concurrency: "4" });
    expect(r0.machines.filter((m) => m.flags.includes("drift") || m.flags.includes("unreachable")).map((m) => m.machine)).to.deep.equal([]);
    // The machine says build 2 while the state says 3: drift, and compliance believes the machine.
    await labExec(victim, "cp /var/lib/smith/build /var/lib/smith/build.keep && echo 2 >/var/lib/smith/build", { paths });
    try {
      const r = await complianceCommand(ctx, { stack: [STACK], manifests, now: "2026-11-28T00:00:00Z", format: "table", live: true, concurrency: "4" });
      const v = r.machines.find((m) => m.machine === victim)!;
      expect(v.flags).to.include("drift");
      expect(v.build).to.equal("2");
      expect(v.status).to.equal("due-soon");
    } finally {
      await labExec(victim, "mv /var/lib/smith/build.keep /var/lib/smith/build", { paths });
    }
  });

  it("status shows per wave/cluster builds and the held wave with its reason", async () => {
    const [s] = await statusCommand(ctx, { stack: [STACK], format: "table" });
    const hold = s!.clusters.filter((c) => c.wave === "hold");
    expect(hold).to.have.length(1);
    expect(hold[0]!.builds).to.deep.equal({ "2": 1 });
    expect(hold[0]!.held).to.match(/approval gate: smith:approvals has no hold@3/);
    const main = s!.clusters.filter((c) => c.wave === "main");
    expect(main.every((c) => Object.keys(c.builds).join() === "3" && c.failedAt === null)).to.equal(true);
    expect(s!.notPlanned).to.deep.equal([]);
    const [live] = await statusCommand(ctx, { stack: [STACK], format: "table", live: true });
    expect(live!.clusters.map((c) => c.live)).to.deep.equal(live!.clusters.map((c) => ({ agree: c.machines, drift: [], unreachable: [] })));
  });

  it("renders the PR comment from a real preview and keeps one comment on the PR", async () => {
    await pulumi(["config", "set", "-s", STACK, "--path", "smith:approvals[0]", "hold@3"]);
    const keep = process.env.SMITH_AUDIT_FIXTURE_OUT;
    const p = await previewStack(ctx, STACK, new Date(), keep ? (json) => fs.writeFileSync(path.join(keep, "preview.json"), json) : undefined);
    expect("failed" in p.preview, JSON.stringify(p.preview)).to.equal(false);
    const body = renderPrComment([p]);
    expect(body).to.include("```mermaid");
    expect(body).to.include("approval: **open**");
    expect(body).to.include(`**Will patch 1 machine**: \`${held}\``);

    // A local GitHub: list / create / update issue comments.
    const comments: { id: number; body: string }[] = [{ id: 1, body: "someone else's comment" }];
    const calls: string[] = [];
    const server = http.createServer((req, res) => {
      let data = "";
      req.on("data", (d) => (data += d));
      req.on("end", () => {
        calls.push(`${req.method} ${req.url} ${req.headers.authorization}`);
        res.setHeader("content-type", "application/json");
        if (req.method === "GET") return res.end(JSON.stringify(comments));
        const b = JSON.parse(data) as { body: string };
        if (req.method === "POST") {
          comments.push({ id: comments.length + 1, body: b.body });
          return res.end(JSON.stringify(comments[comments.length - 1]));
        }
        const id = Number(req.url!.split("/").pop());
        comments.find((c) => c.id === id)!.body = b.body;
        res.end(JSON.stringify(comments.find((c) => c.id === id)));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const api = new GitHubComments({ apiUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`, repo: "o/r", issue: 7, token: "t0k" });
      expect((await upsertComment(api, body)).action).to.equal("created");
      expect((await upsertComment(api, body.replace("what this change", "what this push"))).action).to.equal("updated");
      expect(comments).to.have.length(2);
      expect(calls[1]).to.equal("POST /repos/o/r/issues/7/comments Bearer t0k");
      expect(calls[3]).to.equal("PATCH /repos/o/r/issues/comments/2 Bearer t0k");
    } finally {
      server.close();
    }
  });
});
