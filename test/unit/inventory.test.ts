import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UserError } from "../../src/errors";
import { generateFleet, syntheticHostKey } from "../../src/inventory/generate";
import { loadInventory, parseInventory } from "../../src/inventory/load";
import { InventoryFileSchema, MachineSchema } from "../../src/inventory/schema";
import { YamlInventorySource } from "../../src/inventory/source";

const good = `
machines:
  - name: dev-syd01-carrier1-master-01
    host: 10.0.0.1
    environment: dev
    region: ap-southeast
    cluster: dev-syd01-carrier1
    role: master
    port: 2222
    user: smith
    hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEMwZxYNz8GKb/Ew0CxogS1x0SiHaWdk6vpZJbNlIRPF host-1
    labels: { site: syd01 }
  - { name: dev-syd01-carrier1-worker-01, host: w1.example.net, environment: dev, region: ap-southeast, cluster: dev-syd01-carrier1, role: worker }
`;

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(UserError);
    const message = (err as Error).message;
    expect(message).not.to.include("\n");
    return message;
  }
  throw new Error("expected a UserError");
}

async function userErrorAsync(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(UserError);
    expect((err as Error).message).not.to.include("\n");
    return (err as Error).message;
  }
  throw new Error("expected a UserError");
}

const machine = (fields: string) =>
  `machines:\n  - name: a1\n    host: 10.0.0.1\n    environment: dev\n    region: r1\n    cluster: c1\n    role: worker\n${fields}`;

describe("inventory: parseInventory", () => {
  it("parses machines with all fields", () => {
    const ms = parseInventory(good, "inv.yaml");
    expect(ms.map((m) => m.name)).to.deep.equal(["dev-syd01-carrier1-master-01", "dev-syd01-carrier1-worker-01"]);
    expect(ms[0]).to.include({ port: 2222, user: "smith", cluster: "dev-syd01-carrier1" });
    expect(ms[0].labels).to.deep.equal({ site: "syd01" });
    expect(ms[1].port).to.equal(undefined);
  });

  // Each bad input must produce one line naming the file (with line), field and value.
  const cases: { what: string; text: string; expect: RegExp }[] = [
    { what: "malformed YAML", text: "machines:\n  - name: a\n   host: [\n", expect: /^inv\.yaml:\d+: invalid YAML: / },
    { what: "unknown key", text: machine("    colour: blue\n"), expect: /^inv\.yaml:8: machines\[0\]\.colour: unknown key/ },
    { what: "unknown top-level key", text: "hosts: []\nmachines: []\n", expect: /^inv\.yaml:1: hosts: unknown key/ },
    { what: "missing cluster", text: machine("").replace("    cluster: c1\n", ""), expect: /^inv\.yaml:2: machines\[0\]\.cluster: is required/ },
    { what: "host with shell metacharacters", text: machine("").replace("10.0.0.1", '"a;rm -rf /"'), expect: /^inv\.yaml:3: machines\[0\]\.host: host must be .* \(got "a;rm -rf \/"\)/ },
    { what: "name with $()", text: machine("").replace("name: a1", 'name: "a$(id)"'), expect: /machines\[0\]\.name: name must be .*\(got "a\$\(id\)"\)/ },
    { what: "name with backtick", text: machine("").replace("name: a1", "name: 'a`id`'"), expect: /machines\[0\]\.name: .*\(got "a`id`"\)/ },
    { what: "port out of range", text: machine("    port: 70000\n"), expect: /machines\[0\]\.port: .*\(got 70000\)/ },
    { what: "label value with space", text: machine("    labels: { tier: 'a b' }\n"), expect: /machines\[0\]\.labels\.tier: label value .*\(got "a b"\)/ },
    { what: "bad hostKey", text: machine("    hostKey: 'ssh-ed25519 AAAA; reboot'\n"), expect: /machines\[0\]\.hostKey: hostKey must be/ },
    { what: "duplicate names in one file", text: good + good.replace("machines:\n", ""), expect: /^inv\.yaml: machines\[2\]\.name: duplicate machine name "dev-syd01-carrier1-master-01" \(already used by machines\[0\]\)/ },
    { what: "duplicate YAML keys", text: machine("    role: master\n"), expect: /^inv\.yaml:\d+: invalid YAML: .*unique/i },
    { what: "unknown key with a newline", text: machine('    "a\\nb": 1\n'), expect: /^inv\.yaml:8: machines\[0\]\["a\\nb"\]: unknown key$/ },
    { what: "machines not a list", text: "machines: {}\n", expect: /^inv\.yaml:1: machines: .*expected array/ },
    { what: "empty file", text: "", expect: /^inv\.yaml: .*expected object/ },
  ];
  for (const c of cases) {
    it(`rejects ${c.what} with one line naming file, field and value`, () => {
      expect(userError(() => parseInventory(c.text, "inv.yaml"))).to.match(c.expect);
    });
  }

  it("accepts YAML aliases shared by many machines", () => {
    let text = "machines:\n";
    for (let i = 0; i < 500; i++) {
      text += `  - {name: m${i}, host: h${i}, environment: dev, region: r, cluster: c, role: worker, labels: ${i === 0 ? "&common {site: syd01}" : "*common"}}\n`;
    }
    const ms = parseInventory(text, "inv.yaml");
    expect(ms).to.have.length(500);
    expect(ms[499].labels).to.deep.equal({ site: "syd01" });
  });

  it("rejects an alias bomb as a user error, not a crash", () => {
    const levels = ["a: &a [x,x,x,x,x,x,x,x,x]"];
    for (let i = 1; i < 8; i++) levels.push(`l${i}: &l${i} [${Array(9).fill(i === 1 ? "*a" : `*l${i - 1}`).join(",")}]`);
    expect(userError(() => parseInventory(levels.join("\n") + "\n", "bomb.yaml"))).to.match(/^bomb\.yaml: invalid YAML: Excessive alias count/);
  });

  it("reports every problem of a file in one error", () => {
    const text = machine("    colour: blue\n").replace("10.0.0.1", "'a b'");
    const msg = userError(() => parseInventory(text, "inv.yaml"));
    expect(msg).to.include("machines[0].host").and.include("machines[0].colour").and.include("(and 1 more");
  });
});

describe("inventory: loadInventory and YamlInventorySource", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-inv-"));
    fs.writeFileSync(path.join(dir, "a.yaml"), good);
    fs.writeFileSync(path.join(dir, "b.yaml"), machine(""));
    fs.writeFileSync(path.join(dir, "dup.yaml"), good.replace("10.0.0.1", "10.0.0.9"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("merges machines from several files in order", async () => {
    const src = new YamlInventorySource([path.join(dir, "a.yaml"), path.join(dir, "b.yaml")]);
    expect(src.describe()).to.include("a.yaml").and.include("b.yaml");
    expect((await src.load()).map((m) => m.name)).to.deep.equal(["dev-syd01-carrier1-master-01", "dev-syd01-carrier1-worker-01", "a1"]);
  });

  it("rejects a name repeated across files, naming both files", async () => {
    const a = path.join(dir, "a.yaml");
    const dup = path.join(dir, "dup.yaml");
    const msg = await userErrorAsync(loadInventory([a, dup]));
    expect(msg).to.equal(
      `${dup}: machines[0].name: duplicate machine name "dev-syd01-carrier1-master-01" (already used by ${a} machines[0]) ` +
        `(and 1 more: ${dup}: machines[1].name: duplicate machine name "dev-syd01-carrier1-worker-01" (already used by ${a} machines[1]))`,
    );
  });

  it("reads files fresh on every load", async () => {
    const f = path.join(dir, "fresh.yaml");
    fs.writeFileSync(f, machine(""));
    const src = new YamlInventorySource([f]);
    expect((await src.load())[0].role).to.equal("worker");
    fs.writeFileSync(f, machine("").replace("role: worker", "role: master"));
    expect((await src.load())[0].role).to.equal("master");
  });

  it("refuses a device, a FIFO, a directory and a huge file quickly, in one line (issue 7 §5)", async () => {
    const fifo = path.join(dir, "fifo.yaml");
    require("child_process").execFileSync("mkfifo", [fifo]);
    // A FIFO nobody writes to would block a reader forever; /dev/zero never ends.
    expect(await userErrorAsync(loadInventory([fifo]))).to.equal(`${fifo}: cannot read inventory file: not a regular file (a FIFO)`);
    expect(await userErrorAsync(loadInventory(["/dev/zero"]))).to.equal("/dev/zero: cannot read inventory file: not a regular file (a character device)");
    expect(await userErrorAsync(loadInventory([dir]))).to.equal(`${dir}: cannot read inventory file: not a regular file (a directory)`);
    const huge = path.join(dir, "huge.yaml");
    fs.writeFileSync(huge, "");
    fs.truncateSync(huge, 33 * 1024 * 1024); // sparse: nothing written, stat says 33 MiB
    expect(await userErrorAsync(loadInventory([huge]))).to.equal(`${huge}: cannot read inventory file: too large (34603008 bytes; at most 33554432)`);
  });

  it("lists the first ten problems and counts the rest, on one line (issue 7 §5)", async () => {
    const f = path.join(dir, "many.yaml");
    const bad = Array.from({ length: 25 }, (_, i) => `  - { name: m${i}, host: "bad host ${i}", environment: dev, region: r, cluster: c, role: w }`);
    fs.writeFileSync(f, ["machines:", ...bad].join("\n"));
    const msg = await userErrorAsync(loadInventory([f]));
    expect(msg).to.not.contain("\n");
    expect(msg).to.match(/\(and 24 more: /);
    expect(msg.match(/machines\[\d+\]\.host/g)).to.have.length(10);
    expect(msg).to.match(/; … 15 not shown\)$/);
  });

  it("names a missing file", async () => {
    expect(await userErrorAsync(loadInventory([path.join(dir, "nope.yaml")]))).to.match(/nope\.yaml: cannot read inventory file \(ENOENT\)/);
    expect(await userErrorAsync(loadInventory([]))).to.match(/no inventory file/);
  });
});

describe("inventory: generateFleet", () => {
  it("is deterministic and valid against the schema", () => {
    const a = generateFleet({ machines: 300, clusters: 12, seed: 7 });
    const b = generateFleet({ machines: 300, clusters: 12, seed: 7 });
    expect(a).to.deep.equal(b);
    expect(a).to.have.length(300);
    expect(InventoryFileSchema.safeParse({ machines: a }).success).to.equal(true);
    expect(new Set(a.map((m) => m.name)).size).to.equal(300);
    expect(new Set(a.map((m) => m.host)).size).to.equal(300);
  });

  it("builds realistic clusters: masters, workers, a haproxy pair, one dev test machine", () => {
    const fleet = generateFleet({ machines: 400, clusters: 16 });
    const tests = fleet.filter((m) => m.role === "test");
    expect(tests).to.have.length(1);
    expect(tests[0].environment).to.equal("dev");
    expect(new Set(fleet.map((m) => m.environment))).to.deep.equal(new Set(["dev", "prestage", "stgiks", "prod"]));
    expect(fleet.some((m) => m.region === "ap-south")).to.equal(true);
    const carriers = new Set(fleet.filter((m) => m.role !== "test").map((m) => m.cluster));
    expect(carriers.size).to.equal(16);
    for (const c of carriers) {
      const names = fleet.filter((m) => m.cluster === c).map((m) => m.name);
      expect(names).to.include.members([`${c}-haproxy01`, `${c}-haproxy02`, `${c}-master-01`, `${c}-master-03`, `${c}-worker-01`]);
    }
    expect(fleet.map((m) => m.name)).to.include("prod-syd01-carrier1-worker-06");
  });

  it("honours options (lab-sized fleet, hosts, no host keys)", () => {
    const lab = generateFleet({
      machines: 24,
      clusters: 3,
      environments: ["dev", "prestage", "stgiks"],
      sites: [{ region: "lab", site: "lab01" }],
      masters: 1,
      host: (_n, i) => `127.0.1.${i + 1}`,
      hostKeys: false,
    });
    expect(lab).to.have.length(24);
    expect(lab[23].host).to.equal("127.0.1.24");
    expect(lab.every((m) => m.hostKey === undefined)).to.equal(true);
    expect(lab.filter((m) => m.role === "master")).to.have.length(3);
    expect(() => generateFleet({ machines: 5, clusters: 3 })).to.throw(/cannot hold/);
  });

  it("synthetic host keys are well-formed authorized_keys lines", () => {
    const key = syntheticHostKey("x");
    expect(MachineSchema.shape.hostKey.safeParse(key).success).to.equal(true);
    expect(Buffer.from(key.split(" ")[1], "base64")).to.have.length(51);
  });
});
