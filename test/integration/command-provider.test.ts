/**
 * smith's command provider (plugins/pulumi-resource-command) under the real engine, driven by the
 * unchanged @pulumi/command SDK against a throwaway sshd on loopback: remote.Command create,
 * update (with previous output and environment), replacement on triggers, delete, stdin,
 * `ignoreChanges: ["connection"]`, remote.CopyToRemote of a FileAsset, a second `up` that changes
 * nothing, and the failures smith relies on (host key mismatch, dialErrorLimit, the operation
 * timeout bounding unlimited dials, a non-zero exit). Skips with the reason printed when root,
 * sshd, the engine or the provider plugin is missing.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { findPlugin } from "../../src/pulumi/env";
import {
  commandProviderUnavailableReason,
  createTempProject,
  pulumiOk,
  PulumiResult,
  pulumiUnavailableReason,
  REPO_ROOT,
  runPulumi,
  TempProject,
} from "../support/pulumi";
import { freePort, generateKey, Sshd, sshdUnavailableReason, startSshd } from "../support/sshd";

const CONNECTION = `
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

const config = new pulumi.Config();
const connection = {
  host: config.require("host"),
  port: config.requireNumber("port"),
  user: config.require("user"),
  hostKey: config.require("hostKey"),
  privateKey: config.requireSecret("privateKey"),
  dialErrorLimit: config.getNumber("dialErrorLimit"),
  perDialTimeout: config.getNumber("perDialTimeout"),
};
`;

/** Commands append to <dir>/log on the "remote" (this machine), so the test sees what ran. */
const LIFECYCLE_PROGRAM = `${CONNECTION}
const dir = config.require("dir");
const log = "'" + dir + "/log'";
const version = config.require("version");

const main = new command.remote.Command("main", {
  connection,
  create: "echo create-" + version + " >> " + log + "; echo out-" + version,
  update: config.getBoolean("withUpdate")
    ? "echo update-" + version + " prev=$PULUMI_COMMAND_STDOUT env=$SMITH_GREETING >> " + log + "; echo upd-" + version
    : undefined,
  delete: "echo delete-" + version + " >> " + log,
  environment: { SMITH_GREETING: "hi" },
  triggers: [config.require("trigger")],
}, { ignoreChanges: ["connection"] });

// No ignoreChanges: a new key is an update, which runs create again.
const watch = new command.remote.Command("watch", {
  connection,
  create: "printf 'watch:%s\\\\n' \\"$(cat)\\" >> " + log,
  stdin: "w",
});

const copy = new command.remote.CopyToRemote("copy", {
  connection,
  source: new pulumi.asset.FileAsset(config.require("agentFile")),
  remotePath: dir + "/sub/dir/agent.sh",
}, { ignoreChanges: ["connection"] });

export const mainStdout = main.stdout;
export const copyPath = copy.remotePath;
`;

const PROBE_PROGRAM = `${CONNECTION}
const timeout = config.get("createTimeout");
new command.remote.Command("probe", {
  connection,
  create: config.require("script"),
}, timeout ? { customTimeouts: { create: timeout } } : {});
`;

/** These tests assert smith's provider's messages: an upstream plugin (installed online) differs. */
function notSmithsProvider(): string | null {
  const version: string = require(path.join(REPO_ROOT, "node_modules", "@pulumi", "command", "package.json")).version;
  const plugin = findPlugin(REPO_ROOT, "resource", "command", version);
  if (plugin && !fs.readFileSync(plugin).includes("smith's command provider")) {
    return `${plugin} is not smith's provider (plugins/pulumi-resource-command)`;
  }
  return null;
}

function output(r: PulumiResult): string {
  return `${r.stdout}\n${r.stderr}`;
}

function keyBody(pem: string): string {
  return pem
    .split("\n")
    .filter((l) => l && !l.startsWith("-----"))
    .join("");
}

describe("command provider: @pulumi/command remote resources over a loopback sshd", function () {
  this.timeout(10 * 60_000);

  let sshd: Sshd | undefined;
  const projects: TempProject[] = [];

  before(async function () {
    const reason =
      sshdUnavailableReason() ?? pulumiUnavailableReason() ?? commandProviderUnavailableReason() ?? notSmithsProvider();
    if (reason) {
      console.log(`      skipping the command provider tests: ${reason}`);
      this.skip();
    }
    // The provider sends `environment` and the previous stdout with SSH setenv.
    sshd = await startSshd({ extraConfig: ["AcceptEnv SMITH_* PULUMI_COMMAND_*"] });
  });

  after(async function () {
    await sshd?.stop();
    for (const p of projects) p.remove();
  });

  function project(name: string, program: string): TempProject {
    const p = createTempProject(name, program);
    projects.push(p);
    return p;
  }

  async function initStack(p: TempProject, stack: string, config: Record<string, string>, privateKey: string) {
    const ok = (args: string[], input?: string) => pulumiOk(args, { cwd: p.dir, env: p.env, input });
    await ok(["stack", "init", stack]);
    const all = { host: sshd!.host, port: String(sshd!.port), user: sshd!.user, hostKey: sshd!.hostKey, ...config };
    // "--": values such as "-1" are not flags.
    for (const [key, value] of Object.entries(all)) await ok(["config", "set", "--stack", stack, "--", key, value]);
    await ok(["config", "set", "--stack", stack, "--secret", "privateKey"], privateKey);
  }

  describe("lifecycle of Command and CopyToRemote", function () {
    let p: TempProject;
    let dir = "";
    let agentFile = "";
    const run = (args: string[], input?: string) => runPulumi(args, { cwd: p.dir, env: p.env, input });
    const up = (...extra: string[]) => run(["up", "--stack", "test", "--yes", "--skip-preview", "--non-interactive", ...extra]);
    const set = (key: string, value: string) => pulumiOk(["config", "set", "--stack", "test", key, value], { cwd: p.dir, env: p.env });
    const logLines = () => (fs.existsSync(path.join(dir, "log")) ? fs.readFileSync(path.join(dir, "log"), "utf8").split("\n").filter(Boolean) : []);
    const stackOutputs = async () =>
      JSON.parse((await pulumiOk(["stack", "output", "--stack", "test", "--json"], { cwd: p.dir, env: p.env })).stdout) as Record<string, string>;

    before(async function () {
      if (!sshd) this.skip();
      dir = fs.mkdtempSync(path.join(sshd.dir, "remote-"));
      p = project("smith-command-provider", LIFECYCLE_PROGRAM);
      agentFile = path.join(p.dir, "agent.sh");
      fs.writeFileSync(agentFile, "#!/bin/sh\necho agent v1\n", { mode: 0o755 });
      await initStack(p, "test", { dir, version: "1", trigger: "a", withUpdate: "false", agentFile }, sshd.clientPrivateKey);
    });

    it("up creates: runs create with stdin, copies the file into new parent directories", async function () {
      const r = await up();
      expect(r.code, output(r)).to.equal(0);
      expect(logLines()).to.have.members(["create-1", "watch:w"]);
      expect((await stackOutputs()).mainStdout).to.equal("out-1");
      const copied = path.join(dir, "sub", "dir", "agent.sh");
      expect(fs.readFileSync(copied, "utf8")).to.equal("#!/bin/sh\necho agent v1\n");
      // The source is executable by its owner, so the copy is 0755.
      expect(fs.statSync(copied).mode & 0o777).to.equal(0o755);
    });

    it("a second up changes nothing and runs nothing", async function () {
      const r = await up("--expect-no-changes");
      expect(r.code, output(r)).to.equal(0);
      expect(r.stdout).not.to.match(/\b(created|updated|replaced|deleted)\b/);
      expect(logLines()).to.have.length(2);
    });

    it("a changed command updates: runs update with the previous stdout and the environment", async function () {
      await set("version", "2");
      await set("withUpdate", "true");
      const r = await up();
      expect(r.code, output(r)).to.equal(0);
      expect(r.stdout).to.match(/updated/);
      expect(logLines().slice(2)).to.deep.equal(["update-2 prev=out-1 env=hi"]);
      expect((await stackOutputs()).mainStdout).to.equal("upd-2");
    });

    it("a changed trigger replaces: creates the new one, then deletes the old one", async function () {
      await set("trigger", "b");
      const r = await up();
      expect(r.code, output(r)).to.equal(0);
      expect(r.stdout).to.match(/replaced/);
      expect(logLines().slice(3)).to.deep.equal(["create-2", "delete-2"]);
    });

    it("a new key updates only the resource without ignoreChanges: [\"connection\"]", async function () {
      const pub = generateKey(sshd!.dir, "rotated_client", "smith-rotated");
      fs.appendFileSync(path.join(sshd!.dir, "authorized_keys"), `${pub}\n`);
      const key = fs.readFileSync(path.join(sshd!.dir, "rotated_client"), "utf8");
      await pulumiOk(["config", "set", "--stack", "test", "--secret", "privateKey"], { cwd: p.dir, env: p.env, input: key });

      const preview = await pulumiOk(["preview", "--stack", "test", "--json", "--non-interactive"], { cwd: p.dir, env: p.env });
      const ops = new Map(
        (JSON.parse(preview.stdout) as { steps: { op: string; urn: string }[] }).steps.map((s) => [s.urn.split("::").pop(), s.op]),
      );
      // The JSON preview lists unchanged resources as "same" or leaves them out.
      expect(ops.get("main") ?? "same", preview.stdout).to.equal("same");
      expect(ops.get("copy") ?? "same", preview.stdout).to.equal("same");
      expect(ops.get("watch"), preview.stdout).to.equal("update");

      const r = await up();
      expect(r.code, output(r)).to.equal(0);
      expect(logLines().slice(5)).to.deep.equal(["watch:w"]);
    });

    it("a changed source file is copied again", async function () {
      fs.writeFileSync(agentFile, "#!/bin/sh\necho agent v2\n", { mode: 0o755 });
      const r = await up();
      expect(r.code, output(r)).to.equal(0);
      expect(fs.readFileSync(path.join(dir, "sub", "dir", "agent.sh"), "utf8")).to.equal("#!/bin/sh\necho agent v2\n");
      const again = await up("--expect-no-changes");
      expect(again.code, output(again)).to.equal(0);
    });

    it("destroy runs delete (and leaves the copied file, as upstream)", async function () {
      const r = await run(["destroy", "--stack", "test", "--yes", "--skip-preview", "--non-interactive"]);
      expect(r.code, output(r)).to.equal(0);
      expect(logLines().slice(-1)).to.deep.equal(["delete-2"]);
      expect(fs.existsSync(path.join(dir, "sub", "dir", "agent.sh"))).to.equal(true);
    });
  });

  describe("failures", function () {
    let p: TempProject;
    let n = 0;

    before(function () {
      if (!sshd) this.skip();
      p = project("smith-command-probe", PROBE_PROGRAM);
    });

    /** A fresh stack with `config` over the working defaults; resolves with the failed up. */
    async function failingUp(config: Record<string, string>): Promise<string> {
      const stack = `probe${++n}`;
      await initStack(p, stack, { script: "true", ...config }, sshd!.clientPrivateKey);
      const r = await runPulumi(["up", "--stack", stack, "--yes", "--skip-preview", "--non-interactive"], { cwd: p.dir, env: p.env });
      expect(r.code, output(r)).to.not.equal(0);
      const text = output(r);
      // Whatever failed, the key never reaches the output.
      expect(text).not.to.include(keyBody(sshd!.clientPrivateKey).slice(0, 40));
      return text;
    }

    it("a host key that is not connection.hostKey fails at once, without retries", async function () {
      const wrong = generateKey(sshd!.dir, `wrong_host_${Date.now()}`, "not-the-server");
      const text = await failingUp({ hostKey: wrong });
      expect(text).to.match(/host key mismatch/);
      expect(text).to.match(/after 1 attempt\(s\)/);
    });

    it("an unreachable port fails after dialErrorLimit retries", async function () {
      const text = await failingUp({ port: String(await freePort()), dialErrorLimit: "2" });
      expect(text).to.match(/after 3 attempt\(s\)/);
      expect(text).to.match(/connection refused/);
    });

    it("unlimited dials end at the customTimeouts bound", async function () {
      const text = await failingUp({ port: String(await freePort()), dialErrorLimit: "-1", createTimeout: "4s" });
      expect(text).to.match(/gave up after \d+ attempt\(s\) at the operation timeout/);
    });

    it("a non-zero exit fails with the exit status and the combined output", async function () {
      const text = await failingUp({ script: "echo oops-out; echo oops-err >&2; exit 3" });
      expect(text).to.match(/exit status 3/);
      expect(text).to.include("oops-out");
      expect(text).to.include("oops-err");
    });
  });
});
