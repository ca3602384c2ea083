import { expect } from "chai";
import { renderChangeMarkdown } from "../../src/change/markdown";
import type { ChangeRecord } from "../../src/change/record";
import { ServiceNowSink } from "../../src/change/servicenow";
import { Receiver, startReceiver } from "../support/receiver";

const record = (over: Partial<ChangeRecord> = {}): ChangeRecord => ({
  schema: "smith.change-record/v1",
  pipeline: "waves/pipeline.lab.yaml",
  build: "3",
  startedAt: "2026-12-02T03:00:00.000Z",
  updatedAt: "2026-12-02T03:20:00.000Z",
  result: "completed",
  stages: [{ name: "dev", kind: "run", result: "done", startedAt: "2026-12-02T03:00:00.000Z", finishedAt: "2026-12-02T03:05:00.000Z", detail: "lab-dev: test | sample" }],
  machines: [
    { stack: "lab-dev", stage: "dev", wave: "test", cluster: "dev-syd01-test", machine: "dev-syd01-test-01", build: "3", previous: "2", packages: [{ name: "smith-demo-kernel", from: "1.1", to: "1.2" }], startedAt: "2026-12-02T03:01:00Z", finishedAt: "2026-12-02T03:01:03Z", rebooted: true, result: "patched", attempts: 0 },
    { stack: "lab-dev", stage: "dev", wave: "sample", cluster: "c1", machine: "m2", build: "2", previous: "2", packages: [], startedAt: null, finishedAt: null, rebooted: false, result: "halted", attempts: 2, error: "patch: apt failed" },
  ],
  incidents: [{ key: "lab-dev/m2/3", machine: "m2", stack: "lab-dev", step: "patch", error: "apt failed", state: "open", openedAt: "2026-12-02T03:02:00.000Z", attempts: 2 }],
  ...over,
});

describe("change record", () => {
  it("Markdown: summary counts, stages (pipes escaped), every machine with build and packages, incidents", () => {
    const md = renderChangeMarkdown(record());
    expect(md).to.include("# Change record: build 3 (waves/pipeline.lab.yaml)");
    expect(md).to.include("- Machines: 2 (patched 1, unchanged 0, failed 0, halted 1, held 0, pending 0)");
    expect(md).to.include("| lab-dev: test \\| sample |");
    expect(md).to.include("| dev-syd01-test-01 | lab-dev | dev | test | dev-syd01-test | 2 → 3 | patched | 2026-12-02T03:01:00Z | 2026-12-02T03:01:03Z | yes | smith-demo-kernel 1.1 → 1.2 |");
    expect(md).to.include("| m2 | lab-dev | dev | sample | c1 | 2 | halted: patch: apt failed |");
    expect(md).to.include("| lab-dev/m2/3 | patch | open |");
    expect(renderChangeMarkdown(record({ incidents: [] }))).to.include("## Incidents\n\nNone.");
  });

  describe("ServiceNow sink (Table API)", () => {
    let rx: Receiver;
    beforeEach(async () => (rx = await startReceiver()));
    afterEach(() => rx.close());

    it("opens a change_request, adds work notes, closes it with the result", async () => {
      const sn = new ServiceNowSink({ instance: rx.url, user: "smith", password: "pw" });
      const ref = await sn.open(record());
      expect(ref).to.equal("sys1");
      await sn.note(ref, "stage dev (run): done");
      await sn.close(ref, record());
      expect(rx.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
        "POST /api/now/table/change_request",
        "PATCH /api/now/table/change_request/sys1",
        "PATCH /api/now/table/change_request/sys1",
      ]);
      expect(rx.requests[0]!.headers.authorization).to.equal(`Basic ${Buffer.from("smith:pw").toString("base64")}`);
      expect(rx.requests[0]!.body).to.deep.include({ short_description: "smith: OS patch build 3 (waves/pipeline.lab.yaml)", type: "standard" });
      expect(rx.requests[1]!.body).to.deep.equal({ work_notes: "stage dev (run): done" });
      const close = rx.requests[2]!.body as Record<string, string>;
      expect(close.close_code).to.equal("successful_issues");
      expect(close.close_notes).to.equal("build 3: completed; patched 1, unchanged 0, failed 0, halted 1");
      expect(close.work_notes).to.include("# Change record: build 3");
    });

    it("an HTTP error names method and path", async () => {
      rx.failNext(401);
      const err = await new ServiceNowSink({ instance: rx.url, user: "u", password: "p" }).open(record()).then(() => null, (e: Error) => e);
      expect(err?.message).to.equal("servicenow POST /api/now/table/change_request: HTTP 401");
    });
  });
});
