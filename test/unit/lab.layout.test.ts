import { expect } from "chai";
import fc from "fast-check";
import { UserError } from "../../src/errors";
import { parseInventory } from "../../src/inventory/load";
import { hostKeyLine, renderInventory } from "../../src/lab/files";
import { DEFAULT_SHAPE, labAddress, layoutLab, MAX_MACHINES, minMachines } from "../../src/lab/layout";

describe("lab layout", () => {
  it("lays out the default 24-machine lab: test machine, 6 clusters over 3 environments and 2 regions", () => {
    const m = layoutLab(DEFAULT_SHAPE);
    expect(m).to.have.length(24);
    expect(m[0]).to.include({ name: "dev-syd01-test-01", role: "test", environment: "dev", cluster: "dev-syd01-test", host: "127.0.1.10" });
    const clusters = [...new Set(m.filter((x) => x.role !== "test").map((x) => x.cluster))];
    expect(clusters).to.deep.equal([
      "dev-syd01-carrier1",
      "prestage-syd01-carrier1",
      "stgiks-syd01-carrier1",
      "dev-bom01-carrier1",
      "prestage-bom01-carrier1",
      "stgiks-bom01-carrier1",
    ]);
    expect([...new Set(m.map((x) => x.region))]).to.deep.equal(["ap-southeast", "ap-south"]);
    expect(m.filter((x) => x.role === "haproxy").map((x) => x.name)).to.deep.equal([
      "dev-syd01-carrier1-haproxy01",
      "dev-syd01-carrier1-haproxy02",
      "prestage-syd01-carrier1-haproxy01",
      "prestage-syd01-carrier1-haproxy02",
    ]);
    for (const c of clusters) {
      const roles = m.filter((x) => x.cluster === c).map((x) => x.role);
      expect(roles.filter((r) => r === "master"), c).to.have.length(1);
      expect(roles.filter((r) => r === "worker").length, c).to.be.greaterThan(0);
    }
    expect(m.every((x) => x.port === 22 && x.user === "root")).to.equal(true);
  });

  it("gives every machine its own 127.0.1.N address, in order", () => {
    const m = layoutLab({ machines: 40, clusters: 6, regions: 3 });
    expect(m.map((x) => x.host)).to.deep.equal(m.map((_, i) => `127.0.1.${10 + i}`));
  });

  it("leaves out haproxy pairs when there is no room for them", () => {
    const m = layoutLab({ machines: minMachines(3), clusters: 3, regions: 1 });
    expect(m).to.have.length(7);
    expect(m.some((x) => x.role === "haproxy")).to.equal(false);
  });

  it("rejects shapes that cannot be built, naming the flag", () => {
    const msg = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).to.be.instanceOf(UserError);
        return (e as Error).message;
      }
      throw new Error("expected a UserError");
    };
    expect(msg(() => layoutLab({ machines: 12, clusters: 6, regions: 2 }))).to.equal("flag --machines: must be an integer from 13 to 245 (got 12)");
    expect(msg(() => layoutLab({ machines: 24, clusters: 6, regions: 9 }))).to.match(/^flag --regions: must be an integer from 1 to 4 \(got 9\)$/);
    expect(msg(() => layoutLab({ machines: 24, clusters: 1, regions: 2 }))).to.match(/^flag --clusters: /);
    expect(msg(() => layoutLab({ machines: 999, clusters: 6, regions: 2 }))).to.match(/^flag --machines: /);
  });

  it("refuses addresses past 127.0.1.254", () => {
    expect(labAddress(MAX_MACHINES - 1)).to.equal("127.0.1.254");
    expect(() => labAddress(MAX_MACHINES)).to.throw(RangeError);
  });

  it("property: any valid shape gives exactly N unique, valid machines with a master per cluster", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((regions) =>
          fc.integer({ min: regions, max: 20 }).chain((clusters) =>
            fc.integer({ min: minMachines(clusters), max: minMachines(clusters) + 30 }).map((machines) => ({ machines, clusters, regions })),
          ),
        ),
        (shape) => {
          const m = layoutLab(shape);
          expect(m).to.have.length(shape.machines);
          expect(new Set(m.map((x) => x.name)).size).to.equal(m.length);
          expect(new Set(m.map((x) => x.host)).size).to.equal(m.length);
          expect(m.filter((x) => x.role === "test")).to.have.length(1);
          const clusters = new Set(m.filter((x) => x.role !== "test").map((x) => x.cluster));
          expect(clusters.size).to.equal(shape.clusters);
          expect(new Set(m.map((x) => x.region)).size).to.equal(Math.min(shape.regions, Math.ceil(shape.clusters / 3)));
          for (const c of clusters) expect(m.filter((x) => x.cluster === c && x.role === "master")).to.have.length(1);
          // The inventory it becomes is valid for the planner.
          const keys = new Map(m.map((x) => [x.name, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEMwZxYNz8GKb/Ew0CxogS1x0SiHaWdk6vpZJbNlIRPF"]));
          expect(parseInventory(renderInventory(m, keys), "lab.yaml")).to.have.length(m.length);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("reads a host key line without its comment", () => {
    expect(hostKeyLine("ssh-ed25519 AAAAC3Nz root@dev-syd01-test-01\n")).to.equal("ssh-ed25519 AAAAC3Nz");
    expect(() => hostKeyLine("garbage")).to.throw();
  });
});
