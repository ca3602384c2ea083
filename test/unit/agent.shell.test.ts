import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";

/**
 * The agent's pure shell functions, run locally under the same shells as on the machines:
 * SMITH_AGENT_LIB=1 defines them without running main.
 */
const AGENT = path.resolve(__dirname, "../../agent/smith-agent");
const SHELLS = ["/bin/sh", "/bin/dash", "/bin/bash"].filter((s, i, all) => existsSync(s) && all.indexOf(s) === i);

function lib(script: string, args: string[] = [], shell = "/bin/sh") {
  const r = spawnSync(shell, ["-c", `SMITH_AGENT_LIB=1 . "$0"; ${script}`, AGENT, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("agent shell functions", () => {
  describe("json_str", () => {
    it("escapes quotes, backslashes and control characters", () => {
      const r = lib('json_str "$1"', ['a"b\\c\td\x01e\nf\r']);
      expect(r.stdout).to.equal('"a\\"b\\\\c\\td\\u0001e\\nf\\r"');
      expect(lib('json_str ""').stdout).to.equal('""');
      expect(lib('json_str "$1"', ["x\n"]).stdout).to.equal('"x\\n"');
      expect(lib('json_str "$1"', ["\n\n"]).stdout).to.equal('"\\n\\n"');
    });

    for (const shell of SHELLS) {
      it(`round-trips arbitrary strings through JSON.parse under ${shell} (property)`, function () {
        const str = fc.string({ unit: "binary", maxLength: 60 }).filter((s) => !s.includes("\0"));
        fc.assert(
          fc.property(fc.array(str, { minLength: 1, maxLength: 20 }), (values) => {
            // One shell per batch: each value printed as its own line of JSON.
            const r = lib('for v in "$@"; do json_str "$v"; echo; done', values, shell);
            expect(r.status, r.stderr).to.equal(0);
            const parsed = r.stdout.split("\n").slice(0, -1).map((l) => JSON.parse(l));
            expect(parsed).to.deep.equal(values);
          }),
          { numRuns: 25 },
        );
      });
    }
  });

  it("build_lt orders builds like Debian versions", () => {
    const lt = (a: string, b: string) => lib('build_lt "$1" "$2"', [a, b]).status === 0;
    expect(lt("1", "2")).to.equal(true);
    expect(lt("9", "10")).to.equal(true);
    expect(lt("2", "1")).to.equal(false);
    expect(lt("2", "2")).to.equal(false);
    expect(lt("2026.11.1", "2026.11.10")).to.equal(true);
    expect(lt("1.0-rc1", "1.0")).to.equal(false); // no tilde: rc1 sorts after
    expect(lt("1.0~rc1", "1.0")).to.equal(true);
  });

  it("validates tokens, repository URLs and keyring paths", () => {
    const ok = (fn: string, v: string) => lib(`${fn} "$1"`, [v]).status === 0;
    for (const v of ["1", "2026.11-1", "web_2", "A.b-c"]) expect(ok("is_token", v), v).to.equal(true);
    for (const v of ["", "-x", ".x", "../etc", "a/b", "a b", "a;b", "$(id)", "a\nb"]) expect(ok("is_token", v), v).to.equal(false);
    for (const v of ["http://127.0.0.1:8080", "https://apt.example.com/smith/", "file:/srv/repo", "http://[::1]:80/r"]) {
      expect(ok("is_repo_url", v), v).to.equal(true);
    }
    for (const v of ["", "ftp://x", "http://", "http://a b", "http://x/'y", "http://x/$(id)", "http://x\n", "http://a]\"", "/srv/repo"]) {
      expect(ok("is_repo_url", v), v).to.equal(false);
    }
    expect(ok("is_keyring_path", "/usr/share/keyrings/smith.gpg")).to.equal(true);
    for (const v of ["rel.gpg", "/a b", "/a]", "/a,b"]) expect(ok("is_keyring_path", v), v).to.equal(false);
    expect(ok("is_uint", "30")).to.equal(true);
    for (const v of ["", "-1", "1.5", "1e3", " 1"]) expect(ok("is_uint", v), v).to.equal(false);
  });

  it("pkg_diff_json lists upgrades, installs and removals with a full count", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "smith-agent-"));
    try {
      writeFileSync(path.join(dir, "before"), "a 1.0\nb 1.0\ngone 3\nsame 1\n");
      writeFileSync(path.join(dir, "after"), "a 2.0\nb 1.0\nnew 0.1\nsame 1\n");
      const r = lib('pkg_diff_json "$1/before" "$1/after" 10', [dir]);
      const [body, count] = r.stdout.trimEnd().split("\n");
      const changed = JSON.parse(`[${body}]`) as Array<{ name: string }>;
      expect(changed.sort((x, y) => x.name.localeCompare(y.name))).to.deep.equal([
        { name: "a", from: "1.0", to: "2.0" },
        { name: "gone", from: "3", to: null },
        { name: "new", from: null, to: "0.1" },
      ]);
      expect(count).to.equal("3");
      const capped = lib('pkg_diff_json "$1/before" "$1/after" 1', [dir]).stdout.trimEnd().split("\n");
      expect(JSON.parse(`[${capped[0]}]`)).to.have.length(1);
      expect(capped[1]).to.equal("3");
      const none = lib('pkg_diff_json "$1/before" "$1/before" 10', [dir]).stdout;
      expect(none).to.equal("\n0\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("admin_keyring finds the signed-by of admin sources for the same repository only", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "smith-apt-"));
    try {
      const d = path.join(dir, "sources.list.d");
      mkdirSync(d);
      writeFileSync(path.join(dir, "sources.list"), "deb http://deb.debian.org/debian bookworm main\n# deb [signed-by=/x.gpg] http://r/builds/1 smith main\n");
      writeFileSync(path.join(d, "smith.list"), "deb [arch=amd64 signed-by=/usr/share/keyrings/smith.gpg] http://r:8080/builds/1 smith main\n");
      writeFileSync(path.join(d, "other.list"), "deb [signed-by=/other.gpg] http://r:80801/builds/1 smith main\n");
      writeFileSync(
        path.join(d, "smith.sources"),
        "Types: deb\nURIs: http://elsewhere/\nSigned-By: /no.gpg\n\nTypes: deb\nURIs: http://r:8080/\nSuites: smith\nSigned-By: /etc/apt/keyrings/s.asc\n",
      );
      const r = lib('APT_ETC=$1; admin_keyring "$2"', [dir, "http://r:8080/"]);
      expect(r.stdout.trim().split("\n")).to.deep.equal(["/usr/share/keyrings/smith.gpg", "/etc/apt/keyrings/s.asc"]);
      expect(lib('APT_ETC=$1; admin_keyring "$2"', [dir, "http://nothing"]).stdout).to.equal("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects bad usage with exit 2 and one JSON error line, before touching the machine", () => {
    const run = (...args: string[]) => spawnSync("/bin/sh", [AGENT, ...args], { encoding: "utf8", env: { ...process.env, SMITH_AGENT_BOUNDED: "1" } });
    for (const args of [[], ["frobnicate"], ["patch", "--build", "1"], ["patch", "--build", "../1", "--repo", "http://r"], ["health"], ["health", "--role", "a/b"], ["status", "--nope"]]) {
      const r = run(...args);
      expect(r.status, args.join(" ")).to.equal(2);
      const lines = r.stdout.trim().split("\n");
      expect(lines, args.join(" ")).to.have.length(1);
      expect(JSON.parse(lines[0]!)).to.include({ exitCode: 2 });
    }
  });
});
