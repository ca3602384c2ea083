/**
 * smith's command provider (plugins/pulumi-resource-command) under the real engine, driven by the
 * unchanged @pulumi/command SDK against a throwaway sshd on loopback: remote.Command create,
 * update (with previous output and environment), replacement on triggers, delete (with the
 * previous output), stdin, `ignoreChanges: ["connection"]`, remote.CopyToRemote of a FileAsset, a
 * directory, a FileArchive (directory or archive file) and into an existing directory, a second
 * `up` that changes nothing, local.Command's lifecycle, a Ctrl-C that lets a running command
 * finish, and the failures as upstream reports them (host key mismatch and refused logins retried
 * up to dialErrorLimit, customTimeouts bounding unlimited dials, a non-zero exit). Skips with the
 * reason printed when root, sshd, the engine or the provider plugin is missing.
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
  RunOptions,
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
  delete: "echo delete-" + version + " prev=$PULUMI_COMMAND_STDOUT >> " + log,
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

/** One CopyToRemote per kind of source upstream copies. */
const COPY_PROGRAM = `${CONNECTION}
const remote = config.require("remote");
const local = config.require("local");
const copies: [string, pulumi.asset.Asset | pulumi.asset.Archive, string][] = [
  ["archive-dir", new pulumi.asset.FileArchive(local + "/tree"), remote + "/archive-dir"],
  ["archive-file", new pulumi.asset.FileArchive(local + "/bundle.tgz"), remote + "/archive-file.tgz"],
  // A trailing "/": the directory's contents, not the directory.
  ["archive-contents", new pulumi.asset.FileArchive(local + "/tree/"), remote + "/contents"],
  ["into-dir", new pulumi.asset.FileAsset(local + "/single.txt"), remote + "/existing"],
  ["text", new pulumi.asset.StringAsset("a note"), remote + "/text/note.txt"],
];
for (const [name, source, remotePath] of copies) {
  new command.remote.CopyToRemote(name, { connection, source, remotePath });
}
// Deprecated upstream, still served: one file to one path.
new command.remote.CopyFile("copyfile", { connection, localPath: local + "/single.txt", remotePath: remote + "/copyfile.txt" });
`;

/** local.Command with every input smith's drain steps use. */
const LOCAL_PROGRAM = `
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

const config = new pulumi.Config();
const version = config.require("version");
const cmd = new command.local.Command("drain", {
  dir: config.require("dir"),
  environment: { SMITH_STEP: "drain" },
  interpreter: ["/bin/bash", "-c"],
  stdin: "node-1",
  create: 'echo "create-' + version + ' $PWD env=$SMITH_STEP in=$(cat)" >> log; echo out-' + version,
  update: 'echo "update-' + version + ' prev=$PULUMI_COMMAND_STDOUT" >> log; echo upd-' + version,
  delete: 'echo "delete-' + version + ' prev=$PULUMI_COMMAND_STDOUT" >> log',
  triggers: [config.require("trigger")],
});
export const stdout = cmd.stdout;
// local.run: runs on every preview and update.
export const ran = command.local.runOutput({ command: "echo ran-" + version + " $SMITH_STEP", environment: { SMITH_STEP: "run" } }).stdout;
`;

const PROBE_PROGRAM = `${CONNECTION}
const timeout = config.get("createTimeout");
const probe = new command.remote.Command("probe", {
  connection,
  create: config.require("script"),
}, timeout ? { customTimeouts: { create: timeout } } : {});
export const stdout = probe.stdout;
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

    it("a changed trigger replaces: creates the new one, then deletes the old one with its stdout", async function () {
      await set("trigger", "b");
      const r = await up();
      expect(r.code, output(r)).to.equal(0);
      expect(r.stdout).to.match(/replaced/);
      expect(logLines().slice(3)).to.deep.equal(["create-2", "delete-2 prev=upd-2"]);
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
      expect(logLines().slice(-1)).to.deep.equal(["delete-2 prev=out-2"]);
      expect(fs.existsSync(path.join(dir, "sub", "dir", "agent.sh"))).to.equal(true);
    });
  });

  describe("failures, as upstream reports them", function () {
    let p: TempProject;
    let n = 0;

    before(function () {
      if (!sshd) this.skip();
      p = project("smith-command-probe", PROBE_PROGRAM);
    });

    /** A fresh stack with `config` over the working defaults; resolves with the up's result. */
    async function probeUp(config: Record<string, string>, privateKey = sshd!.clientPrivateKey, onStart?: RunOptions["onStart"]) {
      const stack = `probe${++n}`;
      await initStack(p, stack, { script: "true", ...config }, privateKey);
      const r = await runPulumi(["up", "--stack", stack, "--yes", "--skip-preview", "--non-interactive"], { cwd: p.dir, env: p.env, onStart });
      // Whatever happened, the key never reaches the output.
      expect(output(r)).not.to.include(keyBody(privateKey).slice(0, 40));
      return r;
    }

    async function failingUp(config: Record<string, string>): Promise<string> {
      const r = await probeUp(config);
      expect(r.code, output(r)).to.not.equal(0);
      return output(r);
    }

    it("a host key that is not connection.hostKey is retried up to dialErrorLimit, then fails", async function () {
      const wrong = generateKey(sshd!.dir, `wrong_host_${Date.now()}`, "not-the-server");
      const text = await failingUp({ hostKey: wrong, dialErrorLimit: "1" });
      expect(text).to.match(/after 1 failed attempts: ssh: handshake failed: ssh: host key mismatch/);
    });

    it("an unreachable port fails after dialErrorLimit retries", async function () {
      const text = await failingUp({ port: String(await freePort()), dialErrorLimit: "2" });
      expect(text).to.match(/after 2 failed attempts: .*connection refused/);
    });

    it("a refused login is retried while dialErrorLimit allows (sshd refuses logins during boot)", async function () {
      const name = `late_client_${Date.now()}`;
      const pub = generateKey(sshd!.dir, name, "smith-late");
      const privateKey = fs.readFileSync(path.join(sshd!.dir, name), "utf8");
      // The key is authorized only once the first logins have been refused.
      let authorized = false;
      const mark = sshd!.log().length;
      const r = await probeUp({ dialErrorLimit: "30", script: "echo logged-in" }, privateKey, () => {
        const wait = setInterval(() => {
          if (!/Failed publickey|Connection closed by authenticating user/.test(sshd!.log().slice(mark)) || authorized) return;
          fs.appendFileSync(path.join(sshd!.dir, "authorized_keys"), `${pub}\n`);
          authorized = true;
          clearInterval(wait);
        }, 100);
      });
      expect(authorized, sshd!.log()).to.equal(true);
      expect(r.code, output(r)).to.equal(0);
      expect(output(r)).to.match(/Dial \d+\/30 failed: retrying|logged-in|created/);
    });

    it("unlimited dials end at the customTimeouts bound", async function () {
      const text = await failingUp({ port: String(await freePort()), dialErrorLimit: "-1", createTimeout: "4s" });
      expect(text).to.match(/context deadline exceeded \(operation timeout of 4s \(customTimeouts\) reached\)/);
      expect(text).to.match(/connection refused/);
    });

    it("a non-zero exit fails with upstream's message and the combined output", async function () {
      const text = await failingUp({ script: "echo oops-out; echo oops-err >&2; exit 3" });
      expect(text).to.match(/Process exited with status 3: running "echo oops-out; echo oops-err >&2; exit 3"/);
      expect(text).to.include("oops-out");
      expect(text).to.include("oops-err");
    });

    it("output lines are progress, not diagnostics; invalid UTF-8 is cleaned, never dropped", async function () {
      const r = await probeUp({ script: "echo progress-line-1; printf 'bad \\377 byte\\n'" });
      expect(r.code, output(r)).to.equal(0);
      // Ephemeral messages show while the step runs and never in the final diagnostics.
      expect(r.stdout).not.to.match(/Diagnostics:[\s\S]*progress-line-1/);
      const outs = JSON.parse((await pulumiOk(["stack", "output", "--stack", `probe${n}`, "--json"], { cwd: p.dir, env: p.env })).stdout);
      expect(outs.stdout).to.equal("progress-line-1\nbad \uFFFD byte");
    });

    it("a Ctrl-C lets the running command finish (never kills dpkg half-way)", async function () {
      const dir = fs.mkdtempSync(path.join(sshd!.dir, "cancel-"));
      const started = path.join(dir, "started");
      const finished = path.join(dir, "finished");
      let interrupted = false;
      const r = await probeUp({ script: `touch '${started}'; sleep 3; echo done > '${finished}'` }, sshd!.clientPrivateKey, (child) => {
        const wait = setInterval(() => {
          if (!fs.existsSync(started)) return;
          clearInterval(wait);
          interrupted = child.kill("SIGINT");
        }, 50);
        child.once("exit", () => clearInterval(wait));
      });
      expect(interrupted, output(r)).to.equal(true);
      expect(fs.existsSync(finished), output(r)).to.equal(true);
      // The step completed: the engine recorded it, the update itself reports the cancellation.
      expect(output(r)).to.match(/created|canceled|cancelled/);
    });
  });

  describe("CopyToRemote: what upstream copies", function () {
    let p: TempProject;
    let remote = "";
    let local = "";

    before(async function () {
      if (!sshd) this.skip();
      remote = fs.mkdtempSync(path.join(sshd.dir, "copy-"));
      p = project("smith-command-copy", COPY_PROGRAM);
      local = path.join(p.dir, "files");
      fs.mkdirSync(path.join(local, "tree", "sub"), { recursive: true });
      fs.writeFileSync(path.join(local, "tree", "a.txt"), "A\n");
      fs.writeFileSync(path.join(local, "tree", "sub", "b.sh"), "#!/bin/sh\n", { mode: 0o755 });
      fs.writeFileSync(path.join(local, "bundle.tgz"), Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff]));
      fs.writeFileSync(path.join(local, "single.txt"), "single\n");
      fs.mkdirSync(path.join(remote, "existing"));
      await initStack(p, "test", { remote, local }, sshd.clientPrivateKey);
    });

    // (A FileAsset naming a directory never reaches a provider: the engine refuses it at registration,
    // "asset path '…' is a directory; try using an archive", upstream's provider included.)
    it("copies a FileArchive directory, an archive file as is, a file into an existing directory, text; CopyFile", async function () {
      const r = await runPulumi(["up", "--stack", "test", "--yes", "--skip-preview", "--non-interactive"], { cwd: p.dir, env: p.env });
      expect(r.code, output(r)).to.equal(0);
      const read = (...parts: string[]) => fs.readFileSync(path.join(remote, ...parts), "utf8");
      expect(read("archive-dir", "tree", "a.txt")).to.equal("A\n");
      expect(read("archive-dir", "tree", "sub", "b.sh")).to.equal("#!/bin/sh\n");
      expect(fs.readFileSync(path.join(remote, "archive-file.tgz"))).to.deep.equal(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff]));
      expect(read("existing", "single.txt")).to.equal("single\n");
      expect(read("contents", "a.txt")).to.equal("A\n");
      expect(read("contents", "sub", "b.sh")).to.equal("#!/bin/sh\n");
      expect(read("text", "note.txt")).to.equal("a note");
      expect(read("copyfile.txt")).to.equal("single\n");
    });
  });

  describe("local.Command", function () {
    let p: TempProject;
    let dir = "";
    const run = (args: string[]) => runPulumi(args, { cwd: p.dir, env: p.env });
    const set = (key: string, value: string) => pulumiOk(["config", "set", "--stack", "test", key, value], { cwd: p.dir, env: p.env });
    const logLines = () => (fs.existsSync(path.join(dir, "log")) ? fs.readFileSync(path.join(dir, "log"), "utf8").split("\n").filter(Boolean) : []);

    before(async function () {
      const reason = pulumiUnavailableReason() ?? commandProviderUnavailableReason() ?? notSmithsProvider();
      if (reason) {
        console.log(`      skipping local.Command: ${reason}`);
        this.skip();
      }
      p = project("smith-command-local", LOCAL_PROGRAM);
      dir = fs.mkdtempSync(path.join(p.dir, "work-"));
      await pulumiOk(["stack", "init", "test"], { cwd: p.dir, env: p.env });
      for (const [k, v] of Object.entries({ dir, version: "1", trigger: "a" })) await set(k, v);
    });

    it("create runs in dir with environment, stdin and the interpreter; stdout is an output; local.run runs", async function () {
      const r = await run(["up", "--stack", "test", "--yes", "--skip-preview", "--non-interactive"]);
      expect(r.code, output(r)).to.equal(0);
      expect(logLines()).to.deep.equal([`create-1 ${dir} env=drain in=node-1`]);
      const outs = JSON.parse((await pulumiOk(["stack", "output", "--stack", "test", "--json"], { cwd: p.dir, env: p.env })).stdout);
      expect(outs.stdout).to.equal("out-1");
      expect(outs.ran).to.equal("ran-1 run");
      // Output lines are progress, not a permanent diagnostic per line.
      expect(r.stdout).not.to.match(/^\s+out-1$/m);
    });

    it("a changed input updates (previous stdout in the env); a changed trigger replaces; destroy deletes", async function () {
      await set("version", "2");
      let r = await run(["up", "--stack", "test", "--yes", "--skip-preview", "--non-interactive"]);
      expect(r.code, output(r)).to.equal(0);
      await set("trigger", "b");
      r = await run(["up", "--stack", "test", "--yes", "--skip-preview", "--non-interactive"]);
      expect(r.code, output(r)).to.equal(0);
      r = await run(["destroy", "--stack", "test", "--yes", "--skip-preview", "--non-interactive"]);
      expect(r.code, output(r)).to.equal(0);
      expect(logLines().slice(1)).to.deep.equal([
        "update-2 prev=out-1",
        `create-2 ${dir} env=drain in=node-1`,
        "delete-2 prev=upd-2",
        "delete-2 prev=out-2",
      ]);
    });
  });
});
