import { expect } from "chai";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { manifestSource, UrlManifests } from "../../src/compliance/manifests";
import { auditTestManifests, writeManifests } from "../support/manifests";

describe("compliance: where manifests come from", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-manifests-"));
    writeManifests(path.join(dir, "publish", "builds"), auditTestManifests());
    fs.mkdirSync(path.join(dir, "publish", "builds", "tmp"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("a builds directory: every numbered build from the lowest asked for", async () => {
    const m = await manifestSource(path.join(dir, "publish", "builds")).load(2, [2]);
    expect([...m.keys()].sort()).to.deep.equal([2, 3]);
  });

  it("a builds config: its publishDir, relative to the file", async () => {
    fs.writeFileSync(path.join(dir, "builds.yaml"), "publishDir: publish\n");
    const m = await manifestSource(path.join(dir, "builds.yaml")).load(1, []);
    expect([...m.keys()].sort()).to.deep.equal([1, 2, 3]);
    fs.writeFileSync(path.join(dir, "bad.yaml"), "mirrors: []\n");
    expect(() => manifestSource(path.join(dir, "bad.yaml"))).to.throw(/publishDir: missing/);
  });

  it("a manifest published under another number is refused, naming the file", async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "smith-manifests-bad-"));
    writeManifests(d, { 4: auditTestManifests()[3] });
    try {
      await manifestSource(d).load(1, []).then(
        () => expect.fail("no error"),
        (e: Error) => expect(e.message).to.equal(`${path.join(d, "4", "manifest.json")}: build: says "3", published as build 4`),
      );
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it("a URL: probes upward from the lowest build, past gaps below the known ones, to the first missing above", async () => {
    const asked: string[] = [];
    const server = http.createServer((req, res) => {
      asked.push(req.url!);
      const m = /^\/builds\/(\d+)\/manifest\.json$/.exec(req.url!);
      const file = m ? path.join(dir, "publish", "builds", m[1]!, "manifest.json") : "";
      if (!m || m[1] === "2" || !fs.existsSync(file)) {
        res.statusCode = 404;
        return res.end();
      }
      res.end(fs.readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const m = await new UrlManifests(`http://127.0.0.1:${(server.address() as { port: number }).port}/builds/`).load(1, [1, 3]);
      expect([...m.keys()].sort()).to.deep.equal([1, 3]);
      expect(asked).to.deep.equal(["/builds/1/manifest.json", "/builds/2/manifest.json", "/builds/3/manifest.json", "/builds/4/manifest.json"]);
    } finally {
      server.close();
    }
  });
});
