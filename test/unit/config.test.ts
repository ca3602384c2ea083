import { expect } from "chai";
import { UserError } from "../../src/errors";
import { decodeList, isApproved, parseStackConfig, RawStackConfig } from "../../src/config/stack-config";
import { hostKeyFor, matchesPatterns, parseKnownHosts } from "../../src/config/known-hosts";
import { resolveHostKeys } from "../../src/config/host-keys";
import type { Machine } from "../../src/inventory/schema";

const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEMwZxYNz8GKb/Ew0CxogS1x0SiHaWdk6vpZJbNlIRPF";
const RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7";
const ECDSA = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY=";

function raw(values: Record<string, string | undefined>, secret: string[] = []): RawStackConfig {
  return { values, secret: new Set(secret) };
}

const BASE = {
  build: "42",
  inventory: "inventory/dev.yaml",
  waves: "waves/buildTestDevToStage.yaml",
  repoUrl: "https://apt.example.com/smith",
  sshPrivateKeyPath: "/etc/smith/id_ed25519",
};

function errorOf(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(UserError);
    return e as UserError;
  }
  throw new Error("expected a UserError");
}

describe("stack config (smith:*)", () => {
  it("applies defaults and resolves paths against the project dir", () => {
    const c = parseStackConfig(raw(BASE), "/proj");
    expect(c).to.deep.include({
      build: "42",
      inventory: ["/proj/inventory/dev.yaml"],
      waves: "/proj/waves/buildTestDevToStage.yaml",
      repoUrl: "https://apt.example.com/smith",
      sshUser: "root",
      sshPrivateKeyPath: "/etc/smith/id_ed25519",
      approvals: [],
      requireHostKeys: true,
      stackOrg: "organization",
      healthTimeoutMinutes: 15,
      privateKeySource: "file",
    });
  });

  it("decodes lists (Pulumi passes YAML lists as JSON) and typed values", () => {
    const c = parseStackConfig(
      raw({
        ...BASE,
        inventory: '["a.yaml","b.yaml"]',
        approvals: '["main@42","haproxy01/phase-2@42"]',
        requireHostKeys: "false",
        healthTimeoutMinutes: "30",
        rebootDelaySeconds: "0",
        sshUser: "ops",
        stackOrg: "acme",
      }),
      "/p",
    );
    expect(c.inventory).to.deep.equal(["/p/a.yaml", "/p/b.yaml"]);
    expect(c.approvals).to.deep.equal(["main@42", "haproxy01/phase-2@42"]);
    expect(c.requireHostKeys).to.equal(false);
    expect(c.healthTimeoutMinutes).to.equal(30);
    expect(c.rebootDelaySeconds).to.equal(0);
    expect(c.sshUser).to.equal("ops");
    expect(c.stackOrg).to.equal("acme");
  });

  const cases: [string, Record<string, string | undefined>, string][] = [
    ["missing build", { build: undefined }, "config: smith:build: is required"],
    ["non-numeric build", { build: "4x2" }, 'config: smith:build: must be a positive integer like "42" (got "4x2")'],
    ["zero build", { build: "0" }, 'smith:build: must be a positive integer like "42" (got "0")'],
    ["ftp repo", { repoUrl: "ftp://x/y" }, 'config: smith:repoUrl: must be an http(s) URL (got "ftp://x/y")'],
    ["repo with a quote", { repoUrl: "http://x/'y" }, "smith:repoUrl: must be an http(s) URL"],
    ["missing waves", { waves: undefined }, "config: smith:waves: is required"],
    ["bad boolean", { requireHostKeys: "yes" }, 'config: smith:requireHostKeys: must be true or false (got "yes")'],
    ["bad approval", { approvals: '["main"]' }, "config: smith:approvals[0]: must be <wave>@<build>"],
    ["bad timeout", { healthTimeoutMinutes: "-1" }, "config: smith:healthTimeoutMinutes: must be a whole number of minutes"],
    ["timeout of a year", { healthTimeoutMinutes: "525600" }, 'config: smith:healthTimeoutMinutes: must be between 1 and 1440 minutes (got "525600")'],
    ["zero timeout", { healthTimeoutMinutes: "0" }, 'config: smith:healthTimeoutMinutes: must be between 1 and 1440 minutes (got "0")'],
    ["huge reboot delay", { rebootDelaySeconds: "99999999999999999999" }, "config: smith:rebootDelaySeconds: must be between 0 and 3600 seconds"],
    ["patch timeout", { patchTimeoutMinutes: "241" }, "config: smith:patchTimeoutMinutes: must be between 1 and 240 minutes"],
    ["a 10-digit build", { build: "1234567890" }, "config: smith:build: must have at most 9 digits"],
    ["allowLocalBackend", { allowLocalBackend: "yes" }, "config: smith:allowLocalBackend: must be true or false"],
    ["typo key", { aprovals: "x" }, "config: smith:aprovals: unknown key"],
    ["bad user", { sshUser: "root; rm" }, "config: smith:sshUser: must be a user name"],
    ["no key at all", { sshPrivateKeyPath: undefined }, "config: smith:sshPrivateKey: is required (or smith:sshPrivateKeyPath)"],
    ["inventory not a list of strings", { inventory: "[1,2]" }, "config: smith:inventory: must be a string or a list of strings"],
  ];
  for (const [what, change, message] of cases) {
    it(`rejects ${what} with one line naming key and value`, () => {
      const e = errorOf(() => parseStackConfig(raw({ ...BASE, ...change }), "/p"));
      expect(e.message).to.contain(message);
      expect(e.message).to.not.contain("\n");
    });
  }

  it("reports every problem at once", () => {
    const e = errorOf(() => parseStackConfig(raw({ ...BASE, build: "x", repoUrl: "nope" }), "/p"));
    expect(e.message).to.match(/smith:build.*and 1 more.*smith:repoUrl/);
  });

  it("requires smith:sshPrivateKey to be stored as a secret and never echoes it", () => {
    const plain = errorOf(() => parseStackConfig(raw({ ...BASE, sshPrivateKeyPath: undefined, sshPrivateKey: "<secret>" }), "/p"));
    expect(plain.message).to.contain("smith:sshPrivateKey: must be stored as a secret");
    const c = parseStackConfig(raw({ ...BASE, sshPrivateKeyPath: undefined, sshPrivateKey: "<secret>" }, ["sshPrivateKey"]), "/p");
    expect(c.privateKeySource).to.equal("secret");
    expect(c).to.not.have.property("sshPrivateKey");
  });

  it("refuses both a secret key and a key path", () => {
    const e = errorOf(() => parseStackConfig(raw({ ...BASE, sshPrivateKey: "<secret>" }, ["sshPrivateKey"]), "/p"));
    expect(e.message).to.contain("set either smith:sshPrivateKey (secret) or smith:sshPrivateKeyPath, not both");
  });

  it("decodeList and isApproved", () => {
    expect(decodeList("a.yaml")).to.deep.equal(["a.yaml"]);
    expect(decodeList('["a","b"]')).to.deep.equal(["a", "b"]);
    expect(decodeList("[oops")).to.equal(undefined);
    expect(isApproved(["main@42"], "42", "main")).to.equal(true);
    expect(isApproved(["main@41"], "42", "main")).to.equal(false);
    expect(isApproved(["haproxy01@42"], "42", "haproxy01/phase-2", "haproxy01")).to.equal(true);
    expect(isApproved(["haproxy01/phase-1@42"], "42", "haproxy01/phase-2", "haproxy01")).to.equal(false);
  });
});

describe("known_hosts (smith:knownHosts)", () => {
  const text = [
    "# comment",
    "",
    `web-1,10.0.0.1 ${RSA}`,
    `web-1 ${ED} comment here`,
    `[web-2]:2222 ${ECDSA}`,
    `*.lab,!bad.lab ${ED}`,
    `@revoked old-1 ${RSA}x`,
    `old-1 ${RSA}x`,
    `@cert-authority *.corp ${ED}`,
  ].join("\n");
  const known = parseKnownHosts(text, "kh");

  it("prefers ed25519 over rsa, matches IPs and [host]:port", () => {
    expect(hostKeyFor(known, "web-1")).to.equal(ED);
    expect(hostKeyFor(known, "10.0.0.1")).to.equal(RSA);
    expect(hostKeyFor(known, "web-2", 2222)).to.equal(ECDSA);
    expect(hostKeyFor(known, "web-2")).to.equal(undefined);
  });

  it("honours wildcards, negation, @revoked and skips @cert-authority", () => {
    expect(hostKeyFor(known, "a.lab")).to.equal(ED);
    expect(hostKeyFor(known, "bad.lab")).to.equal(undefined);
    expect(hostKeyFor(known, "old-1")).to.equal(undefined);
    expect(hostKeyFor(known, "x.corp")).to.equal(undefined);
    expect(matchesPatterns(["[h]:22?2"], "[h]:2202")).to.equal(true);
  });

  it("refuses hashed entries with a clear error naming file and line", () => {
    const e = errorOf(() => parseKnownHosts(`web-1 ${ED}\n|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ${ED}`, "/etc/kh"));
    expect(e.message).to.match(/^\/etc\/kh:2: hashed host names .* are not supported/);
  });

  it("refuses malformed lines", () => {
    expect(errorOf(() => parseKnownHosts("web-1 ssh-ed25519", "kh")).message).to.contain("kh:1: expected");
    expect(errorOf(() => parseKnownHosts("web-1 ssh-foo AAAA", "kh")).message).to.contain('unsupported key type "ssh-foo"');
  });
});

describe("host keys per machine", () => {
  const m = (name: string, extra: Partial<Machine> = {}): Machine => ({
    name,
    host: name,
    environment: "dev",
    region: "r",
    cluster: "c",
    role: "w",
    ...extra,
  });

  it("takes the inventory key first, then known_hosts", () => {
    const known = parseKnownHosts(`b ${RSA}\na ${RSA}`, "kh");
    const keys = resolveHostKeys([m("a", { hostKey: ED }), m("b")], { knownHosts: known, knownHostsPath: "kh", requireHostKeys: true });
    expect(keys.get("a")).to.equal(ED);
    expect(keys.get("b")).to.equal(RSA);
  });

  it("refuses machines without a key, all named in one error", () => {
    const e = errorOf(() => resolveHostKeys([m("a"), m("b", { port: 2200 })], { requireHostKeys: true }));
    expect(e.message).to.contain("inventory: machine a: no hostKey in the inventory and no smith:knownHosts file");
    expect(e.message).to.contain("and 1 more");
    const withFile = errorOf(() => resolveHostKeys([m("b", { port: 2200 })], { knownHosts: parseKnownHosts("", "kh"), knownHostsPath: "kh", requireHostKeys: true }));
    expect(withFile.message).to.contain("none for [b]:2200 in kh");
  });

  it("allows them only with requireHostKeys false", () => {
    expect(resolveHostKeys([m("a")], { requireHostKeys: false }).get("a")).to.equal(undefined);
  });
});
