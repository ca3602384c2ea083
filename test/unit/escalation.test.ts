import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Escalator } from "../../src/escalation/escalator";
import { Incident, incidentKey, logTail } from "../../src/escalation/incident";
import { WebhookSink } from "../../src/escalation/webhook";
import { Journal } from "../../src/pipeline/journal";
import { Receiver, startReceiver } from "../support/receiver";

const incident = (over: Partial<Incident> = {}): Incident => ({
  key: incidentKey("lab-prod", "prod-bom01-carrier1-worker-01", "3"),
  stage: "canary",
  stack: "lab-prod",
  machine: "prod-bom01-carrier1-worker-01",
  cluster: "prod-bom01-carrier1",
  wave: "canary",
  build: "3",
  step: "patch",
  error: "apt failed after 3 attempt(s)",
  logTail: ["Setting up smith-demo-svc (1.2) ...", "dpkg: error processing package smith-demo-svc (--configure)"],
  attempts: 1,
  openedAt: "2026-12-02T03:00:00.000Z",
  ...over,
});

describe("escalation", () => {
  let rx: Receiver;
  let dir: string;
  beforeEach(async () => {
    rx = await startReceiver();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-esc-"));
  });
  afterEach(async () => {
    await rx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("PagerDuty Events v2: trigger with dedup_key, stage, machine, step, error and log tail; resolve with the same key", async () => {
    const sink = new WebhookSink({ url: `${rx.url}/v2/enqueue`, format: "pagerduty", routingKey: "R0UTING" });
    await sink.trigger(incident());
    await sink.resolve(incident(), "2026-12-02T03:10:00.000Z");
    expect(rx.requests.map((r) => [r.method, r.path])).to.deep.equal([["POST", "/v2/enqueue"], ["POST", "/v2/enqueue"]]);
    const [t, r] = rx.requests.map((x) => x.body as Record<string, any>);
    expect(t).to.deep.include({ routing_key: "R0UTING", dedup_key: "lab-prod/prod-bom01-carrier1-worker-01/3", event_action: "trigger" });
    expect(t!.payload).to.deep.include({ source: "prod-bom01-carrier1-worker-01", severity: "error", component: "prod-bom01-carrier1", group: "lab-prod", class: "smith-patch" });
    expect(t!.payload.custom_details).to.deep.include({ stage: "canary", step: "patch", error: "apt failed after 3 attempt(s)", build: "3" });
    expect(t!.payload.custom_details.log_tail).to.have.length(2);
    expect(r).to.deep.equal({ routing_key: "R0UTING", dedup_key: "lab-prod/prod-bom01-carrier1-worker-01/3", event_action: "resolve" });
  });

  it("Slack: text names stage, machine, step and error, with the log tail; resolve message", async () => {
    const sink = new WebhookSink({ url: `${rx.url}/hook`, format: "slack" });
    await sink.trigger(incident());
    await sink.resolve(incident(), "2026-12-02T03:10:00.000Z");
    const [t, r] = rx.requests.map((x) => x.body as { text: string; blocks?: unknown[] });
    expect(t!.text).to.include("prod-bom01-carrier1-worker-01 failed patch of build 3 (stack lab-prod, stage canary");
    expect(t!.text).to.include("dpkg: error processing package smith-demo-svc");
    expect(t!.blocks).to.have.length(3);
    expect(r!.text).to.match(/^:white_check_mark: RESOLVED lab-prod\/prod-bom01-carrier1-worker-01\/3/);
  });

  it("HTTP errors never echo the URL (it is a secret)", async () => {
    rx.failNext(500);
    const sink = new WebhookSink({ url: `${rx.url}/secret-token-123`, format: "slack" });
    const err = await sink.trigger(incident()).then(() => null, (e: Error) => e);
    expect(err?.message).to.equal("slack webhook: HTTP 500");
    expect(() => new WebhookSink({ url: rx.url, format: "pagerduty" })).to.throw(/routing key/);
  });

  it("once per incident: retries and a resumed run (new journal object) do not notify again; resolved once", async () => {
    const sinks = [new WebhookSink({ url: `${rx.url}/hook`, format: "slack" })];
    const j1 = Journal.open(dir, "p", "3");
    const e1 = new Escalator(j1, () => sinks);
    expect(await e1.failed(incident())).to.equal(true);
    expect(await e1.failed(incident({ attempts: 2 }))).to.equal(false);
    // The process dies; the next run reads the journal from disk.
    const e2 = new Escalator(Journal.open(dir, "p", "3"), () => sinks);
    expect(await e2.failed(incident({ attempts: 3 }))).to.equal(false);
    await e2.flush();
    expect(rx.requests).to.have.length(1);
    expect(e2.openIncidents().map((i) => i.attempts)).to.deep.equal([3]);
    await e2.recovered(incident().key, "2026-12-02T03:10:00.000Z");
    await e2.recovered(incident().key, "2026-12-02T03:11:00.000Z");
    await new Escalator(Journal.open(dir, "p", "3"), () => sinks).flush();
    expect(rx.requests.map((r) => (r.body as { text: string }).text.slice(0, 20))).to.deep.equal([":rotating_light: smi", ":white_check_mark: R"]);
  });

  it("a failed send is retried by the next flush, and the rollout is told, not stopped", async () => {
    const warnings: string[] = [];
    const sinks = [new WebhookSink({ url: `${rx.url}/hook`, format: "slack" })];
    rx.failNext(503);
    const e = new Escalator(Journal.open(dir, "p", "3"), () => sinks, (l) => warnings.push(l));
    await e.failed(incident());
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.include("HTTP 503");
    await new Escalator(Journal.open(dir, "p", "3"), () => sinks).flush();
    expect(rx.requests.map((r) => r.path)).to.deep.equal(["/hook", "/hook"]);
    await new Escalator(Journal.open(dir, "p", "3"), () => sinks).flush();
    expect(rx.requests).to.have.length(2);
  });

  it("logTail keeps the last non-empty lines", () => {
    expect(logTail("a\n\nb\nc\n", 2)).to.deep.equal(["b", "c"]);
  });
});
