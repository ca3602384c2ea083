import { expect } from "chai";
import { userError } from "../support/user-error";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Machine } from "../../src/inventory/schema";
import { loadWaves, parseWaves } from "../../src/waves/load";
import { compileMatcher, compileSelector, globToRegExp } from "../../src/waves/select";


const m = (over: Partial<Machine> = {}): Machine => ({
  name: "prod-syd01-carrier2-worker-06",
  host: "10.0.0.1",
  environment: "prod",
  region: "ap-southeast",
  cluster: "prod-syd01-carrier2",
  role: "worker",
  ...over,
});

describe("waves: numbers are bounded (issue 7 §5)", () => {
  const wave = (extra: string) => `waves:\n  - name: w\n    ${extra}\n`;
  it("refuses a soak of more than 90 days, a huge concurrency or sample", () => {
    expect(userError(() => parseWaves(wave("gate: { soak: { hours: 24000, stack: dev } }"), "w.yaml"))).to.match(/w\.yaml:3: waves\[0\]\.gate\.soak\.hours: soak hours must be at most 2160 \(90 days\) \(got 24000\)/);
    expect(userError(() => parseWaves(wave("concurrency: 100000"), "w.yaml"))).to.match(/waves\[0\]\.concurrency: .*\(got 100000\)/);
    expect(userError(() => parseWaves(wave("sample: { perEnvironment: 1e9 }"), "w.yaml"))).to.match(/perEnvironment/);
    expect(parseWaves(wave("gate: { soak: { hours: 2160, stack: dev } }"), "w.yaml").waves[0]!.gate!.soak!.hours).to.equal(2160);
  });
});

describe("waves: parseWaves", () => {
  it("parses a full wave file and remembers its source", () => {
    const wf = parseWaves(
      `
description: x
scope: { environment: [dev, prod] }
waves:
  - name: canary
    select: { region: ap-south, name: { not: "*-haproxy0[12]" }, labels: { tier: { in: [gold, silver], not: silver } } }
    gate: { approval: true, soak: { hours: 24, stack: dev } }
    concurrency: 2
  - name: sample
    sample: { perEnvironment: 3, always: { role: master } }
    phases: ["10%", "30%", rest]
    optional: true
  - name: rest
`,
      "waves/x.yaml",
    );
    expect(wf.source).to.equal("waves/x.yaml");
    expect(wf.waves.map((w) => w.name)).to.deep.equal(["canary", "sample", "rest"]);
    expect(wf.waves[0].gate).to.deep.equal({ approval: true, soak: { hours: 24, stack: "dev" } });
    expect(wf.waves[1].phases).to.deep.equal(["10%", "30%", "rest"]);
  });

  const bad: { what: string; text: string; expect: RegExp }[] = [
    { what: "malformed YAML", text: "waves:\n  - name: a\n    select: {role: [\n", expect: /^w\.yaml:\d+: invalid YAML/ },
    { what: "unknown wave key", text: "waves:\n  - name: a\n    selector: {role: x}\n", expect: /^w\.yaml:3: waves\[0\]\.selector: unknown key/ },
    { what: "unknown selector field", text: "waves:\n  - name: a\n    select: {colour: x}\n", expect: /^w\.yaml:3: waves\[0\]\.select\.colour: unknown key/ },
    { what: "no waves", text: "waves: []\n", expect: /waves: a wave file needs at least one wave/ },
    { what: "duplicate wave names", text: "waves:\n  - name: a\n  - name: a\n", expect: /^w\.yaml:3: waves\[1\]\.name: duplicate wave name \(got "a"\)/ },
    { what: "wave name with /", text: "waves:\n  - name: a/b\n", expect: /waves\[0\]\.name: wave name must be .*\(got "a\/b"\)/ },
    { what: "bad matcher", text: "waves:\n  - name: a\n    select: {role: {yes: x}}\n", expect: /waves\[0\]\.select\.role: must be a pattern, a list of patterns, or \{in: …, not: …\}/ },
    { what: "empty matcher object", text: "waves:\n  - name: a\n    select: {role: {}}\n", expect: /waves\[0\]\.select\.role: give 'in' and\/or 'not' \(got \{\}\)/ },
    { what: "phase without rest", text: "waves:\n  - name: a\n    phases: ['10%', '30%']\n", expect: /waves\[0\]\.phases\[1\]: the last phase must be 'rest'/ },
    { what: "rest not last", text: "waves:\n  - name: a\n    phases: [rest, '30%', rest]\n", expect: /waves\[0\]\.phases\[0\]: 'rest' must be the last phase/ },
    { what: "shrinking phases", text: "waves:\n  - name: a\n    phases: ['30%', '10%', rest]\n", expect: /waves\[0\]\.phases\[1\]: phases must not shrink/ },
    { what: "phases over 100%", text: "waves:\n  - name: a\n    phases: ['50%', '60%', rest]\n", expect: /waves\[0\]\.phases: percentages before 'rest' must add up to less than 100%/ },
    { what: "mixed phase kinds", text: "waves:\n  - name: a\n    phases: [1, '60%', rest]\n", expect: /waves\[0\]\.phases: use either percentages or cluster counts/ },
    { what: "bad phase", text: "waves:\n  - name: a\n    phases: [ten, rest]\n", expect: /waves\[0\]\.phases\[0\]: phase must be a percentage/ },
    { what: "zero sample", text: "waves:\n  - name: a\n    sample: {perEnvironment: 0}\n", expect: /waves\[0\]\.sample\.perEnvironment: .*\(got 0\)/ },
    { what: "missing sample size", text: "waves:\n  - name: a\n    sample: {always: {role: master}}\n", expect: /waves\[0\]\.sample\.perEnvironment: is required/ },
    { what: "bad soak", text: "waves:\n  - name: a\n    gate: {soak: {hours: -1, stack: dev}}\n", expect: /waves\[0\]\.gate\.soak\.hours: .*\(got -1\)/ },
    { what: "unknown gate key", text: "waves:\n  - name: a\n    gate: {approve: true}\n", expect: /waves\[0\]\.gate\.approve: unknown key/ },
    { what: "zero concurrency", text: "waves:\n  - name: a\n    concurrency: 0\n", expect: /waves\[0\]\.concurrency: .*\(got 0\)/ },
    { what: "pattern with spaces", text: "waves:\n  - name: a\n    select: {name: 'a b'}\n", expect: /waves\[0\]\.select\.name/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.what} with one line naming file, field and value`, () => {
      expect(userError(() => parseWaves(c.text, "w.yaml"))).to.match(c.expect);
    });
  }

  it("loadWaves reads a file and names a missing one", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-waves-"));
    try {
      const f = path.join(dir, "w.yaml");
      fs.writeFileSync(f, "waves:\n  - name: all\n");
      expect(loadWaves(f)).to.deep.equal({ source: f, waves: [{ name: "all" }] });
      expect(userError(() => loadWaves(path.join(dir, "nope.yaml")))).to.match(/nope\.yaml: cannot read wave file \(ENOENT\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every committed wave file parses", () => {
    const dir = path.join(__dirname, "..", "..", "waves");
    // pipeline*.yaml are pipeline files (test/unit/pipeline.schema.test.ts), not wave files.
    const files = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml") && !f.startsWith("pipeline"));
    expect(files).to.include.members(["buildTestDevToStage.yaml", "production.yaml", "lab.yaml", "lab-prod.yaml"]);
    for (const f of files) expect(loadWaves(path.join(dir, f)).waves.length).to.be.greaterThan(0);
  });
});

describe("waves: selectors", () => {
  const globs: [string, string, boolean][] = [
    ["*", "anything", true],
    ["*-haproxy0[12]", "prod-syd01-carrier2-haproxy01", true],
    ["*-haproxy0[12]", "prod-syd01-carrier2-haproxy03", false],
    ["*-haproxy0[!1]", "x-haproxy02", true],
    ["*-haproxy0[!1]", "x-haproxy01", false],
    ["worker-0?", "worker-06", true],
    ["worker-0?", "worker-060", false],
    ["prod.*", "prodX", false],
    ["prod.*", "prod.x", true],
    ["a[0-9]", "a7", true],
    ["a[", "a[", true],
    ["ap-south", "ap-southeast", false],
  ];
  for (const [glob, value, want] of globs) {
    it(`glob ${glob} ${want ? "matches" : "does not match"} ${value}`, () => {
      expect(globToRegExp(glob).test(value)).to.equal(want);
    });
  }

  const matchers: [string, Parameters<typeof compileMatcher>[0], string | undefined, boolean][] = [
    ["a list is any-of", ["master", "worker"], "worker", true],
    ["a list is any-of (miss)", ["master", "worker"], "haproxy", false],
    ["not excludes", { not: "*-haproxy0[12]" }, "c-haproxy01", false],
    ["not keeps others", { not: "*-haproxy0[12]" }, "c-worker-01", true],
    ["in and not combine", { in: "prod-*", not: ["*-haproxy01", "*-haproxy02"] }, "prod-x-worker", true],
    ["in and not combine (excluded)", { in: "prod-*", not: ["*-haproxy01", "*-haproxy02"] }, "prod-x-haproxy02", false],
    ["absent value never matches a pattern", "gold", undefined, false],
    ["absent value matches a not-only matcher", { not: "gold" }, undefined, true],
    ["absent value does not match in", { in: "gold" }, undefined, false],
  ];
  for (const [what, matcher, value, want] of matchers) {
    it(`matcher: ${what}`, () => expect(compileMatcher(matcher)(value)).to.equal(want));
  }

  it("ANDs fields and explains the first field that excludes a machine", () => {
    const sel = compileSelector({ environment: ["dev", "prestage"], role: "master", labels: { tier: "gold" } });
    expect(sel.test(m({ environment: "dev", role: "master", labels: { tier: "gold" } }))).to.equal(true);
    expect(sel.test(m({ environment: "dev", role: "worker", labels: { tier: "gold" } }))).to.equal(false);
    expect(sel.explain(m())).to.equal("environment prod");
    expect(sel.explain(m({ environment: "dev", role: "master" }))).to.equal("label tier (absent)");
    expect(compileSelector(undefined).test(m())).to.equal(true);
    expect(compileSelector({}).explain(m())).to.equal(undefined);
  });
});
