import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { resolveProjectDir } from "../../src/pipeline/project-dir";
import { seedProject } from "../../src/platform/project";

describe("writable project dir (src/platform/project.ts, src/pipeline/project-dir.ts)", () => {
  let t: string;
  let code: string;
  let proj: string;
  beforeEach(() => {
    t = fs.mkdtempSync(path.join(os.tmpdir(), "smith-seed-"));
    code = path.join(t, "opt", "smith");
    proj = path.join(t, "vol", ".project");
    fs.mkdirSync(path.join(code, "waves"), { recursive: true });
    fs.mkdirSync(path.join(code, "node_modules"));
    fs.mkdirSync(path.join(code, ".smith"));
    fs.writeFileSync(path.join(code, "Pulumi.yaml"), "name: smith\nruntime:\n  name: nodejs\n");
    fs.writeFileSync(path.join(code, "Pulumi.prod.yaml"), 'config:\n  smith:build: "1"\n');
    fs.writeFileSync(path.join(code, "inventory.yaml"), "machines: []\n");
  });
  afterEach(() => fs.rmSync(t, { recursive: true, force: true }));

  it("first run: Pulumi.yaml with main = the code, stack files copied, the rest linked (not node_modules, dot entries)", () => {
    const r = seedProject(code, proj);
    expect(r).to.deep.equal({ written: ["Pulumi.yaml"], copied: ["Pulumi.prod.yaml"], kept: [], linked: ["inventory.yaml", "waves"] });
    expect(parse(fs.readFileSync(path.join(proj, "Pulumi.yaml"), "utf8"))).to.deep.equal({ name: "smith", runtime: { name: "nodejs" }, main: code });
    expect(fs.lstatSync(path.join(proj, "Pulumi.prod.yaml")).isSymbolicLink()).to.equal(false);
    expect(fs.readlinkSync(path.join(proj, "waves"))).to.equal(path.join(code, "waves"));
    expect(fs.existsSync(path.join(proj, "node_modules"))).to.equal(false);
    expect(fs.existsSync(path.join(proj, ".smith"))).to.equal(false);
  });

  it("later runs keep what runs and approvals wrote, add new stacks, follow the code, keep an operator's real file", () => {
    seedProject(code, proj);
    fs.writeFileSync(path.join(proj, "Pulumi.prod.yaml"), 'config:\n  smith:build: "7"\n  smith:approvals:\n    - main@7\n');
    fs.writeFileSync(path.join(code, "Pulumi.dev.yaml"), "config: {}\n");
    fs.rmSync(path.join(proj, "inventory.yaml"));
    fs.writeFileSync(path.join(proj, "inventory.yaml"), "machines: [] # operator's\n");
    const r = seedProject(code, proj);
    expect(r).to.deep.equal({ written: ["Pulumi.yaml"], copied: ["Pulumi.dev.yaml"], kept: ["Pulumi.prod.yaml"], linked: ["waves"] });
    expect(fs.readFileSync(path.join(proj, "Pulumi.prod.yaml"), "utf8")).to.include("main@7");
    expect(fs.readFileSync(path.join(proj, "inventory.yaml"), "utf8")).to.include("operator's");
  });

  it("refuses a source without Pulumi.yaml and --to equal to --from", () => {
    expect(() => seedProject(path.join(t, "nowhere"), proj)).to.throw(/^flag --from: .* has no Pulumi.yaml/);
    expect(() => seedProject(code, code)).to.throw(/^flag --to: must differ from --from/);
  });

  it("--project-dir, then $SMITH_PROJECT_DIR, then the repo; it must hold a Pulumi.yaml", () => {
    seedProject(code, proj);
    expect(resolveProjectDir(undefined, {}, "/repo")).to.equal("/repo");
    expect(resolveProjectDir(undefined, { SMITH_PROJECT_DIR: proj }, "/repo")).to.equal(proj);
    expect(resolveProjectDir(".project", { SMITH_PROJECT_DIR: "/elsewhere" }, "/repo", path.join(t, "vol"))).to.equal(proj);
    expect(() => resolveProjectDir(path.join(t, "vol"), {}, "/repo")).to.throw(/^flag --project-dir: must be a Pulumi project directory \(no Pulumi.yaml in ".*vol"; smith project seed makes one\)$/);
    expect(() => resolveProjectDir(undefined, { SMITH_PROJECT_DIR: "/nope" }, "/repo")).to.throw(/^\$SMITH_PROJECT_DIR: must be/);
  });
});
