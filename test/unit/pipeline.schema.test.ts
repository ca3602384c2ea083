import { expect } from "chai";
import * as path from "path";
import { UserError } from "../../src/errors";
import { loadPipeline, parsePipeline } from "../../src/pipeline/load";
import { budgetClusters, pipelineStacks, stageKind } from "../../src/pipeline/schema";

const REPO = path.resolve(__dirname, "..", "..");

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(UserError);
    expect((err as Error).message).not.to.include("\n");
    return (err as Error).message;
  }
  throw new Error("expected a UserError");
}

describe("pipeline files", () => {
  it("the committed pipelines parse: production and lab run the same stages", () => {
    const prod = loadPipeline(path.join(REPO, "waves", "pipeline.yaml"));
    const lab = loadPipeline(path.join(REPO, "waves", "pipeline.lab.yaml"));
    expect(prod.stages.map((s) => s.name)).to.deep.equal(["build", "dev", "soak-review", "canary", "decision", "main", "haproxy01", "haproxy02"]);
    expect(lab.stages.map((s) => `${s.name}:${stageKind(s)}`)).to.deep.equal(prod.stages.map((s) => `${s.name}:${stageKind(s)}`));
    expect(prod.stages[2]!.soak).to.deep.equal({ hours: 24, stack: "dev", review: true });
    expect(prod.stages[4]!.approval).to.deep.equal({ stack: "prod", wave: "main" });
    expect(pipelineStacks(prod)).to.deep.equal(["dev", "prod"]);
    expect(pipelineStacks(lab)).to.deep.equal(["lab-dev", "lab-prod"]);
    expect(lab.retries).to.deep.equal({ count: 1, backoffSeconds: 2 });
  });

  it("applies defaults: 2 retries, 30 s backoff, budget 0", () => {
    const p = parsePipeline("stages:\n  - name: a\n    run: { stacks: [dev] }\n", "p.yaml");
    expect(p.retries).to.deep.equal({ count: 2, backoffSeconds: 30 });
    expect(p.failureBudget).to.equal(0);
    expect(p.source).to.equal("p.yaml");
  });

  it("a stage is exactly one kind", () => {
    expect(userError(() => parsePipeline("stages:\n  - name: a\n", "p.yaml"))).to.match(/^p\.yaml:2: stages\[0\]: a stage is exactly one of verify, run, soak, approval \(got none\)/);
    expect(userError(() => parsePipeline("stages:\n  - name: a\n    run: { stacks: [dev] }\n    soak: { hours: 1, stack: dev }\n", "p.yaml"))).to.include("(got run and soak)");
  });

  it("names file, line, field and value in one line", () => {
    expect(userError(() => parsePipeline("stages:\n  - name: a\n    run: { stacks: [dev], untilwave: x }\n", "p.yaml"))).to.equal("p.yaml:3: stages[0].run.untilwave: unknown key");
    expect(userError(() => parsePipeline("failureBudget: lots\nstages:\n  - name: a\n    run: { stacks: [dev] }\n", "p.yaml"))).to.match(/^p\.yaml:1: failureBudget: .*lots/);
    expect(userError(() => parsePipeline("stages:\n  - name: a\n    soak: { hours: 0, stack: dev }\n", "p.yaml"))).to.match(/stages\[0\]\.soak\.hours: .*\(got 0\)/);
    expect(userError(() => parsePipeline("stages:\n  - name: a\n    approval: { stack: 'bad stack', wave: main }\n", "p.yaml"))).to.include("stages[0].approval.stack");
    expect(userError(() => parsePipeline("stages:\n  - {name: a, run: {stacks: [d]}}\n  - {name: a, run: {stacks: [d]}}\n", "p.yaml"))).to.include("stages[1].name: duplicate stage name");
    expect(userError(() => parsePipeline("stages: [", "p.yaml"))).to.match(/^p\.yaml:1: invalid YAML/);
    expect(userError(() => loadPipeline("/nonexistent/p.yaml"))).to.equal("/nonexistent/p.yaml: cannot read pipeline file (ENOENT)");
  });

  it("budgets: a count, or a percentage of the wave's clusters rounded down", () => {
    expect(budgetClusters(2, 10)).to.equal(2);
    expect(budgetClusters("25%", 10)).to.equal(2);
    expect(budgetClusters("10%", 5)).to.equal(0);
    expect(budgetClusters("100%", 3)).to.equal(3);
  });
});
