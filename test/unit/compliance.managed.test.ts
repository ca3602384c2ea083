import { expect } from "chai";
import { managedMachines } from "../../src/compliance/managed";
import type { Machine } from "../../src/inventory/schema";
import { parseWaves } from "../../src/waves/load";

const m = (name: string, environment: string, cluster: string, role = "worker"): Machine => ({ name, host: `${name}.example`, environment, region: "ap-south", cluster, role });

describe("compliance: the machines a stack answers for", () => {
  const inventory = [m("dev-1", "dev", "dev-c1", "test"), m("dev-2", "dev", "dev-c1"), m("prod-1", "prod", "prod-c1"), m("prod-2", "prod", "prod-c1")];

  it("keeps the machines the stack's waves take and leaves another scope's machines to their stack", () => {
    const waves = parseWaves("scope:\n  environment: [dev]\nwaves:\n  - name: test\n    select: { role: test }\n  - name: rest\n", "dev.yaml");
    expect(managedMachines(inventory, waves).map((x) => x.name)).to.deep.equal(["dev-1", "dev-2"]);
  });

  it("a machine no wave selects is not the stack's, even inside its scope", () => {
    const waves = parseWaves("scope:\n  environment: [prod]\nwaves:\n  - name: only-first\n    select: { name: prod-1 }\n", "prod.yaml");
    expect(managedMachines(inventory, waves).map((x) => x.name)).to.deep.equal(["prod-1"]);
  });
});
