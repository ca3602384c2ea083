/**
 * Proof that the real Pulumi engine runs here: a tiny TypeScript project (its own temp dir and file
 * backend, the repo's node_modules) goes through `pulumi preview`, `pulumi up`, a second `up` that
 * must change nothing, and `pulumi stack export`, running a command over SSH against a throwaway
 * sshd on loopback whose host key is verified. The private key travels as secret config and must
 * never reach the state in plaintext.
 *
 * Two programs go through the same steps: one with @pulumi/command's remote.Command (smith's
 * mechanism; needs the command provider plugin), one with a dynamic provider over ssh2 (needs only
 * the engine and @pulumi/pulumi, so the engine is proven even where the command provider cannot be
 * built). Each suite skips, with the reason printed, when what it needs is missing.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import {
  commandProviderUnavailableReason,
  createTempProject,
  pulumiOk,
  PulumiResult,
  pulumiUnavailableReason,
  runPulumi,
  TempProject,
} from "../support/pulumi";
import { generateKey, Sshd, sshdUnavailableReason, startSshd } from "../support/sshd";

const MARKER = "smith-engine-ok";

const CONFIG_PROLOGUE = `
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();
const host = config.require("host");
const port = config.requireNumber("port");
const user = config.require("user");
const hostKey = config.require("hostKey");
const privateKey = config.requireSecret("privateKey");
const markerFile = config.require("markerFile");
// Prints the marker and appends a line to markerFile, so the test counts how often it really ran.
const script = "echo ${MARKER} && date +%s%N >> '" + markerFile + "'";
`;

const COMMAND_PROGRAM = `${CONFIG_PROLOGUE}
import * as command from "@pulumi/command";

// dialErrorLimit 1: every dial error is retried (as upstream), so a wrong host key would otherwise
// take the default 10 retries (~11 s) to fail.
const hello = new command.remote.Command("hello", {
  connection: { host, port, user, privateKey, hostKey, dialErrorLimit: 1 },
  create: script,
});
export const stdout = hello.stdout;
`;

const DYNAMIC_PROGRAM = `${CONFIG_PROLOGUE}
interface SshRunInputs {
  host: string;
  port: number;
  user: string;
  hostKey: string;
  privateKey: string;
  command: string;
}

// Runs inputs.command over SSH; the server must present exactly inputs.hostKey.
function sshRun(inputs: SshRunInputs): Promise<string> {
  const { Client } = require("ssh2");
  const expected = Buffer.from(inputs.hostKey.trim().split(/\\s+/)[1], "base64");
  return new Promise((resolve, reject) => {
    const conn = new Client();
    conn.on("ready", () => {
      conn.exec(inputs.command, (err: Error | undefined, stream: any) => {
        if (err) {
          conn.end();
          reject(err);
          return;
        }
        let out = "";
        let errOut = "";
        stream.on("data", (d: Buffer) => (out += d.toString()));
        stream.stderr.on("data", (d: Buffer) => (errOut += d.toString()));
        stream.on("close", (code: number) => {
          conn.end();
          if (code === 0) resolve(out.trim());
          else reject(new Error("exit " + code + ": " + errOut));
        });
      });
    });
    conn.on("error", reject);
    conn.connect({
      host: inputs.host,
      port: inputs.port,
      username: inputs.user,
      privateKey: inputs.privateKey,
      readyTimeout: 10000,
      hostVerifier: (key: Buffer) => key.equals(expected),
    });
  });
}

const compared = ["host", "port", "user", "hostKey", "command"];
const sshCommand: pulumi.dynamic.ResourceProvider = {
  async create(inputs: SshRunInputs) {
    const stdout = await sshRun(inputs);
    const { privateKey: _secret, ...kept } = inputs;
    return { id: inputs.host + ":" + inputs.port, outs: { ...kept, stdout } };
  },
  async diff(_id: string, olds: any, news: any) {
    const replaces = compared.filter((k) => olds[k] !== news[k]);
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
  },
};

class SshCommand extends pulumi.dynamic.Resource {
  public readonly stdout!: pulumi.Output<string>;
  constructor(name: string, args: Record<string, pulumi.Input<any>>) {
    super(sshCommand, name, { ...args, stdout: undefined }, {});
  }
}

const hello = new SshCommand("hello", { host, port, user, hostKey, privateKey, command: script });
export const stdout = hello.stdout;
`;

interface Scenario {
  title: string;
  project: string;
  program: string;
  resourceType: string;
  /** What a host key mismatch looks like in this provider's error. */
  hostKeyError: RegExp;
  /** Why this scenario cannot run here beyond the shared needs, or null. */
  unavailable(): string | null;
}

const scenarios: Scenario[] = [
  {
    title: "remote.Command (@pulumi/command)",
    project: "smith-engine-command",
    program: COMMAND_PROGRAM,
    resourceType: "command:remote:Command",
    // golang.org/x/crypto/ssh's FixedHostKey, after the provider's dial retries.
    hostKeyError: /host key mismatch/i,
    unavailable: commandProviderUnavailableReason,
  },
  {
    title: "dynamic provider over ssh2",
    project: "smith-engine-dynamic",
    program: DYNAMIC_PROGRAM,
    resourceType: "pulumi-nodejs:dynamic:Resource",
    hostKeyError: /Host denied \(verification failed\)/,
    unavailable: () => null,
  },
];

function output(r: PulumiResult): string {
  return `${r.stdout}\n${r.stderr}`;
}

/** Every file the backend wrote (checkpoints, history, backups), concatenated. */
function backendFiles(dir: string): string {
  let text = "";
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) text += fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8");
  }
  return text;
}

/** The base64 body of an OpenSSH private key, as one string (what a leak would contain). */
function keyBody(pem: string): string {
  return pem
    .split("\n")
    .filter((l) => l && !l.startsWith("-----"))
    .join("");
}

describe("Pulumi engine: preview, up, no-op up, export against a loopback sshd", function () {
  this.timeout(10 * 60_000);

  for (const scenario of scenarios) {
    describe(scenario.title, function () {
      let sshd: Sshd | undefined;
      let project: TempProject | undefined;
      let markerFile = "";

      const run = (args: string[], input?: string) =>
        runPulumi(args, { cwd: project!.dir, env: project!.env, input });
      const ok = (args: string[], input?: string) =>
        pulumiOk(args, { cwd: project!.dir, env: project!.env, input });
      const timesRun = () => (fs.existsSync(markerFile) ? fs.readFileSync(markerFile, "utf8").split("\n").filter(Boolean).length : 0);

      async function initStack(stack: string, hostKey: string): Promise<void> {
        await ok(["stack", "init", stack]);
        const set = (key: string, value: string) => ok(["config", "set", "--stack", stack, key, value]);
        await set("host", sshd!.host);
        await set("port", String(sshd!.port));
        await set("user", sshd!.user);
        await set("hostKey", hostKey);
        await set("markerFile", markerFile);
        // From stdin, so the key is in no process's argv.
        await ok(["config", "set", "--stack", stack, "--secret", "privateKey"], sshd!.clientPrivateKey);
      }

      before(async function () {
        const reason = sshdUnavailableReason() ?? pulumiUnavailableReason() ?? scenario.unavailable();
        if (reason) {
          console.log(`      skipping "${scenario.title}": ${reason}`);
          this.skip();
        }
        sshd = await startSshd();
        markerFile = path.join(sshd.dir, "ran");
        project = createTempProject(scenario.project, scenario.program);
        await initStack("test", sshd.hostKey);
      });

      after(async function () {
        await sshd?.stop();
        project?.remove();
      });

      it("previews the command without running it", async function () {
        const r = await ok(["preview", "--stack", "test", "--json", "--non-interactive"]);
        const preview = JSON.parse(r.stdout) as { steps: { op: string; urn: string }[] };
        const creates = preview.steps.filter((s) => s.op === "create").map((s) => s.urn);
        expect(creates.some((urn) => urn.includes(`::${scenario.resourceType}::hello`)), creates.join("\n")).to.equal(true);
        expect(timesRun()).to.equal(0);
      });

      it("up runs the command over SSH once", async function () {
        const r = await run(["up", "--stack", "test", "--yes", "--skip-preview", "--non-interactive"]);
        expect(r.code, output(r)).to.equal(0);
        expect(timesRun()).to.equal(1);
      });

      it("a second up changes nothing and does not run the command again", async function () {
        const r = await run(["up", "--stack", "test", "--yes", "--skip-preview", "--expect-no-changes", "--non-interactive"]);
        expect(r.code, output(r)).to.equal(0);
        expect(r.stdout).to.match(/unchanged/);
        expect(r.stdout).not.to.match(/\b(created|updated|replaced)\b/);
        expect(timesRun()).to.equal(1);
      });

      it("stack export holds the command's stdout and only the encrypted private key", async function () {
        const r = await ok(["stack", "export", "--stack", "test"]);
        const deployment = JSON.parse(r.stdout) as {
          deployment: { resources: { type: string; urn: string; outputs?: Record<string, unknown> }[] };
        };
        const resource = deployment.deployment.resources.find((res) => res.type === scenario.resourceType);
        expect(resource, r.stdout).to.not.equal(undefined);
        expect(String(resource!.outputs?.stdout).trim()).to.equal(MARKER);

        const body = keyBody(sshd!.clientPrivateKey);
        expect(body.length).to.be.greaterThan(100);
        expect(r.stdout).not.to.include(body.slice(0, 40));
        // Every file the backend wrote, not only the current checkpoint.
        const state = backendFiles(project!.env.PULUMI_BACKEND_URL!.replace(/^file:\/\//, ""));
        expect(state).to.include(MARKER);
        expect(state).not.to.include(body.slice(0, 40));
        // The key is in the state, as a secret: ciphertext under Pulumi's secret signature.
        expect(r.stdout).to.include("4dabf18193072939515e22adb298388d");
      });

      it("refuses a server whose host key is not connection.hostKey", async function () {
        const wrongKey = generateKey(sshd!.dir, "wrong_host_key", "not-the-server");
        await initStack("wrong-host-key", wrongKey);
        const before = timesRun();
        const r = await run(["up", "--stack", "wrong-host-key", "--yes", "--skip-preview", "--non-interactive"]);
        expect(r.code, output(r)).to.not.equal(0);
        expect(output(r)).to.match(scenario.hostKeyError);
        expect(timesRun()).to.equal(before);
      });
    });
  }
});
