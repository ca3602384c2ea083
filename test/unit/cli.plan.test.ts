import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { generateFleet } from "../../src/inventory/generate";
import type { Plan } from "../../src/plan/types";
import { runSmith } from "../support/cli";

const ROOT = path.join(__dirname, "..", "..");

const smith = (...args: string[]) => runSmith(args);

describe("cli: smith plan", () => {
  let dir: string;
  let inv: string;
  let inv2: string;
  const lab = path.join(ROOT, "waves", "lab.yaml");

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-cli-"));
    const fleet = generateFleet({ machines: 24, clusters: 3, environments: ["dev", "prestage", "stgiks"], masters: 1, hostKeys: false });
    inv = path.join(dir, "a.yaml");
    inv2 = path.join(dir, "b.yaml");
    fs.writeFileSync(inv, stringify({ machines: fleet.slice(0, 12) }));
    fs.writeFileSync(inv2, stringify({ machines: fleet.slice(12) }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("prints the JSON plan for several inventory files", async () => {
    const r = await smith("plan", "--inventory", inv, "--inventory", inv2, "--waves", lab, "--build", "12", "--format", "json");
    expect(r.err).to.equal("");
    expect(r.code).to.equal(0);
    const plan = JSON.parse(r.out) as Plan;
    expect(plan.build).to.equal("12");
    expect(plan.waves.map((w) => w.name)).to.deep.equal(["test", "sample", "rest"]);
    expect(plan.waves.flatMap((w) => w.clusters.flatMap((c) => c.nodes))).to.have.length(24);
    expect(plan.unassigned).to.deep.equal([]);
  });

  it("prints a table by default and markdown on request", async () => {
    const t = await smith("plan", "--inventory", inv, "--inventory", inv2, "--waves", lab, "--build", "12");
    expect(t.code).to.equal(0);
    expect(t.out).to.match(/^build 12: 3 waves, 24 machines planned, 0 unassigned\n┌/);
    const m = await smith("plan", "--inventory", inv, "--inventory", inv2, "--waves", lab, "--build", "12", "--format", "markdown");
    expect(m.code).to.equal(0);
    expect(m.out).to.include("```mermaid");
  });

  const bad: { what: string; args: () => string[]; err: RegExp }[] = [
    { what: "--build not a number", args: () => ["--build", "abc"], err: /^smith: flag --build: must be a positive integer \(got "abc"\)\n$/ },
    { what: "--build zero", args: () => ["--build", "0"], err: /^smith: flag --build: must be a positive integer \(got "0"\)\n$/ },
    { what: "--build with leading zero", args: () => ["--build", "012"], err: /^smith: flag --build: must be a positive integer \(got "012"\)\n$/ },
    { what: "--build negative", args: () => ["--build=-3"], err: /^smith: flag --build: must be a positive integer \(got "-3"\)\n$/ },
    { what: "--build with shell metacharacters", args: () => ["--build", "1;reboot"], err: /^smith: flag --build: must be a positive integer \(got "1;reboot"\)\n$/ },
    { what: "unknown --format", args: () => ["--build", "1", "--format", "xml"], err: /^error: option '--format <format>' argument 'xml' is invalid/ },
    { what: "missing inventory file", args: () => ["--build", "1", "--inventory", path.join(dir, "none.yaml")], err: /^smith: .*none\.yaml: cannot read inventory file \(ENOENT\)\n$/ },
  ];
  for (const c of bad) {
    it(`exits 2 with one line for ${c.what}`, async () => {
      const r = await smith("plan", "--inventory", inv, "--waves", lab, ...c.args());
      expect(r.code).to.equal(2);
      expect(r.out).to.equal("");
      expect(r.err).to.match(c.err);
      expect(r.err.trim().split("\n")).to.have.length(1);
    });
  }

  it("exits 2 naming file, field and value for a bad inventory", async () => {
    const f = path.join(dir, "bad.yaml");
    fs.writeFileSync(f, "machines:\n  - {name: a, host: 'x`id`', environment: dev, region: r, cluster: c, role: test}\n");
    const r = await smith("plan", "--inventory", f, "--waves", lab, "--build", "1");
    expect(r.code).to.equal(2);
    expect(r.err).to.equal(`smith: ${f}:2: machines[0].host: host must be a DNS name or IP address (got "x\`id\`")\n`);
  });

  it("exits 2 naming file and wave when a wave selects nothing", async () => {
    const f = path.join(dir, "only-dev.yaml");
    fs.writeFileSync(f, "machines:\n  - {name: a, host: h, environment: dev, region: r, cluster: c, role: worker}\n");
    const r = await smith("plan", "--inventory", f, "--waves", lab, "--build", "1");
    expect(r.code).to.equal(2);
    expect(r.err).to.match(new RegExp(`^smith: ${lab.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: waves\\[0\\] \\(test\\): selects no machine`));
  });

  it("exits 2 when a required flag is missing", async () => {
    const r = await smith("plan", "--inventory", inv, "--build", "1");
    expect(r.code).to.equal(2);
    expect(r.err).to.match(/required option '--waves <file>' not specified/);
  });

  it("bin/smith.js: one line, no stack trace, non-zero exit on bad input; JSON on good input", function () {
    this.timeout(60000);
    const bin = path.join(ROOT, "bin", "smith.js");
    const badRun = spawnSync(process.execPath, [bin, "plan", "--inventory", inv, "--waves", lab, "--build", "x1"], { cwd: ROOT, encoding: "utf8" });
    expect(badRun.status).to.equal(2);
    expect(badRun.stdout).to.equal("");
    expect(badRun.stderr).to.equal('smith: flag --build: must be a positive integer (got "x1")\n');
    const good = spawnSync(process.execPath, [bin, "plan", "--inventory", inv, "--inventory", inv2, "--waves", lab, "--build", "3", "--format", "json"], { cwd: ROOT, encoding: "utf8" });
    expect(good.stderr).to.equal("");
    expect(good.status).to.equal(0);
    expect((JSON.parse(good.stdout) as Plan).build).to.equal("3");
  });
});
