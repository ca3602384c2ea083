import { expect } from "chai";
import { userError } from "../support/user-error";
import * as fs from "fs";
import * as path from "path";
import { latestPublishedBuild } from "../../src/pipeline/latest";
import { loadPipeline, parsePipeline } from "../../src/pipeline/load";
import { budgetClusters, pipelineStacks, stageKind } from "../../src/pipeline/schema";

const REPO = path.resolve(__dirname, "..", "..");


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

  it("every committed pipeline file (waves/pipeline*.yaml) parses", () => {
    const files = fs.readdirSync(path.join(REPO, "waves")).filter((f) => /^pipeline.*\.ya?ml$/.test(f));
    expect(files).to.include.members(["pipeline.yaml", "pipeline.lab.yaml"]);
    for (const f of files) expect(loadPipeline(path.join(REPO, "waves", f)).stages.length, f).to.be.greaterThan(0);
  });

  it("--build latest: the newest build the mirror labels as itself, after the stack's", async () => {
    const served = new Set([3, 4, 5]);
    const asked: string[] = [];
    const fetchText = async (url: string) => {
      asked.push(url);
      const n = Number(/builds\/(\d+)\//.exec(url)![1]);
      return served.has(n) ? { status: 200, text: `Origin: smith\nLabel: smith-build-${n}\n` } : { status: 404, text: "" };
    };
    expect(await latestPublishedBuild("http://m/mirror-a/", 3, fetchText)).to.equal(5);
    expect(asked).to.deep.equal(["http://m/mirror-a/builds/4/dists/smith/Release", "http://m/mirror-a/builds/5/dists/smith/Release", "http://m/mirror-a/builds/6/dists/smith/Release"]);
    expect(await latestPublishedBuild("http://m", 5, fetchText)).to.equal(null);
    expect(await latestPublishedBuild("http://m", 3, async () => ({ status: 200, text: "Label: builds/4 smith\n" }))).to.equal(null);
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
