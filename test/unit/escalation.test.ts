import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Escalator } from "../../src/escalation/escalator";
import { DeliveryUnknown, EscalationSink, Incident, incidentKey, logTail, SendOptions } from "../../src/escalation/incident";
import { WebhookSink } from "../../src/escalation/webhook";
import { Journal, JournalData } from "../../src/pipeline/journal";
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

  it("journal states per sink: recorded, then sending (on disk before the request), then sent (on disk right after the answer)", async () => {
    const j = Journal.open(dir, "p", "3");
    const seen: string[] = [];
    const onDisk = () => (JSON.parse(fs.readFileSync(j.file, "utf8")) as JournalData).incidents[incident().key];
    const sink: EscalationSink = {
      name: "probe",
      dedupes: false,
      trigger: async () => {
        seen.push(`during the request: ${onDisk()?.deliveries?.probe?.trigger}`);
      },
      resolve: async () => {
        seen.push(`during the resolve: ${onDisk()?.deliveries?.probe?.resolve}`);
      },
    };
    const e = new Escalator(j, () => [sink]);
    await e.failed(incident());
    expect(seen).to.deep.equal(["during the request: sending"]);
    expect(onDisk()).to.deep.include({ triggerSent: true, deliveries: { probe: { trigger: "sent" } } });
    await e.recovered(incident().key, "2026-12-02T03:10:00.000Z");
    expect(seen[1]).to.equal("during the resolve: sending");
    expect(onDisk()).to.deep.include({ resolveSent: true, deliveries: { probe: { trigger: "sent", resolve: "sent" } } });
  });

  it("kill -9 during a send: the resumed run sends it again, as a possible repeat (PagerDuty folds it by dedup_key, Slack says so); nothing else repeats", async () => {
    const slack = new WebhookSink({ url: `${rx.url}/hook`, format: "slack" });
    const pd = new WebhookSink({ url: `${rx.url}/v2/enqueue`, format: "pagerduty", routingKey: "R0UTING" });
    expect([slack.dedupes, pd.dedupes]).to.deep.equal([false, true]);
    // What a run killed in the middle of its requests leaves: Slack's trigger in flight, PagerDuty's answered.
    const j = Journal.open(dir, "p", "3");
    j.data.incidents[incident().key] = { incident: incident(), state: "open", triggerSent: false, resolveSent: false, deliveries: { "slack webhook": { trigger: "sending" }, "pagerduty webhook": { trigger: "sent" } } };
    j.save();
    const e = new Escalator(Journal.open(dir, "p", "3"), () => [slack, pd]);
    await e.flush();
    expect(rx.requests.map((r) => r.path)).to.deep.equal(["/hook"]);
    expect((rx.requests[0]!.body as { text: string }).text).to.include("(possible repeat: an earlier send of this got no answer)");
    await new Escalator(Journal.open(dir, "p", "3"), () => [slack, pd]).flush();
    expect(rx.requests).to.have.length(1);
    // The same left over for PagerDuty: sent again with the same dedup_key (one alert there).
    const j2 = Journal.open(dir, "p", "3");
    j2.data.incidents[incident().key]!.deliveries!["pagerduty webhook"] = { trigger: "sending" };
    j2.data.incidents[incident().key]!.triggerSent = false;
    j2.save();
    await new Escalator(Journal.open(dir, "p", "3"), () => [slack, pd]).flush();
    expect(rx.requests.map((r) => [r.path, (r.body as { dedup_key?: string }).dedup_key])).to.deep.equal([
      ["/hook", undefined],
      ["/v2/enqueue", incident().key],
    ]);
  });

  it("one sink failing is retried alone; no answer (timeout) is a possible repeat next time; a journal from before per-sink states sends nothing again", async () => {
    const slack = new WebhookSink({ url: `${rx.url}/hook`, format: "slack" });
    const pd = new WebhookSink({ url: `${rx.url}/v2/enqueue`, format: "pagerduty", routingKey: "R0UTING" });
    rx.failNext(503); // the first request (Slack's) fails, PagerDuty's passes
    await new Escalator(Journal.open(dir, "p", "3"), () => [slack, pd]).failed(incident());
    await new Escalator(Journal.open(dir, "p", "3"), () => [slack, pd]).flush();
    expect(rx.requests.map((r) => r.path)).to.deep.equal(["/hook", "/v2/enqueue", "/hook"]);
    expect((rx.requests[2]!.body as { text: string }).text).to.not.include("possible repeat"); // a 503 delivered nothing

    const calls: string[] = [];
    let answer = false;
    const flaky: EscalationSink = {
      name: "flaky",
      dedupes: false,
      trigger: async (_i: Incident, o?: SendOptions) => {
        calls.push(`trigger repeat=${!!o?.repeat}`);
        if (!answer) throw new DeliveryUnknown("flaky: no answer (timed out); it may have arrived");
      },
      resolve: async () => undefined,
    };
    const key = incident({ machine: "m2", key: incidentKey("lab-prod", "m2", "3") });
    await new Escalator(Journal.open(dir, "q", "3"), () => [flaky]).failed(key);
    answer = true;
    await new Escalator(Journal.open(dir, "q", "3"), () => [flaky]).flush();
    await new Escalator(Journal.open(dir, "q", "3"), () => [flaky]).flush();
    expect(calls).to.deep.equal(["trigger repeat=false", "trigger repeat=true"]);

    const old = Journal.open(dir, "r", "3");
    old.data.incidents[incident().key] = { incident: incident(), state: "open", triggerSent: true, resolveSent: false };
    old.save();
    const before = rx.requests.length;
    await new Escalator(Journal.open(dir, "r", "3"), () => [slack]).flush();
    expect(rx.requests).to.have.length(before);
  });

  it("a timeout is DeliveryUnknown, a refused connection or an HTTP status is not", async () => {
    const { postJson } = await import("../../src/escalation/webhook");
    const http = await import("http");
    const silent = http.createServer(() => undefined); // never answers
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const slow = await postJson(`http://127.0.0.1:${port}/x`, {}, "w", 200).then(() => null, (e: Error) => e);
    silent.closeAllConnections();
    await new Promise((r) => silent.close(r));
    expect(slow).to.be.instanceOf(DeliveryUnknown);
    const refused = await postJson(`http://127.0.0.1:${port}/x`, {}, "w", 2000).then(() => null, (e: Error) => e);
    expect(refused).to.not.be.instanceOf(DeliveryUnknown);
    expect(refused?.message).to.equal("w: request failed: ECONNREFUSED");
    rx.failNext(500);
    const status = await postJson(`${rx.url}/x`, {}, "w").then(() => null, (e: Error) => e);
    expect(status).to.not.be.instanceOf(DeliveryUnknown);
  });

  it("logTail keeps the last non-empty lines", () => {
    expect(logTail("a\n\nb\nc\n", 2)).to.deep.equal(["b", "c"]);
  });
});
