import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import {
  AGENT_EXIT,
  AGENT_MIN_REBOOT_DELAY_SECONDS,
  AGENT_REMOTE_PATH,
  ensureAgentCommand,
  healthCommand,
  patchCommand,
  rebootCommand,
  statusCommand,
} from "../../src/agent/command";

/**
 * The argv a remote shell would hand the agent: run the line with the agent path swapped for a
 * printer (and sudo dropped), so each test sees exactly what smith-agent would receive.
 */
function argvOf(line: string): string[] {
  let cmd = line;
  if (cmd.startsWith("sudo -n ")) cmd = cmd.slice("sudo -n ".length);
  expect(cmd.startsWith(`${AGENT_REMOTE_PATH} `) || cmd === AGENT_REMOTE_PATH).to.equal(true, cmd);
  const script = `args() { for a in "$@"; do printf '%s\\0' "$a"; done; }\nargs ${cmd.slice(AGENT_REMOTE_PATH.length)}`;
  const r = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8" });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout.split("\0").slice(0, -1);
}

describe("agent command lines", () => {
  it("installs the agent at the documented path", () => {
    expect(AGENT_REMOTE_PATH).to.equal("/usr/local/lib/smith/smith-agent");
  });

  it("renders patch with every option, values quoted", () => {
    expect(
      patchCommand({ build: "2", repoUrl: "http://127.0.0.1:8080", sudo: true, keyring: "/usr/share/keyrings/smith.gpg", lockTimeoutSeconds: 60, retries: 3 }),
    ).to.equal(
      "sudo -n /usr/local/lib/smith/smith-agent patch --build '2' --repo 'http://127.0.0.1:8080' --keyring '/usr/share/keyrings/smith.gpg' --lock-timeout '60' --retries '3'",
    );
    expect(patchCommand({ build: "2026.11-1", repoUrl: "https://apt.example/x", sudo: false })).to.equal(
      "/usr/local/lib/smith/smith-agent patch --build '2026.11-1' --repo 'https://apt.example/x'",
    );
    expect(patchCommand({ build: "1", repoUrl: "http://r", sudo: false, force: true, backoffSeconds: 1, maxRuntimeSeconds: 900 })).to.equal(
      "/usr/local/lib/smith/smith-agent patch --build '1' --repo 'http://r' --backoff '1' --max-runtime '900' --force",
    );
  });

  it("renders reboot-if-required, health and status", () => {
    expect(rebootCommand({ sudo: false })).to.equal("/usr/local/lib/smith/smith-agent reboot-if-required");
    expect(rebootCommand({ sudo: true, delaySeconds: 3 })).to.equal("sudo -n /usr/local/lib/smith/smith-agent reboot-if-required --delay '3'");
    expect(healthCommand({ role: "db", sudo: false })).to.equal("/usr/local/lib/smith/smith-agent health --role 'db'");
    expect(healthCommand({ role: "web", sudo: true, bootIdBefore: "0b1c-22", timeoutSeconds: 10 })).to.equal(
      "sudo -n /usr/local/lib/smith/smith-agent health --role 'web' --boot-id-before '0b1c-22' --timeout '10'",
    );
    expect(statusCommand({ sudo: false })).to.equal("/usr/local/lib/smith/smith-agent status");
    expect(statusCommand({ sudo: true })).to.equal("sudo -n /usr/local/lib/smith/smith-agent status");
  });

  it("rejects numbers that are not whole and non-negative", () => {
    expect(() => patchCommand({ build: "1", repoUrl: "http://r", sudo: false, retries: -1 })).to.throw(/retries/);
    expect(() => rebootCommand({ sudo: false, delaySeconds: 1.5 })).to.throw(/delaySeconds/);
    expect(() => healthCommand({ role: "r", sudo: false, timeoutSeconds: Number.NaN })).to.throw(/timeoutSeconds/);
  });

  it("keeps hostile values inert: each arrives as one argument, unchanged", () => {
    const build = "1'; touch /tmp/smith-pwned; echo '";
    const repo = "http://x/$(id)`id`\n--force";
    const line = patchCommand({ build, repoUrl: repo, sudo: true, keyring: "/k y" });
    expect(argvOf(line)).to.deep.equal(["patch", "--build", build, "--repo", repo, "--keyring", "/k y"]);
    const h = healthCommand({ role: "$(reboot)", sudo: false, bootIdBefore: "a\"b\\c" });
    expect(argvOf(h)).to.deep.equal(["health", "--role", "$(reboot)", "--boot-id-before", 'a"b\\c']);
  });

  it("delivers any value as exactly one argument (property)", () => {
    const value = fc.string({ unit: "binary", maxLength: 30 }).filter((s) => !s.includes("\0"));
    fc.assert(
      fc.property(value, value, value, (build, repoUrl, role) => {
        expect(argvOf(patchCommand({ build, repoUrl, sudo: false }))).to.deep.equal(["patch", "--build", build, "--repo", repoUrl]);
        expect(argvOf(healthCommand({ role, sudo: true, bootIdBefore: build }))).to.deep.equal(["health", "--role", role, "--boot-id-before", build]);
      }),
      { numRuns: 60 },
    );
  });
});

describe("agent command lines: new patch options and the verified agent", () => {
  const SHA = "0123456789abcdef".repeat(4);

  it("renders --reboot-if-required, --reboot-delay, --allow-remove and the free-space floors", () => {
    expect(
      patchCommand({ build: "3", repoUrl: "https://r", sudo: false, rebootIfRequired: true, rebootDelaySeconds: 4, allowRemove: true, minFreeVarMiB: 500, minFreeBootMiB: 80 }),
    ).to.equal(
      "/usr/local/lib/smith/smith-agent patch --build '3' --repo 'https://r' --reboot-if-required --reboot-delay '4' --allow-remove --min-free-var '500' --min-free-boot '80'",
    );
    expect(() => patchCommand({ build: "3", repoUrl: "https://r", sudo: false, minFreeVarMiB: -1 })).to.throw(/minFreeVarMiB/);
    expect(AGENT_EXIT).to.include({ partialUpgrade: 8, noSpace: 9, removalRefused: 10, agentIntegrity: 11, rebootPending: 12 });
    expect(AGENT_MIN_REBOOT_DELAY_SECONDS).to.equal(2);
  });

  it("prefixes every command with the sha256 check when given the agent's copy", () => {
    const agent = { sha256: SHA, copyPath: ".smith-agent-0123456789abcdef" };
    const ensure = ensureAgentCommand({ sudo: true, ...agent });
    expect(ensure).to.match(/^sudo -n sh -c '.*' smith-agent-ensure '0123456789abcdef[0-9a-f]{48}' "\$HOME"\/'\.smith-agent-0123456789abcdef' '\/usr\/local\/lib\/smith\/smith-agent'$/s);
    for (const line of [
      patchCommand({ build: "1", repoUrl: "https://r", sudo: true, agent }),
      rebootCommand({ sudo: true, agent }),
      healthCommand({ role: "web", sudo: true, agent }),
      statusCommand({ sudo: true, agent }),
    ]) {
      expect(line.startsWith(`${ensure} && sudo -n /usr/local/lib/smith/smith-agent `), line).to.equal(true);
    }
    expect(ensureAgentCommand({ sudo: false, sha256: SHA, copyPath: "/srv/a b" })).to.match(/ '\/srv\/a b' '\/usr\/local\/lib\/smith\/smith-agent'$/);
    expect(() => ensureAgentCommand({ sudo: false, sha256: "abc", copyPath: "x" })).to.throw(/not a sha256/);
  });

  it("the check refuses to run an agent below a directory others can write (exit 11, one JSON line)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "smith-ensure-"));
    try {
      writeFileSync(path.join(dir, "copy"), "#!/bin/sh\n");
      // Under /tmp (world-writable): never trusted, whoever runs it.
      const r = spawnSync("/bin/sh", ["-c", ensureAgentCommand({ sudo: false, sha256: SHA, copyPath: path.join(dir, "copy"), installPath: path.join(dir, "lib", "smith-agent") })], { encoding: "utf8" });
      expect(r.status).to.equal(11);
      const lines = r.stdout.trim().split("\n");
      expect(lines).to.have.length(1);
      expect(JSON.parse(lines[0]!)).to.deep.include({ exitCode: 11 });
      expect(JSON.parse(lines[0]!).error).to.match(/writable by non-root/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
