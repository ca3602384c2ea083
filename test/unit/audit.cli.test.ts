/**
 * The report commands' flags, in-process through `main`, against the committed fixture backend
 * (PULUMI_BACKEND_URL=file://test/fixtures/audit): one-line errors, exit codes, nothing yet.
 */
import { expect } from "chai";
import * as path from "path";
import { runSmith } from "../support/cli";

const FIXTURE = path.resolve(__dirname, "..", "fixtures", "audit");

const smith = (...args: string[]) => runSmith(args, { PULUMI_BACKEND_URL: `file://${FIXTURE}` });

describe("cli: smith audit / compliance / status / pr-comment flags", () => {
  it("audit reads the backend PULUMI_BACKEND_URL names", async () => {
    const r = await smith("audit", "--stack", "lab-audit", "--format", "csv", "--machine", "dev-syd01-test-*");
    expect(r.code, r.err).to.equal(0);
    expect(r.out.trim().split("\n")).to.have.length(1 + 2 * 3);
  });

  for (const [args, msg] of [
    [["audit", "--stack", "nope"], `smith: --stack nope: no such stack of project smith in file://${FIXTURE} (stacks: lab-audit)`],
    [["audit", "--stack", "a;b"], 'smith: flag --stack: not a stack name (got "a;b")'],
    [["audit", "--stack", "lab-audit", "--until", "yesterday"], 'smith: flag --until: not a date, use ISO 8601 like 2026-12-01 or 2026-12-01T12:00:00Z (got "yesterday")'],
    [["compliance", "--stack", "lab-audit", "--concurrency", "0"], 'smith: flag --concurrency: must be a positive integer (got "0")'],
    [["compliance", "--stack", "lab-audit", "--policy", "/nonexistent.yaml"], "smith: --policy /nonexistent.yaml: cannot read (ENOENT)"],
    [["pr-comment", "--stack", "lab-audit", "--post", "--repo", "x"], 'smith: flag --repo: must be owner/name (got "x")'],
    [["pr-comment", "--stack", "lab-audit", "--post", "--repo", "o/r", "--pr", "abc"], 'smith: flag --pr: must be a pull request number (got "abc")'],
  ] as const) {
    it(`${args.join(" ")} → one line, exit 2`, async () => {
      const r = await smith(...args);
      expect(r.code).to.equal(2);
      expect(r.err).to.equal(`${msg}\n`);
      expect(r.out).to.equal("");
    });
  }

  it("a missing --stack and an unknown format are commander's one-line errors", async () => {
    expect((await smith("status")).code).to.equal(2);
    const r = await smith("compliance", "--stack", "x", "--format", "xml");
    expect(r.code).to.equal(2);
    expect(r.err.trim().split("\n")).to.have.length(1);
  });
});
