import { expect } from "chai";
import { CliHistory } from "../../src/audit/cli-backend";
import { patchEvents } from "../../src/audit/events";
import type { PulumiRunner } from "../../src/audit/pulumi-cli";
import { stackOf } from "../../src/audit/pulumi-cli";

const patchLine = (build: string, t: string) =>
  JSON.stringify({ build, previous: String(Number(build) - 1), noop: false, changed: [], changedCount: 0, rebootRequired: false, attempts: 1, startedAt: t, finishedAt: t, durationMs: 1 });
const deployment = (build: string, t: string) => ({
  version: 3,
  deployment: { resources: [{ urn: "urn:pulumi:prod::smith::smith:fleet:NodePatch$command:remote:Command::m1-patch", type: "command:remote:Command", outputs: { stdout: patchLine(build, t) } }] },
});

/** Pulumi Cloud as the CLI shows it: numbered updates, `stack export --version N` for each. */
function cloudRunner(): PulumiRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async run(args) {
      calls.push(args.join(" "));
      if (args[1] === "history") {
        return {
          code: 0,
          stderr: "",
          stdout: JSON.stringify([
            { version: 2, kind: "update", startTime: "2026-12-02T10:00:00Z", endTime: "2026-12-02T10:05:00Z", result: "succeeded", requestedBy: { name: "Alice", githubLogin: "alice" }, config: { "smith:build": { value: "3", secret: false } } },
            { version: 1, kind: "update", startTime: "2026-12-01T10:00:00Z", endTime: "2026-12-01T10:05:00Z", result: "succeeded", environment: { "ci.system": "GitHub", "ci.build.id": "77" }, config: { "smith:build": { value: "2", secret: false } } },
          ]),
        };
      }
      if (args[1] === "export") {
        const v = args[args.indexOf("--version") + 1];
        if (v === "1") return { code: 0, stderr: "", stdout: JSON.stringify(deployment("2", "2026-12-01T10:01:00Z")) };
        return { code: 0, stderr: "", stdout: JSON.stringify(deployment("3", "2026-12-02T10:01:00Z")) };
      }
      return { code: 1, stdout: "", stderr: "error: unexpected" };
    },
  };
}

describe("audit: backends with numbered updates, through the CLI", () => {
  it("reads every version's state and names who ran each update", async () => {
    const runner = cloudRunner();
    const r = await new CliHistory(runner, "https://api.pulumi.example").read("prod");
    expect(r.updates.map((u) => [u.id, u.build, u.ranBy])).to.deep.equal([
      ["1", "2", "GitHub build 77"],
      ["2", "3", "alice"],
    ]);
    expect(patchEvents(r).map((e) => `${e.build}@${e.updateId}`)).to.deep.equal(["2@1", "3@2"]);
    expect(runner.calls).to.deep.equal(["stack history --json -s prod", "stack export -s prod --version 2", "stack export -s prod --version 1", "stack export -s prod"]);
  });

  it("an unknown stack is the CLI's one-line reason", async () => {
    const runner: PulumiRunner = { run: async () => ({ code: 255, stdout: "", stderr: "error: no stack named 'nope' found\n" }) };
    await new CliHistory(runner, "x").read("nope").then(
      () => expect.fail("no error"),
      (e: Error) => expect(e.message).to.equal("--stack nope (backend x): no stack named 'nope' found"),
    );
  });

  it("finds the stack a command line names", () => {
    expect(stackOf(["config", "--json", "-s", "dev"])).to.equal("dev");
    expect(stackOf(["preview", "--stack=lab-x"])).to.equal("lab-x");
    expect(stackOf(["version"])).to.equal(undefined);
  });
});
