/**
 * `smith compliance --fail-on` and `--alert`: exit mapping, and the alert POSTed to a local
 * receiver on 127.0.0.1, over the committed audit fixture (real engine state, lab-audit).
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { complianceCommand } from "../../cli/commands/compliance";
import type { ReportContext } from "../../src/audit/context";
import { FileBackendHistory } from "../../src/audit/file-backend";
import type { PulumiRunner } from "../../src/audit/pulumi-cli";
import { alertTarget, failOnExitCode } from "../../src/compliance/alert";
import { runSmith } from "../support/cli";
import { auditTestManifests, writeManifests } from "../support/manifests";
import { Receiver, startReceiver } from "../support/receiver";
import { userError } from "../support/user-error";

const FIXTURE = path.resolve(__dirname, "..", "fixtures", "audit");
const STACK = "lab-audit";
const HELD = "prestage-syd01-carrier1-worker-01";
/** The held machine lacks build 3's high fix, due 2026-12-04: due soon on 11-28, overdue on 12-10, ok on 11-01. */
const DUE_SOON = "2026-11-28T00:00:00Z";
const OVERDUE = "2026-12-10T00:00:00Z";
const OK = "2026-11-01T00:00:00Z";

function fakeRunner(): PulumiRunner {
  const config = {
    "smith:build": { value: "3", secret: false },
    "smith:inventory": { value: JSON.stringify([path.join(FIXTURE, "inventory-3.yaml")]), secret: false },
    "smith:waves": { value: path.join(FIXTURE, "waves.yaml"), secret: false },
    "smith:repoUrl": { value: "http://127.0.0.1:18481", secret: false },
    "smith:sshPrivateKey": { secret: true },
    "smith:approvals": { value: JSON.stringify(["hold@3"]), secret: false },
  };
  return {
    async run(args) {
      if (args[0] === "config" && args[1] === "--json") return { code: 0, stdout: JSON.stringify(config), stderr: "" };
      return { code: 1, stdout: "", stderr: `error: unexpected pulumi ${args.join(" ")}` };
    },
  };
}

describe("compliance --fail-on / --alert", () => {
  let ctx: ReportContext;
  let manifests: string;
  let rx: Receiver;
  const run = (now: string, extra: { failOn?: "overdue" | "due-soon"; alert?: boolean } = {}, env: NodeJS.ProcessEnv = {}) =>
    complianceCommand(ctx, { stack: [STACK], manifests, now, format: "table", concurrency: "1", ...extra }, env);

  before(async () => {
    ctx = { repoRoot: FIXTURE, projectDir: path.resolve(__dirname, "..", ".."), runner: fakeRunner(), history: new FileBackendHistory(FIXTURE, "smith") };
    manifests = writeManifests(fs.mkdtempSync(path.join(os.tmpdir(), "smith-alert-")), auditTestManifests());
    rx = await startReceiver();
  });
  after(async () => {
    fs.rmSync(manifests, { recursive: true, force: true });
    await rx.close();
  });
  beforeEach(() => rx.requests.splice(0));

  it("maps exit codes: due-soon keeps 0/1/2, overdue passes a due-soon result", () => {
    expect([0, 1, 2].map((c) => failOnExitCode(c as 0 | 1 | 2, "due-soon"))).to.deep.equal([0, 1, 2]);
    expect([0, 1, 2].map((c) => failOnExitCode(c as 0 | 1 | 2, "overdue"))).to.deep.equal([0, 0, 2]);
  });

  it("over the fixture: due soon exits 1 (default and --fail-on due-soon), 0 with --fail-on overdue; overdue exits 2 either way", async () => {
    expect((await run(DUE_SOON)).exitCode).to.equal(1);
    expect((await run(DUE_SOON, { failOn: "due-soon" })).exitCode).to.equal(1);
    expect((await run(DUE_SOON, { failOn: "overdue" })).exitCode).to.equal(0);
    expect((await run(OVERDUE, { failOn: "overdue" })).exitCode).to.equal(2);
    expect((await run(OVERDUE, { failOn: "due-soon" })).exitCode).to.equal(2);
    expect((await run(OK, { failOn: "due-soon" })).exitCode).to.equal(0);
  });

  it("--alert posts one Slack-compatible message with counts and the first machines when the check fails", async () => {
    const r = await run(DUE_SOON, { failOn: "due-soon", alert: true }, { SMITH_ESCALATION_WEBHOOK: `${rx.url}/hook` });
    expect(r.exitCode).to.equal(1);
    expect(rx.requests).to.have.length(1);
    const req = rx.requests[0]!;
    expect([req.method, req.path, req.headers["content-type"]]).to.deep.equal(["POST", "/hook", "application/json"]);
    const text = (req.body as { text: string }).text;
    expect(text.split("\n")[0]).to.equal(`:rotating_light: smith compliance (due soon): 0 overdue, 0 unknown, 1 due within 7 days of 4 machines in ${STACK}`);
    expect(text).to.include(`due soon: ${STACK}/${HELD} (due 2026-12-04)`);
  });

  it("--alert stays quiet when the chosen check passes (--fail-on overdue, machines only due soon)", async () => {
    const r = await run(DUE_SOON, { failOn: "overdue", alert: true }, { SMITH_ESCALATION_WEBHOOK: `${rx.url}/hook` });
    expect(r.exitCode).to.equal(0);
    expect(rx.requests).to.have.length(0);
  });

  it("--alert with SMITH_ESCALATION_FORMAT=pagerduty posts an Events v2 trigger", async () => {
    const env = { SMITH_ESCALATION_WEBHOOK: `${rx.url}/v2/enqueue`, SMITH_ESCALATION_FORMAT: "pagerduty", SMITH_ESCALATION_ROUTING_KEY: "rk-1" };
    expect((await run(OVERDUE, { failOn: "overdue", alert: true }, env)).exitCode).to.equal(2);
    expect(rx.requests).to.have.length(1);
    const body = rx.requests[0]!.body as { routing_key: string; event_action: string; dedup_key: string; payload: { summary: string; severity: string; custom_details: { lines: string[] } } };
    expect([body.routing_key, body.event_action, body.dedup_key]).to.deep.equal(["rk-1", "trigger", "smith-compliance/overdue/2026-12-10"]);
    expect(body.payload.summary).to.equal(`smith compliance (overdue): 1 overdue, 0 unknown, 0 due within 7 days of 4 machines in ${STACK}`);
    expect(body.payload.severity).to.equal("error");
    expect(body.payload.custom_details.lines[0]).to.equal(`overdue: ${STACK}/${HELD} (due 2026-12-04)`);
  });

  it("a webhook answering an error is a one-line error that never shows the URL", async () => {
    rx.failNext(500);
    const err = await run(OVERDUE, { failOn: "overdue", alert: true }, { SMITH_ESCALATION_WEBHOOK: `${rx.url}/secret-token` }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.equal("flag --alert: slack webhook: HTTP 500");
  });

  it("--alert needs the env: one-line errors", () => {
    expect(userError(() => alertTarget({}))).to.equal("flag --alert: env SMITH_ESCALATION_WEBHOOK is not set (the escalation webhook URL)");
    expect(userError(() => alertTarget({ SMITH_ESCALATION_WEBHOOK: "http://x", SMITH_ESCALATION_FORMAT: "pagerduty" }))).to.match(/SMITH_ESCALATION_ROUTING_KEY is not set/);
    expect(userError(() => alertTarget({ SMITH_ESCALATION_WEBHOOK: "http://x", SMITH_ESCALATION_FORMAT: "teams" }))).to.match(/must be slack or pagerduty/);
  });

  it("smith compliance --alert without SMITH_ESCALATION_WEBHOOK: one line, exit 2, before any work", async () => {
    const saved = process.env.SMITH_ESCALATION_WEBHOOK;
    delete process.env.SMITH_ESCALATION_WEBHOOK;
    try {
      // A stack that does not exist: reaching the backend would be a different error.
      const r = await runSmith(["compliance", "--stack", "nope", "--fail-on", "overdue", "--alert"], { PULUMI_BACKEND_URL: `file://${FIXTURE}` });
      expect(r.code).to.equal(2);
      expect(r.err).to.equal("smith: flag --alert: env SMITH_ESCALATION_WEBHOOK is not set (the escalation webhook URL)\n");
      expect(r.out).to.equal("");
    } finally {
      if (saved !== undefined) process.env.SMITH_ESCALATION_WEBHOOK = saved;
    }
  });

  it("--pipeline checks every stack the file names (the platform's jobs pass their shards' files); neither flag is a one-line error", async () => {
    const file = path.join(manifests, "pipeline.yaml");
    fs.writeFileSync(file, `stages:\n  - name: dev\n    run: { stacks: [${STACK}] }\n  - name: soak\n    soak: { hours: 1, stack: ${STACK} }\n`);
    const r = await complianceCommand(ctx, { pipeline: [file], manifests, now: DUE_SOON, format: "table", concurrency: "1", failOn: "overdue" }, {});
    expect(r.stacks).to.deep.equal([STACK]);
    expect(r.exitCode).to.equal(0);
    const e = await runSmith(["compliance", "--fail-on", "overdue"]);
    expect([e.code, e.err]).to.deep.equal([2, "smith: flag --stack or --pipeline: say which stacks to check\n"]);
  });

  it("--fail-on takes only overdue or due-soon (commander's one-line error)", async () => {
    const r = await runSmith(["compliance", "--stack", "x", "--fail-on", "never"]);
    expect(r.code).to.equal(2);
    expect(r.err.trim().split("\n")).to.have.length(1);
  });
});
