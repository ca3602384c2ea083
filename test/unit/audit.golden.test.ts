/**
 * Golden outputs of every report format over real state: test/fixtures/audit holds the history
 * of the audit integration test's stack (two lab rollouts by the real engine: build 2, then 3
 * with one machine held back and one removed), slimmed by test/support/audit-fixture.ts.
 * Regenerate the goldens after a deliberate format change: UPDATE_GOLDEN=1 npx mocha this file.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { auditCommand } from "../../cli/commands/audit";
import { complianceCommand } from "../../cli/commands/compliance";
import { previewStack } from "../../cli/commands/pr-comment";
import { statusCommand } from "../../cli/commands/status";
import { renderPrComment } from "../../src/audit/pr-comment";
import type { ReportContext } from "../../src/audit/context";
import { FileBackendHistory } from "../../src/audit/file-backend";
import type { PulumiRunner } from "../../src/audit/pulumi-cli";
import { AUDIT_FORMATS } from "../../src/audit/render";
import { renderStatus, STATUS_FORMATS } from "../../src/audit/status-render";
import { COMPLIANCE_FORMATS, renderCompliance } from "../../src/compliance/render";
import { auditTestManifests, writeManifests } from "../support/manifests";
import * as os from "os";

const FIXTURE = path.resolve(__dirname, "..", "fixtures", "audit");
const GOLDEN = path.join(FIXTURE, "golden");
const STACK = "lab-audit";
const HELD = "prestage-syd01-carrier1-worker-01";
const REMOVED = "dev-syd01-carrier1-worker-01";

function golden(name: string, raw: string): void {
  // The fixture's absolute path differs per checkout.
  const actual = raw.split(FIXTURE).join("<fixture>");
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN) {
    fs.mkdirSync(GOLDEN, { recursive: true });
    fs.writeFileSync(file, actual);
  }
  expect(actual, `golden ${name} (UPDATE_GOLDEN=1 rewrites it)`).to.equal(fs.readFileSync(file, "utf8"));
}

/** `pulumi config --json` as the CLI prints it for the test's stack config. */
function fakeRunner(approvals = ["hold@3"]): PulumiRunner & { calls: string[][] } {
  const calls: string[][] = [];
  const config = {
    "smith:build": { value: "3", secret: false },
    "smith:inventory": { value: JSON.stringify([path.join(FIXTURE, "inventory-3.yaml")]), secret: false },
    "smith:waves": { value: path.join(FIXTURE, "waves.yaml"), secret: false },
    "smith:repoUrl": { value: "http://127.0.0.1:18481", secret: false },
    "smith:sshPrivateKey": { secret: true },
    "smith:approvals": { value: JSON.stringify(approvals), secret: false },
  };
  return {
    calls,
    async run(args) {
      calls.push(args);
      if (args[0] === "config" && args[1] === "--json") return { code: 0, stdout: JSON.stringify(config), stderr: "" };
      // The preview the integration test's real engine printed for this stack (slimmed).
      if (args[0] === "preview") return { code: 0, stdout: fs.readFileSync(path.join(FIXTURE, "preview.json"), "utf8"), stderr: "" };
      return { code: 1, stdout: "", stderr: `error: unexpected pulumi ${args.join(" ")}` };
    },
  };
}

describe("audit reports over real engine state (golden)", () => {
  let ctx: ReportContext & { runner: ReturnType<typeof fakeRunner> };
  let manifests: string;
  before(() => {
    ctx = { repoRoot: FIXTURE, projectDir: path.resolve(__dirname, "..", ".."), runner: fakeRunner(), history: new FileBackendHistory(FIXTURE, "smith") };
    manifests = writeManifests(fs.mkdtempSync(path.join(os.tmpdir(), "smith-golden-")), auditTestManifests());
  });
  after(() => fs.rmSync(manifests, { recursive: true, force: true }));

  for (const format of AUDIT_FORMATS) {
    it(`smith audit --format ${format}`, async () => {
      golden(`audit.${format}`, await auditCommand(ctx, { stack: [STACK], format }, new Date("2026-12-02T03:00:00Z")));
    });
  }

  it("smith audit --machine filters, and says 'nothing yet' when nothing matches", async () => {
    const csv = await auditCommand(ctx, { stack: [STACK], format: "csv", machine: HELD });
    expect(csv.split("\n")).to.have.length(1 + 3);
    expect(await auditCommand(ctx, { stack: [STACK], format: "table", machine: "nope-*" })).to.equal("nothing yet: no patch events in lab-audit (2 updates) for machines nope-*");
    expect(await auditCommand(ctx, { stack: [STACK], format: "table", since: "2030-01-01" })).to.match(/^nothing yet: .* since 2030-01-01T00:00:00.000Z$/);
  });

  for (const format of COMPLIANCE_FORMATS) {
    it(`smith compliance --format ${format}`, async () => {
      const r = await complianceCommand(ctx, { stack: [STACK], manifests, now: "2026-11-28T00:00:00Z", format, concurrency: "1" });
      golden(`compliance.${format}`, renderCompliance({ ...r, manifests: "<manifests>" }, format));
    });
  }

  it("smith compliance: the held machine is due within 7 days, the removed one vanished; exit 1", async () => {
    const r = await complianceCommand(ctx, { stack: [STACK], manifests, now: "2026-11-28T00:00:00Z", format: "table", concurrency: "1" });
    expect(r.machines.map((m) => `${m.machine} ${m.build} ${m.status} ${m.flags.join(",")}`)).to.deep.equal([
      `${HELD} 2 due-soon `,
      "dev-syd01-carrier1-master-01 3 current ",
      "dev-syd01-test-01 3 current ",
      "prestage-syd01-carrier1-master-01 3 current ",
      `${REMOVED} 2 due-soon vanished`,
    ]);
    expect(r.exitCode).to.equal(1);
  });

  it("smith pr-comment: plan, gates, mermaid and the real preview", async () => {
    const p = await previewStack(ctx, STACK, new Date("2026-12-02T03:00:00Z"));
    golden("pr-comment.md", renderPrComment([p]));
  });

  it("smith pr-comment shows a closed gate and why", async () => {
    const p = await previewStack({ ...ctx, runner: fakeRunner([]) }, STACK, new Date("2026-12-02T03:00:00Z"));
    const body = renderPrComment([p]);
    expect(body).to.include("| 2 | `hold` | approval: **closed** (approval gate: smith:approvals has no hold@3) | 1 | 1 |");
    expect(body).to.include('g2{{"approval: closed"}}');
    expect(body).to.include("2 waves, 4 machines planned, 0 unassigned; 1 wave held.");
  });

  for (const format of STATUS_FORMATS) {
    it(`smith status --format ${format}`, async () => {
      golden(`status.${format}`, renderStatus(await statusCommand(ctx, { stack: [STACK], format }), format));
    });
  }
});
