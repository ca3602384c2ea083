import { expect } from "chai";
import fc from "fast-check";
import { parseDsaList, parseSmithFeed, parseUsnJson } from "../../src/packages/advisories";
import * as path from "path";
import { loadBuildsConfig, parseBuildsConfig } from "../../src/packages/config";
import { parsePackages, parseRelease } from "../../src/packages/deb822";
import { buildManifest } from "../../src/packages/diff";
import { parseAptlyPackageList } from "../../src/packages/first-seen";
import { BuildManifest, parseManifest } from "../../src/packages/manifest";
import { planRetention } from "../../src/packages/retention";
import { uploadSteps, withRetries } from "../../src/packages/sync";
import { compareDebVersions } from "../../src/packages/version";

const SHA = (c: string) => c.repeat(64);

const CONFIG = {
  aptly: { rootDir: "aptly" },
  publishDir: "publish",
  signing: { key: "ABCDEF0123456789" },
  upstreams: [{ name: "debian-security", url: "http://deb.debian.org/debian-security", distribution: "bookworm-security" }],
  mirrors: [
    { name: "syd", type: "directory", path: "/srv/www" },
    { name: "s3", type: "s3", bucket: "smith-apt" },
  ],
};

describe("packages: builds config", () => {
  it("applies defaults and resolves paths against the file", () => {
    const c = parseBuildsConfig(CONFIG, "/etc/smith/builds.yaml");
    expect(c.aptly.rootDir).to.equal("/etc/smith/aptly");
    expect(c.publishDir).to.equal("/etc/smith/publish");
    expect(c.architectures).to.deep.equal(["amd64"]);
    expect(c.upstreams[0]!.components).to.deep.equal(["main"]);
    expect(c.mirrors[1]).to.deep.include({ prefix: "", region: "us-east-1" });
  });

  it("accepts the production example", () => {
    const c = loadBuildsConfig(path.join(__dirname, "..", "..", "examples", "builds.yaml"));
    expect(c.upstreams.map((u) => u.distribution)).to.deep.equal(["bookworm-security", "bookworm-updates", "noble-security", "noble-updates"]);
    expect(c.mirrors.map((m) => m.type)).to.deep.equal(["directory", "s3", "s3"]);
  });

  const bad: [string, (c: any) => void, string][] = [
    ["a bad mirror type", (c) => (c.mirrors[0].type = "ftp"), 'f.yaml: mirrors[0].type: type must be directory or s3 (got "ftp")'],
    ["a bad URL", (c) => (c.upstreams[0].url = "deb.debian.org"), 'f.yaml: upstreams[0].url: must be an http(s) URL (got "deb.debian.org")'],
    ["a bad key", (c) => (c.signing.key = "me"), 'f.yaml: signing.key: must be a key fingerprint or id (hex) (got "me")'],
    ["a missing field", (c) => delete c.publishDir, "f.yaml: publishDir:"],
    ["an unknown field", (c) => (c.extra = 1), "f.yaml: unknown field(s) extra"],
    ["a duplicate mirror", (c) => (c.mirrors[1].name = "syd"), 'f.yaml: mirrors[1].name: duplicate name "syd"'],
    ["a bad bucket", (c) => (c.mirrors[1].bucket = "Bad_Bucket"), 'f.yaml: mirrors[1].bucket: must be an S3 bucket name (got "Bad_Bucket")'],
    ["a bad advisory format", (c) => (c.advisories = [{ format: "oval", path: "x" }]), 'f.yaml: advisories[0].format: must be one of smith, dsa-list, usn-json (got "oval")'],
  ];
  for (const [what, edit, msg] of bad) {
    it(`names file, field and value for ${what}`, () => {
      const c = JSON.parse(JSON.stringify(CONFIG));
      edit(c);
      expect(() => parseBuildsConfig(c, "f.yaml")).to.throw(msg);
      try {
        parseBuildsConfig(c, "f.yaml");
      } catch (e) {
        expect((e as Error).name).to.equal("UserError");
        expect((e as Error).message).not.to.include("\n");
      }
    });
  }
});

describe("packages: Debian version order", () => {
  const table: [string, string, number][] = [
    ["1.0", "1.1", -1],
    ["1.2", "1.10", -1],
    ["1.0~rc1", "1.0", -1],
    ["1.0", "1.0+deb12u1", -1],
    ["1:0.9", "2.0", 1],
    ["3.0.15-1~deb12u1", "3.0.15-1", -1],
    ["2.36-9+deb12u4", "2.36-9+deb12u10", -1],
    ["1.0a", "1.0", 1],
    ["1.0-1", "1.0-1", 0],
  ];
  for (const [a, b, want] of table) it(`${a} vs ${b}`, () => expect(Math.sign(compareDebVersions(a, b))).to.equal(want));
  it("is antisymmetric", () => {
    const v = fc.stringMatching(/^[0-9]{1,2}(\.[0-9a-z~+]{1,3}){0,2}(-[0-9]{1,2})?$/);
    fc.assert(fc.property(v, v, (a, b) => Math.sign(compareDebVersions(a, b)) === -Math.sign(compareDebVersions(b, a))));
  });
});

describe("packages: apt files", () => {
  it("parses a Release and an InRelease alike", () => {
    const body = `Origin: smith\nLabel: smith-build-3\nSuite: smith\nSHA256:\n ${SHA("a")}      123 main/binary-amd64/Packages\n ${SHA("b")}       45 main/binary-amd64/Packages.gz\n`;
    const signed = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n${body}-----BEGIN PGP SIGNATURE-----\n\nxx\n-----END PGP SIGNATURE-----\n`;
    for (const t of [body, signed]) {
      const r = parseRelease(t);
      expect(r.fields.Label).to.equal("smith-build-3");
      expect(r.sha256).to.deep.equal([
        { path: "main/binary-amd64/Packages", size: 123, sha256: SHA("a") },
        { path: "main/binary-amd64/Packages.gz", size: 45, sha256: SHA("b") },
      ]);
    }
  });

  it("parses Packages, with the source name", () => {
    const p = parsePackages(`Package: libssl3\nSource: openssl (3.0.15-1)\nVersion: 3.0.15-1~deb12u1\nArchitecture: amd64\nFilename: pool/main/o/openssl/libssl3.deb\nSize: 10\nSHA256: ${SHA("c")}\nDescription: x\n more\n\nPackage: p\nVersion: 1\n`);
    expect(p[0]).to.deep.equal({ name: "libssl3", version: "3.0.15-1~deb12u1", architecture: "amd64", source: "openssl", sha256: SHA("c"), size: 10, filename: "pool/main/o/openssl/libssl3.deb" });
    expect(p[1]!.source).to.equal("p");
  });

  it("reads aptly's package lists", () => {
    expect(parseAptlyPackageList("Name: x\nPackages:\n  smith-demo-conf_1.0_all\n  libc6_2.36-9+deb12u4_amd64\n")).to.deep.equal([
      { name: "smith-demo-conf", version: "1.0", architecture: "all" },
      { name: "libc6", version: "2.36-9+deb12u4", architecture: "amd64" },
    ]);
  });
});

describe("packages: advisory feeds", () => {
  it("reads a Debian DSA/DLA list (dates, releases, no-fix lines skipped)", () => {
    const text = "[20 Nov 2026] DSA-5800-1 openssl - security update\n\t{CVE-2026-1 CVE-2026-2}\n\t[bookworm] - openssl 3.0.15-1~deb12u1\n\t[bullseye] - openssl <not-affected> (x)\n[3 Dec 2026] DLA-4001-1 curl - security update\n\t[bullseye] - curl 7.74.0-1.3+deb11u14\n";
    expect(parseDsaList(text, "list", "unknown")).to.deep.equal([
      { id: "DSA-5800-1", severity: "unknown", published: "2026-11-20T00:00:00Z", fixes: [{ release: "bookworm", name: "openssl", fixed: "3.0.15-1~deb12u1" }] },
      { id: "DLA-4001-1", severity: "unknown", published: "2026-12-03T00:00:00Z", fixes: [{ release: "bullseye", name: "curl", fixed: "7.74.0-1.3+deb11u14" }] },
    ]);
  });

  it("reads Ubuntu's USN JSON", () => {
    const text = JSON.stringify({ "7000-1": { id: "7000-1", timestamp: 1763596800, priority: "high", releases: { noble: { sources: { openssl: { version: "3.0.13-0ubuntu3.5" } } } } } });
    expect(parseUsnJson(text, "usn.json", "unknown")).to.deep.equal([
      { id: "USN-7000-1", severity: "high", published: "2025-11-20T00:00:00Z", fixes: [{ name: "openssl", fixed: "3.0.13-0ubuntu3.5", release: "noble" }] },
    ]);
  });

  it("refuses a bad smith feed naming the field and value", () => {
    expect(() => parseSmithFeed("advisories:\n  - {id: X, severity: urgent, published: 2026-11-01, packages: [{name: p, fixed: 1}]}\n", "adv.yaml")).to.throw(/^adv\.yaml: advisories\[0\]\.severity: .*\(got "urgent"\)$/);
  });
});

describe("packages: manifest", () => {
  const pkg = (name: string, version: string, source = name) => ({ name, version, architecture: "all", source, sha256: SHA("d"), size: 1, filename: `pool/main/${name}_${version}_all.deb` });
  const release = { origin: "smith", label: "smith-build-2", suite: "smith", releaseSha256: SHA("e") };
  const previous: BuildManifest = {
    schema: "smith.build-manifest/v1",
    build: "1",
    previous: null,
    createdAt: "2026-11-01T00:00:00Z",
    release: { ...release, label: "smith-build-1" },
    packages: [pkg("libssl3", "3.0.14"), pkg("gone", "1"), pkg("same", "1")].map(({ source: _s, ...p }) => p),
    diff: { added: [], upgraded: [], removed: [] },
  };

  it("diffs against the previous build with first-seen dates and the advisories each change fixes", () => {
    const advisories = [
      { id: "DSA-1", severity: "high" as const, published: "2026-11-20T00:00:00Z", fixes: [{ name: "openssl", fixed: "3.0.15" }] },
      { id: "DSA-0", severity: "low" as const, published: "2026-10-01T00:00:00Z", fixes: [{ name: "openssl", fixed: "3.0.14" }] },
      { id: "DSA-2", severity: "medium" as const, published: "2026-11-21T00:00:00Z", fixes: [{ name: "new", fixed: "2" }] },
    ];
    const m = buildManifest({
      build: "2",
      previous,
      createdAt: "2026-12-01T00:00:00Z",
      release,
      packages: [pkg("libssl3", "3.0.15", "openssl"), pkg("same", "1"), pkg("new", "2"), pkg("new", "2")],
      advisories,
      firstSeen: (n) => (n === "new" ? "2026-11-25T00:00:00Z" : undefined),
    });
    expect(m.previous).to.equal("1");
    expect(m.packages.map((p) => p.name)).to.deep.equal(["libssl3", "new", "same"]);
    expect(m.diff).to.deep.equal({
      added: [{ name: "new", version: "2", firstSeen: "2026-11-21T00:00:00Z", advisories: [{ id: "DSA-2", severity: "medium", published: "2026-11-21T00:00:00Z" }] }],
      upgraded: [{ name: "libssl3", from: "3.0.14", to: "3.0.15", firstSeen: "2026-11-20T00:00:00Z", advisories: [{ id: "DSA-1", severity: "high", published: "2026-11-20T00:00:00Z" }] }],
      removed: [{ name: "gone", version: "1" }],
    });
    expect(parseManifest(JSON.stringify(m), "m.json")).to.deep.equal(m);
  });

  it("refuses a bad manifest naming the field and value", () => {
    const bad = { ...previous, diff: { ...previous.diff, upgraded: [{ name: "p", from: "1", to: "2", firstSeen: "yesterday", advisories: [] }] } };
    expect(() => parseManifest(JSON.stringify(bad), "m.json")).to.throw(/^m\.json: diff\.upgraded\[0\]\.firstSeen: must be an ISO 8601 date-time .*\(got "yesterday"\)$/);
  });
});

describe("packages: sync order and retries", () => {
  it("uploads the pool, then indexes, then the manifest, then Release.gpg, Release, InRelease", () => {
    const files = ["dists/smith/InRelease", "manifest.json", "dists/smith/Release", "pool/main/p/p.deb", "dists/smith/main/binary-amd64/Packages", "dists/smith/Release.gpg"];
    expect(uploadSteps(files)).to.deep.equal([["pool/main/p/p.deb"], ["dists/smith/main/binary-amd64/Packages"], ["manifest.json"], ["dists/smith/Release.gpg"], ["dists/smith/Release"], ["dists/smith/InRelease"]]);
  });

  it("retries with doubling backoff, then gives the last error", async () => {
    const waits: number[] = [];
    let n = 0;
    const err = await withRetries({ attempts: 3, backoffMs: 1 }, async () => { n++; throw new Error(`fail ${n}`); }, (_a, _e, w) => waits.push(w)).catch((e: Error) => e.message);
    expect([err, n, waits]).to.deep.equal(["fail 3", 3, [1, 2]]);
  });
});

describe("packages: retention plan", () => {
  const now = new Date("2026-12-02T00:00:00Z");
  const day = (d: number) => new Date(now.getTime() - d * 86_400_000).toISOString();
  it("keeps the newest K, builds in use and builds inside the window; drops the rest", () => {
    const builds = [1, 2, 3, 4, 5].map((b) => ({ build: b, createdAt: day(50 - b * 10) }));
    const d = planRetention(builds, 2, 15, new Map([["1", ["prod-eu"]]]), now);
    expect(d.map((x) => [x.build, x.keep, x.reasons.join("; ")])).to.deep.equal([
      [1, true, "in use by prod-eu"],
      [2, false, "older than 15 days, not in use"],
      [3, false, "older than 15 days, not in use"],
      [4, true, "newest 2; younger than 15 days"],
      [5, true, "newest 2; younger than 15 days"],
    ]);
  });
  it("never drops a build it cannot date", () => {
    expect(planRetention([{ build: 1, createdAt: null }, { build: 2, createdAt: day(1) }], 1, 0, new Map(), now)[0]!.keep).to.equal(true);
  });
});
