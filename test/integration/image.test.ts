/**
 * The smith image (Dockerfile), built offline by scripts/build-image.sh with buildah, then RUN:
 * with `buildah run`, and the way the platform stack's pods run it (components/platform,
 * src/platform/workloads.ts): as the image's user, read-only root filesystem, /tmp an empty
 * tmpfs (the emptyDir), the image's entrypoint and environment, WORKDIR /opt/smith.
 */
import { expect } from "chai";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { COMMANDS, PATHS, PROJECT_DIR_ENV, SMITH_UID } from "../../src/platform/workloads";
import { commandProviderUnavailableReason, pulumiUnavailableReason, REPO_ROOT } from "../support/pulumi";

const STORE = path.join(REPO_ROOT, ".smith", "image");
const TAG = "localhost/smith:image-test";

interface Run {
  code: number;
  out: string;
  err: string;
}

function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, out, err }));
  });
}

function spawnSyncOk(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
}

async function ok(cmd: string, args: string[], timeoutMs?: number): Promise<string> {
  const r = await run(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${r.err.slice(-2000)}`);
  return r.out;
}

/** buildah on the build script's storage (its driver is whatever that storage was made with). */
function buildahArgs(args: string[]): string[] {
  const driver = fs.existsSync(path.join(STORE, "storage", "vfs")) ? "vfs" : "overlay";
  return ["--root", path.join(STORE, "storage"), "--runroot", path.join(STORE, "run"), "--storage-driver", driver, ...args];
}
const buildah = (args: string[], timeoutMs?: number) => ok("buildah", buildahArgs(args), timeoutMs);

function skipReason(): string | null {
  if (process.getuid?.() !== 0) return "needs root (buildah without a daemon)";
  const which = (t: string) => process.env.PATH!.split(":").some((d) => fs.existsSync(path.join(d, t)));
  if (!which("buildah")) return "buildah is not installed (scripts/install-deps.sh)";
  if (!which("unshare") || !which("chroot")) return "unshare/chroot missing";
  return pulumiUnavailableReason() ?? commandProviderUnavailableReason();
}

/**
 * Runs the container as a pod of the platform stack would: a private mount namespace, the image's
 * root filesystem bind-mounted read-only, /tmp a fresh tmpfs, /proc and /dev, then chroot as the
 * image's USER with only the image's environment, in its WORKDIR. Values are arguments, never
 * interpolated into the script. A volume (a host dir mounted read-write at a path) is optional.
 */
const POD_SH = `set -e
root=$1 user=$2 workdir=$3 vol=$4 volAt=$5; shift 5
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
[ -z "$vol" ] || mount --bind "$vol" "$root$volAt"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
exec chroot --userspec="$user" "$root" /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$workdir" /usr/bin/env -i "$@"`;

describe("the smith image (buildah, offline)", function () {
  this.timeout(900_000);
  let container = "";
  let mountpoint = "";
  let config: { User: string; Env: string[]; Entrypoint: string[]; WorkingDir: string };

  before(async function () {
    const reason = skipReason();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    await ok("bash", [path.join(REPO_ROOT, "scripts", "build-image.sh"), "--tag", TAG], 900_000);
    config = JSON.parse(await buildah(["inspect", "--type", "image", TAG])).OCIv1.config;
    container = (await buildah(["from", "--pull-never", TAG])).trim();
    mountpoint = (await buildah(["mount", container])).trim();
  });
  after(async () => {
    if (container) await buildah(["rm", container]);
  });

  /** A pod's container: the entrypoint with ARGS, or COMMAND instead of it; `volume` = [host dir, mount path]. */
  const pod = (args: string[], command?: string[], volume: [string, string] = ["", ""]) =>
    run("unshare", ["-m", "--propagation", "private", "sh", "-c", POD_SH, "pod", mountpoint, config.User, config.WorkingDir, ...volume, ...config.Env, ...(command ?? [...config.Entrypoint, ...args])]);

  it("is configured as the platform's pods assume: uid/gid, entrypoint, workdir, HOME", () => {
    expect(config.User).to.equal(`${SMITH_UID}:${SMITH_UID}`);
    expect(config.Entrypoint).to.deep.equal(["/opt/smith/scripts/container-entrypoint.sh"]);
    expect(config.WorkingDir).to.equal(PATHS.app);
    expect(config.Env).to.include("HOME=/tmp");
  });

  it("runs smith under `buildah run` as the unprivileged user", async () => {
    const out = await buildah(["run", "--isolation", "chroot", container, "--", "sh", "-c", "id -u; id -g; smith --help"]);
    const [uid, gid] = out.split("\n");
    expect([uid, gid]).to.deep.equal([String(SMITH_UID), String(SMITH_UID)]);
    for (const c of ["plan", "build", "sync", "verify", "rollout", "compliance", "kube"]) expect(out).to.match(new RegExp(`^  ${c}\\b`, "m"));
  });

  it("carries the Pulumi CLI and the command provider plugin in its Pulumi home", async () => {
    const sh = "smith --help >/dev/null && export PULUMI_HOME=/opt/smith/.smith/pulumi-home && pulumi version && pulumi plugin ls --json";
    const out = await buildah(["run", "--isolation", "chroot", "--env", "PATH=/opt/smith/.smith/tools/bin:/usr/local/bin:/usr/bin:/bin", container, "--", "sh", "-c", sh]);
    const versions = fs.readFileSync(path.join(REPO_ROOT, "scripts", "pulumi-versions.env"), "utf8");
    expect(out.split("\n")[0]).to.equal(`v${/^PULUMI_VERSION=(.*)$/m.exec(versions)![1]}`);
    const plugins = JSON.parse(out.slice(out.indexOf("["))) as { name: string; kind: string; version: string }[];
    expect(plugins.map((p) => `${p.kind}/${p.name}@${p.version}`)).to.deep.equal([`resource/command@${/^PULUMI_COMMAND_VERSION=(.*)$/m.exec(versions)![1]}`]);
  });

  it("plans like the checkout does, in a pod (read-only root, /tmp emptyDir)", async () => {
    const args = ["plan", "--inventory", "examples/prod-800.yaml", "--waves", "waves/production.yaml", "--build", "42", "--format", "json"];
    const inImage = await pod(args);
    expect(inImage.err).to.equal("");
    expect(inImage.code).to.equal(0);
    const onHost = await ok("node", ["bin/smith.js", ...args]);
    expect(JSON.parse(inImage.out)).to.deep.equal(JSON.parse(onHost));
  });

  it("cannot write its root filesystem, has no sshd; aptly and gpg work with HOME in /tmp", async () => {
    const r = await pod([], ["sh", "-c", "touch /opt/smith/x 2>&1; test ! -e /usr/sbin/sshd && echo no sshd; aptly repo create smith-test >/dev/null && aptly repo list -raw && gpg --list-keys 2>&1 | head -n 1 && busybox --list | grep -x httpd"]);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/touch: cannot touch '\/opt\/smith\/x': Read-only file system/);
    expect(r.out).to.match(/^no sshd$/m);
    expect(r.out).to.match(/^smith-test$/m);
    expect(r.out).to.match(/^gpg: .*\/tmp\/\.gnupg/m);
    expect(r.out).to.match(/^httpd$/m);
  });

  it("runs a TypeScript program with a local Command through the real engine, in a pod", async () => {
    // What `smith rollout` needs of the image: CLI, nodejs language host (ts-node), command plugin.
    const program = `import { local } from "@pulumi/command";\nexport const said = new local.Command("say", { create: "echo hello from $(id -u)" }).stdout;\n`;
    const sh = [
      "smith --help >/dev/null", // the entrypoint's job: the writable Pulumi home in /tmp
      "export PATH=/opt/smith/.smith/tools/bin:$PATH PULUMI_HOME=/opt/smith/.smith/pulumi-home",
      "export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true PULUMI_NODEJS_TRANSPILE_ONLY=true PULUMI_CONFIG_PASSPHRASE=image-test-only",
      "mkdir -p /tmp/p /tmp/state && cd /tmp/p && ln -s /opt/smith/node_modules node_modules",
      `printf 'name: imagetest\\nruntime:\\n  name: nodejs\\n  options:\\n    typescript: true\\n' >Pulumi.yaml`,
      `printf '{"name":"imagetest","main":"index.ts"}' >package.json`,
      `printf '%s' "$1" >index.ts`,
      "pulumi login --non-interactive file:///tmp/state >/dev/null",
      "pulumi stack init t --non-interactive >/dev/null",
      "pulumi up --yes --skip-preview --non-interactive >/tmp/up.log 2>&1 || { cat /tmp/up.log; exit 1; }",
      "pulumi stack output said",
    ].join("\n");
    const r = await pod([], ["sh", "-c", sh, "sh", program]);
    expect(r.code, r.out + r.err).to.equal(0);
    expect(r.out.trim()).to.equal(`hello from ${SMITH_UID}`);
  });
  it("the rollout Job's pod: init step seeds the project dir on the volume, dry run and approve write only there", async () => {
    // The shard's PVC: a host dir owned by the image's user, mounted at the state path.
    const vol = fs.mkdtempSync(path.join(os.tmpdir(), "smith-pvc-"));
    const project = path.join(vol, path.basename(PATHS.project));
    fs.mkdirSync(path.join(mountpoint, PATHS.rolloutState), { recursive: true }); // the mount point (the container's layer, not the image)
    const volume: [string, string] = [vol, PATHS.rolloutState];
    const env = [`PULUMI_BACKEND_URL=file://${PATHS.rolloutState}/backend`, "PULUMI_SKIP_UPDATE_CHECK=true"];
    try {
      // A lab stack only the volume knows (as if an operator put it there): preview needs no machine.
      fs.mkdirSync(project);
      spawnSyncOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(vol, "id")]);
      fs.writeFileSync(
        path.join(project, "pod-inventory.yaml"),
        "machines:\n" + ["test", "master", "worker", "worker"].map((role, i) => `  - { name: dev-pod-${i}, host: 127.0.29.${i + 10}, environment: dev, region: r1, cluster: dev-pod, role: ${role} }\n`).join(""),
      );
      const stackConfig = ["config:", '  smith:build: "2"', "  smith:inventory: pod-inventory.yaml", "  smith:waves: waves/lab.yaml", "  smith:repoUrl: http://127.0.29.1:9", `  smith:sshPrivateKeyPath: ${PATHS.rolloutState}/id`, '  smith:requireHostKeys: "false"'];
      fs.writeFileSync(path.join(project, "Pulumi.lab-pod.yaml"), stackConfig.join("\n") + "\n");
      const pipeline = `${PATHS.rolloutState}/pod-pipeline.yaml`;
      fs.writeFileSync(path.join(vol, "pod-pipeline.yaml"), "stages:\n  - name: sample\n    run: { stacks: [lab-pod], untilWave: sample }\n  - name: decision\n    approval: { stack: lab-pod, wave: rest }\n");
      spawnSyncOk("chown", ["-R", `${SMITH_UID}:${SMITH_UID}`, vol]);

      const init = await pod(COMMANDS.seedProject(), undefined, volume);
      expect(init.code, init.out + init.err).to.equal(0);
      expect(init.out).to.include("copied Pulumi.dev.yaml, Pulumi.prod.yaml");
      expect(parse(fs.readFileSync(path.join(project, "Pulumi.yaml"), "utf8")).main).to.equal(PATHS.app);

      const dryRun = [...env, ...config.Entrypoint, ...COMMANDS.rollout("2", pipeline, true), "--dry-run"];
      const dry = await pod([], dryRun, volume);
      expect(dry.code, dry.out + dry.err).to.equal(0);
      expect(dry.out).to.match(/^sample \(run\) lab-pod: preview: create \d+; 3 machine\(s\) in waves test, sample$/m);
      expect(dry.out).to.include("decision (approval): closed");

      // What an operator runs in the shard's console (same pod, same env).
      const approve = await pod([], [...env, `${PROJECT_DIR_ENV}=${PATHS.project}`, "smith", "approve", "--stack", "lab-pod", "--wave", "rest", "--build", "2", "--by", "sre@example.com"], volume);
      expect(approve.code, approve.out + approve.err).to.equal(0);
      expect(parse(fs.readFileSync(path.join(project, "Pulumi.lab-pod.yaml"), "utf8")).config["smith:approvals"]).to.deep.equal(["rest@2"]);

      // The next pod: init keeps the stack files, the dry run sees the gate open.
      const again = await pod(COMMANDS.seedProject(), undefined, volume);
      expect(again.out, again.err).to.include("kept Pulumi.dev.yaml, Pulumi.prod.yaml");
      const dry2 = await pod([], dryRun, volume);
      expect(dry2.code, dry2.out + dry2.err).to.equal(0);
      expect(dry2.out).to.match(/^decision \(approval\): open \(rest@2 by sre@example\.com at /m);
    } finally {
      fs.rmSync(vol, { recursive: true, force: true });
    }
  });
});
