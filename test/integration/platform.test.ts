import { expect } from "chai";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { findPlugin } from "../../src/pulumi/env";
import { kubeUnavailableReason, startTestCluster, TestCluster } from "../support/kube";
import { pulumiOk, pulumiUnavailableReason, REPO_ROOT, runPulumi } from "../support/pulumi";

const execFileP = promisify(execFile);
const PROJECT = path.join(REPO_ROOT, "stacks", "platform");
const KUBECTL = path.join(REPO_ROOT, ".smith", "tools", "bin", "kubectl");
const K8S_VERSION: string = require(path.join(REPO_ROOT, "node_modules", "@pulumi", "kubernetes", "package.json")).version;

function unavailable(needCluster: boolean): string | null {
  return (
    pulumiUnavailableReason() ??
    (findPlugin(REPO_ROOT, "resource", "kubernetes", K8S_VERSION) === null
      ? `pulumi-resource-kubernetes ${K8S_VERSION} not installed: run scripts/install-kubernetes.sh`
      : null) ??
    (needCluster ? kubeUnavailableReason() : null)
  );
}

/** A stack of the real platform project (stacks/platform) with its own backend and config file. */
function platformStack(name: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-platform-it-"));
  fs.mkdirSync(path.join(dir, "state"));
  const configFile = path.join(dir, `Pulumi.${name}.yaml`);
  const env = { PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, PULUMI_CONFIG_PASSPHRASE: "platform-test-only" };
  const opts = (extra: { input?: string; timeoutMs?: number } = {}) => ({ cwd: PROJECT, env, ...extra });
  return {
    dir,
    opts,
    /** `pulumi ARGS --stack … --config-file … [-- VALUE]`: a value after `--` (it may start with "-"). */
    pulumi: (args: string[], extra: { input?: string; timeoutMs?: number; value?: string } = {}) =>
      pulumiOk(
        [...args, "--stack", name, "--config-file", configFile, "--non-interactive", ...(extra.value === undefined ? [] : ["--", extra.value])],
        opts({ input: extra.input, timeoutMs: extra.timeoutMs ?? 10 * 60_000 }),
      ),
    run: (args: string[]) => runPulumi([...args, "--stack", name, "--config-file", configFile, "--non-interactive"], opts()),
    async init(config: Record<string, string>, secrets: Record<string, string>) {
      await pulumiOk(["stack", "init", name, "--non-interactive"], opts());
      for (const [k, v] of Object.entries(config)) await this.pulumi(["config", "set", `smith:${k}`], { value: v });
      for (const [k, v] of Object.entries(secrets)) await this.pulumi(["config", "set", "--secret", `smith:${k}`], { input: v });
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Any builds file: the platform only mounts it (its content is the builds engineer's). */
const BUILDS_FILE = path.join(REPO_ROOT, "examples", "builds.yaml");

const SECRETS = {
  signingKey: "-----BEGIN PGP PRIVATE KEY BLOCK-----\ntest\n-----END PGP PRIVATE KEY BLOCK-----",
  escalationWebhook: "https://hooks.example/T000/secret",
  backendUrl: "s3://state/smith",
  sshPrivateKey: "ssh-test-key",
};

describe("platform stack: offline preview, manifests rendered to a directory (no cluster)", function () {
  this.timeout(600_000);
  let stack: ReturnType<typeof platformStack>;
  before(function () {
    const reason = unavailable(false);
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    stack = platformStack("render");
  });
  after(() => stack?.remove());

  it("previews and renders every object to YAML with no API server at all", async () => {
    const out = path.join(stack.dir, "rendered");
    await stack.init({ image: "registry.example/smith:0.1.0", renderDir: out, buildsFile: BUILDS_FILE, pipelines: '[{"name":"prod","build":"3","shards":[{"name":"eu","pipeline":"waves/pipeline.yaml"}]}]' }, SECRETS);
    const preview = await stack.pulumi(["preview"]);
    expect(preview.stdout).to.match(/\+\s+\d+ to create/);
    await stack.pulumi(["up", "--yes", "--skip-preview"]);
    const files = fs.readdirSync(path.join(out, "1-manifest"));
    for (const f of ["apps_v1-deployment-smith-smith-mirror.yaml", "batch_v1-cronjob-smith-smith-builder.yaml", "batch_v1-job-smith-smith-rollout-prod-eu.yaml"]) {
      expect(files, f).to.include(f);
    }
    const builder = fs.readFileSync(path.join(out, "1-manifest", "batch_v1-cronjob-smith-smith-builder.yaml"), "utf8");
    expect(builder).to.match(/schedule: "?30 3 \* \* 0"?/);
  });
});

describe("platform stack on a real API server (pulumi up, kubectl get)", function () {
  this.timeout(900_000);
  let cluster: TestCluster;
  let stack: ReturnType<typeof platformStack>;

  before(async function () {
    const reason = unavailable(true);
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    cluster = await startTestCluster();
    stack = platformStack("it");
  });
  after(async () => {
    stack?.remove();
    await cluster?.stop();
  });

  async function kubectl(...args: string[]): Promise<any> {
    const { stdout } = await execFileP(KUBECTL, ["--kubeconfig", cluster.kubeconfig, ...args, "-o", "json"]);
    return JSON.parse(stdout);
  }
  const names = (list: any) => list.items.map((i: any) => `${i.kind}/${i.metadata.name}`).sort();

  it("creates every object; a change updates; a second up is a no-op; rotation regenerates the credentials", async () => {
    await stack.init(
      {
        image: "registry.example/smith:0.1.0",
        kubeconfig: cluster.kubeconfig,
        skipAwait: "true",
        buildsFile: BUILDS_FILE,
        pipelines: JSON.stringify([
          { name: "prod", build: "3", shards: [{ name: "eu", pipeline: "waves/pipeline-eu.yaml" }, { name: "us", pipeline: "waves/pipeline-us.yaml" }] },
          { name: "dev", build: "3", shards: [{ name: "all", pipeline: "waves/pipeline.yaml" }], schedule: "0 8 * * 1" },
        ]),
      },
      SECRETS,
    );
    await stack.pulumi(["up", "--yes", "--skip-preview"]);

    const all = await kubectl("-n", "smith", "get", "cronjobs,jobs,deployments,services,secrets,serviceaccounts,networkpolicies,pvc");
    expect(names(all)).to.include.members([
      "CronJob/smith-builder",
      "CronJob/smith-compliance-due-soon",
      "CronJob/smith-compliance-overdue",
      "CronJob/smith-console-dev-all",
      "CronJob/smith-console-prod-eu",
      "CronJob/smith-console-prod-us",
      "CronJob/smith-rollout-dev-all",
      "Job/smith-rollout-prod-eu",
      "Job/smith-rollout-prod-us",
      "Deployment/smith-mirror",
      "Service/smith-mirror",
      "Secret/smith-backend",
      "Secret/smith-escalation",
      "Secret/smith-generated",
      "Secret/smith-signing-key",
      "Secret/smith-ssh",
      "ServiceAccount/smith-builder",
      "ServiceAccount/smith-compliance",
      "ServiceAccount/smith-mirror",
      "ServiceAccount/smith-rollout",
      "NetworkPolicy/smith-default-deny",
      "NetworkPolicy/smith-dns",
      "NetworkPolicy/smith-jobs-egress",
      "NetworkPolicy/smith-mirror-ingress",
      "PersistentVolumeClaim/smith-aptly",
      "PersistentVolumeClaim/smith-published",
    ]);
    // The rollout pod: init step seeding the project dir on the shard's volume, and the env that
    // points smith rollout/approve at it; the shard's console (suspended) has the same pod.
    const rolloutPod = (await kubectl("-n", "smith", "get", "job", "smith-rollout-prod-eu")).spec.template.spec;
    expect(rolloutPod.initContainers.map((c: any) => [c.name, ...c.args])).to.deep.equal([["seed-project", "project", "seed", "--from", "/opt/smith", "--to", "/var/lib/smith/pipeline/.project"]]);
    expect(rolloutPod.containers[0].args).to.include.members(["--project-dir", "/var/lib/smith/pipeline/.project"]);
    expect(rolloutPod.containers[0].env).to.deep.include({ name: "SMITH_PROJECT_DIR", value: "/var/lib/smith/pipeline/.project" });
    const console_ = await kubectl("-n", "smith", "get", "cronjob", "smith-console-prod-eu");
    expect(console_.spec.suspend).to.equal(true);
    const consolePod = console_.spec.jobTemplate.spec.template.spec;
    expect(consolePod.containers[0].command).to.deep.equal(["sleep", "3600"]);
    expect(consolePod.initContainers).to.deep.equal(rolloutPod.initContainers);
    expect(consolePod.volumes.find((v: any) => v.name === "state").persistentVolumeClaim.claimName).to.equal("smith-rollout-prod-eu");

    const role = await kubectl("get", "clusterrole", "smith-node-drainer-smith");
    expect(role.rules.map((r: any) => r.resources[0]).sort()).to.deep.equal(["nodes", "pods", "pods/eviction"]);
    const generated = await kubectl("-n", "smith", "get", "secret", "smith-generated");
    expect(Object.keys(generated.data).sort()).to.deep.equal(["mirror-upload-password", "object-store-access-key", "object-store-secret-key", "webhook-signing-key"]);
    expect(Buffer.from(generated.data["mirror-upload-password"], "base64").toString()).to.match(/^[A-Za-z0-9]{32}$/);

    // A change updates in place.
    await stack.pulumi(["config", "set", "smith:mirrorReplicas", "3"]);
    const changed = await stack.pulumi(["up", "--yes", "--skip-preview"]);
    // The Deployment (and the Mirror component recording its replicas) update in place; nothing else.
    expect(changed.stdout).to.match(/~ [12] updated/);
    expect(changed.stdout).to.not.match(/replaced|\+ \d+ created|- \d+ deleted/);
    expect(changed.stdout).to.match(/kubernetes:apps\/v1:Deployment\s+smith-mirror-deployment\s+updated/);
    expect((await kubectl("-n", "smith", "get", "deployment", "smith-mirror")).spec.replicas).to.equal(3);

    // The same program again changes nothing.
    await stack.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes"]);

    // Rotation: every generated credential is new, the Secret carries the new values.
    await stack.pulumi(["config", "set", "smith:credentialsRotation", "2"]);
    await stack.pulumi(["up", "--yes", "--skip-preview"]);
    const rotated = await kubectl("-n", "smith", "get", "secret", "smith-generated");
    for (const k of Object.keys(generated.data)) expect(rotated.data[k], k).to.not.equal(generated.data[k]);

    // Secrets are ciphertext in the state.
    const exported = await pulumiOk(["stack", "export", "--stack", "it"], stack.opts());
    for (const s of Object.values(SECRETS)) expect(exported.stdout).to.not.include(s);
    expect(exported.stdout).to.not.include(Buffer.from(rotated.data["webhook-signing-key"], "base64").toString());

    // The operator's way to the shard's volume (docs/platform.md, "Approvals"): a Job from the
    // shard's console, with the rollout pod's volume, init step and env (no kubelet here to exec into it).
    const kc = (...args: string[]) => execFileP(KUBECTL, ["--kubeconfig", cluster.kubeconfig, "-n", "smith", ...args]);
    await kc("create", "job", "smith-approve-1", "--from=cronjob/smith-console-prod-eu");
    const approvePod = (await kubectl("-n", "smith", "get", "job", "smith-approve-1")).spec.template.spec;
    expect(approvePod.containers[0].command).to.deep.equal(["sleep", "3600"]);
    expect(approvePod.containers[0].env).to.deep.include({ name: "SMITH_PROJECT_DIR", value: "/var/lib/smith/pipeline/.project" });
    expect(approvePod.volumes.find((v: any) => v.name === "state").persistentVolumeClaim.claimName).to.equal("smith-rollout-prod-eu");
    // Going on after the approval: a scheduled shard now, from its CronJob ...
    await kc("create", "job", "smith-rollout-dev-all-now", "--from=cronjob/smith-rollout-dev-all");
    expect((await kubectl("-n", "smith", "get", "job", "smith-rollout-dev-all-now")).spec.template.spec.containers[0].args).to.include.members(["--project-dir", "--no-wait"]);
    // ... a one-off shard by replacing its Job (a new pod, same claim).
    const urn = (JSON.parse(exported.stdout).deployment.resources as { urn: string; type: string }[]).find((r) => r.type === "kubernetes:batch/v1:Job" && r.urn.endsWith("::smith-rollout-prod-eu"))!.urn;
    const uid = (await kubectl("-n", "smith", "get", "job", "smith-rollout-prod-eu")).metadata.uid;
    const replaced = await stack.pulumi(["up", "--yes", "--skip-preview", "--replace", urn]);
    expect(replaced.stdout).to.match(/\+-1 replaced/);
    expect((await kubectl("-n", "smith", "get", "job", "smith-rollout-prod-eu")).metadata.uid).to.not.equal(uid);
  });
});
