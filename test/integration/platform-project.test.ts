/**
 * The rollout Job's writable-project flow without Kubernetes (no kubelet runs here): a temp dir
 * laid out like the pod — a code dir standing for the image's /opt/smith (read-only: checked
 * unchanged at the end) and a volume dir standing for the shard's PVC — and the Job's own
 * command lines (src/platform/workloads.ts COMMANDS with those paths), run as processes with
 * the code dir as working directory (the image's WORKDIR):
 *
 *   1. init step `smith project seed`, then `smith rollout … --dry-run`: a real `pulumi preview`
 *      of the stack from the volume's project dir (Pulumi.yaml `main:` = the code dir);
 *   2. `smith approve` as in the shard's console pod ($SMITH_PROJECT_DIR): written to the
 *      volume's stack file, never the image's;
 *   3. the next pod's init step keeps that file; the next dry run sees the approval.
 *
 * Real engine, lab stack `lab-pod` on a temp file backend; no machine is contacted (preview).
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { COMMANDS, Paths, PATHS } from "../../src/platform/workloads";
import { pulumiUnavailableReason, REPO_ROOT } from "../support/pulumi";

const STACK = "lab-pod";
/** What the image holds of the checkout (Dockerfile `COPY . .`): linked, so the code is this checkout's. */
const CODE = ["bin", "cli", "src", "stacks", "components", "agent", "node_modules", "package.json", "tsconfig.json", "waves", ".smith"];

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir)) {
    const p = path.join(dir, e);
    const st = fs.lstatSync(p);
    out[e] = st.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : st.isDirectory() ? JSON.stringify(snapshot(p)) : crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex");
  }
  return out;
}

describe("platform rollout Job: writable project dir on the volume, code read-only (command lines of the Job)", function () {
  this.timeout(10 * 60_000);
  let t: string;
  let paths: Paths;
  let env: NodeJS.ProcessEnv;

  /** A Job command line (the image's entrypoint is `smith`), in the code dir like the pod's WORKDIR. */
  const smith = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync("nice", ["-n", "10", process.execPath, path.join(paths.app, "bin", "smith.js"), ...args], { cwd: paths.app, env: { ...env, ...extraEnv }, encoding: "utf8" });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };

  before(function () {
    const why = pulumiUnavailableReason();
    if (why) {
      console.log(`      skipping the platform project test: ${why}`);
      this.skip();
    }
    t = fs.mkdtempSync(path.join(os.tmpdir(), "smith-pod-"));
    const app = path.join(t, "opt", "smith");
    const volume = path.join(t, "var", "lib", "smith", "pipeline");
    paths = { ...PATHS, app, rolloutState: volume, project: path.join(volume, path.basename(PATHS.project)) };
    fs.mkdirSync(path.join(app, "inventory"), { recursive: true });
    fs.mkdirSync(path.join(app, "pipelines"));
    fs.mkdirSync(volume, { recursive: true });
    for (const e of CODE) fs.symlinkSync(path.join(REPO_ROOT, e), path.join(app, e));
    fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(app, "Pulumi.yaml"));
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(t, "id")]);
    const net = process.env.SMITH_LAB_TEST_NETWORK ?? "127.0.29";
    fs.writeFileSync(
      path.join(app, "inventory", "pod.yaml"),
      [
        "machines:",
        ...["test-01:test", "master-01:master", "worker-01:worker", "worker-02:worker"].map((m, i) => {
          const [n, role] = m.split(":");
          return `  - { name: dev-pod-${n}, host: ${net}.${i + 10}, environment: dev, region: r1, cluster: dev-pod, role: ${role} }`;
        }),
      ].join("\n") + "\n",
    );
    fs.writeFileSync(
      path.join(app, `Pulumi.${STACK}.yaml`),
      ["config:", '  smith:build: "2"', "  smith:inventory: inventory/pod.yaml", "  smith:waves: waves/lab.yaml", `  smith:repoUrl: http://${net}.1:9`, `  smith:sshPrivateKeyPath: ${path.join(t, "id")}`, '  smith:requireHostKeys: "false"'].join("\n") + "\n",
    );
    fs.writeFileSync(
      path.join(app, "pipelines", "pod.yaml"),
      [
        "stages:",
        "  - name: sample",
        `    run: { stacks: [${STACK}], untilWave: sample }`,
        "  - name: decision",
        `    approval: { stack: ${STACK}, wave: rest }`,
        "  - name: rest",
        `    run: { stacks: [${STACK}], untilWave: rest }`,
      ].join("\n") + "\n",
    );
    env = { ...process.env, PULUMI_BACKEND_URL: `file://${path.join(t, "backend")}`, PULUMI_SKIP_UPDATE_CHECK: "true" };
    delete env.SMITH_PROJECT_DIR;
    delete env.SMITH_PIPELINE_STATE_DIR;
    delete env.SMITH_STACK;
  });

  after(() => {
    if (t) fs.rmSync(t, { recursive: true, force: true });
  });

  it("init, dry run, approve from the console, next init keeps it, next dry run sees it; the code dir never changes", () => {
    const before = snapshot(paths.app);
    const stackFile = path.join(paths.project, `Pulumi.${STACK}.yaml`);

    const init = smith(COMMANDS.seedProject(paths));
    expect(init.code, init.out).to.equal(0);
    expect(init.out).to.include(`copied Pulumi.${STACK}.yaml`);
    expect(parse(fs.readFileSync(path.join(paths.project, "Pulumi.yaml"), "utf8"))).to.include({ name: "smith", main: paths.app });
    expect(fs.readlinkSync(path.join(paths.project, "inventory"))).to.equal(path.join(paths.app, "inventory"));

    const rolloutArgs = [...COMMANDS.rollout("2", "pipelines/pod.yaml", false, paths), "--dry-run"];
    expect(rolloutArgs).to.include.members(["--project-dir", paths.project, "--state-dir", paths.rolloutState]);
    const dry = smith(rolloutArgs);
    expect(dry.code, dry.out).to.equal(0);
    expect(dry.out).to.match(new RegExp(`^sample \\(run\\) ${STACK}: preview: create \\d+; 3 machine\\(s\\) in waves test, sample$`, "m"));
    expect(dry.out).to.match(new RegExp(`^rest \\(run\\) ${STACK}: preview: create \\d+; 1 machine\\(s\\) in waves rest$`, "m"));
    expect(dry.out).to.include(`decision (approval): closed: npx smith approve --stack ${STACK} --wave rest --build 2`);

    // The console pod: same env as the Job, so smith approve needs no --project-dir.
    const approve = smith(["approve", "--stack", STACK, "--wave", "rest", "--build", "2", "--by", "sre@example.com"], { SMITH_PROJECT_DIR: paths.project });
    expect(approve.code, approve.out).to.equal(0);
    const written = parse(fs.readFileSync(stackFile, "utf8")) as { config: Record<string, unknown> };
    expect(written.config["smith:approvals"]).to.deep.equal(["rest@2"]);

    const again = smith(COMMANDS.seedProject(paths));
    expect(again.code, again.out).to.equal(0);
    expect(again.out).to.include(`kept Pulumi.${STACK}.yaml`);
    expect((parse(fs.readFileSync(stackFile, "utf8")) as typeof written).config["smith:approvals"]).to.deep.equal(["rest@2"]);

    const dry2 = smith(rolloutArgs);
    expect(dry2.code, dry2.out).to.equal(0);
    expect(dry2.out).to.match(/^decision \(approval\): open \(rest@2 by sre@example\.com at [0-9T:.-]+Z\)$/m);

    expect(snapshot(paths.app)).to.deep.equal(before);
    expect(fs.readdirSync(paths.rolloutState)).to.include(".project");
  });
});
