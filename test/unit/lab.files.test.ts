import { expect } from "chai";
import { parse } from "yaml";
import { parseInventory } from "../../src/inventory/load";
import { renderInventory, renderKnownHosts, renderPulumiConfig } from "../../src/lab/files";
import { layoutLab } from "../../src/lab/layout";
import { renderStatus, StatusRow, summarize } from "../../src/lab/status";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEMwZxYNz8GKb/Ew0CxogS1x0SiHaWdk6vpZJbNlIRPF";
const cfg = { repoUrl: "http://127.0.0.1:18480", inventoryPath: ".smith/lab/inventory.yaml", keyPath: ".smith/lab/id_ed25519" };

describe("lab files", () => {
  it("writes the inventory in the planner's shape, host key and port included", () => {
    const m = layoutLab({ machines: 7, clusters: 3, regions: 1 });
    const keys = new Map(m.map((x, i) => [x.name, `${KEY}${i}`]));
    const text = renderInventory(m, keys);
    const back = parseInventory(text, "inventory.yaml");
    expect(back[0]).to.deep.equal({
      name: "dev-syd01-test-01",
      host: "127.0.1.10",
      port: 22,
      user: "root",
      environment: "dev",
      region: "ap-southeast",
      cluster: "dev-syd01-test",
      role: "test",
      hostKey: `${KEY}0`,
      labels: { site: "syd01" },
    });
    expect(back.map((x) => x.hostKey)).to.deep.equal(m.map((_, i) => `${KEY}${i}`));
    expect(text).not.to.match(/[&*]a\d/); // no YAML anchors: people read this file
  });

  it("refuses to write an inventory with a machine missing its host key", () => {
    const m = layoutLab({ machines: 7, clusters: 3, regions: 1 });
    expect(() => renderInventory(m, new Map())).to.throw(/no host key for lab machine dev-syd01-test-01/);
  });

  it("writes known_hosts lines, bracketing non-22 ports", () => {
    expect(renderKnownHosts([{ host: "127.0.1.10", port: 22, hostKey: KEY }, { host: "127.0.1.11", port: 2222, hostKey: KEY }])).to.equal(
      `127.0.1.10 ${KEY}\n[127.0.1.11]:2222 ${KEY}\n`,
    );
  });

  it("writes a fresh Pulumi.lab.yaml with plain config", () => {
    expect(parse(renderPulumiConfig(null, cfg))).to.deep.equal({
      config: {
        "smith:build": "2",
        "smith:inventory": ".smith/lab/inventory.yaml",
        "smith:waves": "waves/lab.yaml",
        "smith:repoUrl": "http://127.0.0.1:18480",
        "smith:sshUser": "root",
        "smith:sshPrivateKeyPath": ".smith/lab/id_ed25519",
      },
    });
  });

  it("keeps what the lead changed (secret key, build, other settings) and refreshes only the mirror URL", () => {
    const existing = [
      "encryptionsalt: v1:abc",
      "config:",
      '  smith:build: "3"',
      "  smith:repoUrl: http://127.0.0.1:1",
      "  smith:sshPrivateKey:",
      "    secure: v1:xyz",
      "",
    ].join("\n");
    const out = parse(renderPulumiConfig(existing, cfg));
    expect(out.encryptionsalt).to.equal("v1:abc");
    expect(out.config["smith:build"]).to.equal("3");
    expect(out.config["smith:repoUrl"]).to.equal("http://127.0.0.1:18480");
    expect(out.config["smith:sshPrivateKey"]).to.deep.equal({ secure: "v1:xyz" });
    expect(out.config).not.to.have.property("smith:sshPrivateKeyPath");
    expect(out.config["smith:waves"]).to.equal("waves/lab.yaml");
  });
});

describe("lab status rendering", () => {
  const rows: StatusRow[] = [
    { name: "a", host: "127.0.1.10", state: "up", bootId: "0123456789abcdef", build: "2", faults: [] },
    { name: "b", host: "127.0.1.11", state: "no-ssh", bootId: "fedcba9876543210", build: "1", faults: ["unreachable"] },
    { name: "c", host: "127.0.1.12", state: "rebooting", bootId: null, build: null, faults: ["slow(10s)", "health-fail"] },
  ];

  it("summarizes states and faults", () => {
    expect(summarize(rows)).to.equal("1/3 up, 1 no-ssh, 1 rebooting, 2 with faults");
    expect(summarize(rows.slice(0, 1))).to.equal("1/1 up");
  });

  it("shows one line per machine with short boot id, build and faults", () => {
    const out = renderStatus({ repoUrl: "http://127.0.0.1:18480", mirrorUp: true, rows });
    const line = (name: string) => out.split("\n").find((l) => l.includes(` ${name} `)) ?? "";
    expect(line("a")).to.match(/127\.0\.1\.10\s.*\bup\b.*01234567\s.*\b2\b.*-/);
    expect(line("b")).to.match(/no-ssh.*fedcba98.*unreachable/);
    expect(line("c")).to.match(/rebooting.*slow\(10s\),health-fail/);
    expect(out).not.to.include("0123456789abcdef");
    expect(out.trimEnd().split("\n").pop()).to.equal("1/3 up, 1 no-ssh, 1 rebooting, 2 with faults; mirror http://127.0.0.1:18480 (up)");
  });

  it("says when the mirror is down", () => {
    expect(renderStatus({ repoUrl: "http://127.0.0.1:1", mirrorUp: false, rows: [] })).to.match(/mirror http:\/\/127\.0\.0\.1:1 \(DOWN\)$/);
  });
});
