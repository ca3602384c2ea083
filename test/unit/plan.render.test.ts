import { expect } from "chai";
import { renderPlan } from "../../src/plan/render";
import type { Plan } from "../../src/plan/types";

const plan: Plan = {
  build: "42",
  waves: [
    { name: "canary", gate: { approval: false, soak: { hours: 24, stack: "dev" } }, clusters: [{ cluster: "prod-bom01-carrier1", nodes: ["prod-bom01-carrier1-worker-01", "prod-bom01-carrier1-master-01"] }] },
    {
      name: "main",
      gate: { approval: true },
      clusters: [
        { cluster: "prod-syd01-carrier1", nodes: ["prod-syd01-carrier1-worker-01"], concurrency: 2 },
        { cluster: "prod-syd01-carrier2", nodes: ["prod-syd01-carrier2-worker-01"] },
      ],
    },
    { name: "haproxy01/phase-1", gate: null, clusters: [{ cluster: "prod-syd01-carrier1", nodes: ["prod-syd01-carrier1-haproxy01"] }], phase: { index: 1, of: 1, wave: "haproxy01" } },
  ],
  unassigned: [
    { name: "dev-syd01-test-01", reason: "environment dev is not in scope of waves/production.yaml" },
    { name: "dev-syd01-carrier1-worker-01", reason: "environment dev is not in scope of waves/production.yaml" },
    { name: "prod-x", reason: "no wave in waves/production.yaml selects it" },
  ],
};

describe("plan: renderers", () => {
  it("json keeps the contract: build, waves (name, gate, phase, clusters), unassigned", () => {
    const out = JSON.parse(renderPlan(plan, "json"));
    expect(Object.keys(out)).to.deep.equal(["build", "waves", "unassigned"]);
    expect(out).to.deep.equal(plan);
    expect(Object.keys(out.waves[0])).to.deep.equal(["name", "gate", "clusters"]);
    expect(Object.keys(out.waves[2])).to.deep.equal(["name", "gate", "phase", "clusters"]);
    expect(out.waves[2].gate).to.equal(null);
  });

  it("table: one row per cluster, gates described, short node names, unassigned grouped by reason", () => {
    const out = renderPlan(plan, "table");
    expect(out.split("\n")[0]).to.equal("build 42: 3 waves, 5 machines planned, 3 unassigned");
    expect(out).to.include("soak 24h after stack dev").and.include("approval").and.include("none");
    expect(out).to.include("worker-01, master-01");
    expect(out).to.include("[2 at a time] worker-01");
    expect(out).to.include("prod-syd01-carrier2");
    expect(out).to.include("\nunassigned (2): environment dev is not in scope of waves/production.yaml: dev-syd01-test-01, dev-syd01-carrier1-worker-01\n");
    expect(out.endsWith("\nunassigned (1): no wave in waves/production.yaml selects it: prod-x")).to.equal(true);
    // The test machine's short name would be a bare number: it keeps its full name.
    expect(out).to.include("dev-syd01-test-01");
  });

  it("markdown: summary table, mermaid diagram with gates, folded details, unassigned", () => {
    const out = renderPlan(plan, "markdown");
    expect(out).to.include("## smith plan for build 42");
    expect(out).to.include("| 1 | `canary` | soak 24h after stack dev | 1 | 2 |");
    expect(out).to.include("| 2 | `main` | approval | 2 | 2 |");
    expect(out).to.include("| 3 | `haproxy01/phase-1` | none | 1 | 1 |");
    const mermaid = out.slice(out.indexOf("```mermaid"), out.indexOf("```", out.indexOf("```mermaid") + 3));
    expect(mermaid.split("\n").slice(1).map((l) => l.trim())).to.deep.equal([
      "flowchart TD",
      'g1{{"soak 24h after stack dev"}}',
      'w1["canary<br/>1 cluster, 2 machines"]',
      "g1 --> w1",
      'g2{{"approval"}}',
      "w1 --> g2",
      'w2["main<br/>2 clusters, 2 machines"]',
      "g2 --> w2",
      'w3["haproxy01/phase-1<br/>1 cluster, 1 machine"]',
      "w2 --> w3",
      "",
    ]);
    expect(out).to.include("<details><summary><code>main</code>: 2 machines in 2 clusters</summary>");
    expect(out).to.include("| `prod-syd01-carrier1` | (2 at a time) worker-01 |");
    expect(out).to.include("| 2 | environment dev is not in scope of waves/production.yaml |");
    expect(out).to.include("- `prod-x`: no wave in waves/production.yaml selects it");
  });

  it("renders an empty plan", () => {
    const empty: Plan = { build: "1", waves: [], unassigned: [] };
    expect(renderPlan(empty, "table")).to.equal("build 1: 0 waves, 0 machines planned, 0 unassigned");
    expect(JSON.parse(renderPlan(empty, "json"))).to.deep.equal(empty);
    expect(renderPlan(empty, "markdown")).to.include("0 waves, 0 machines planned");
  });
});
