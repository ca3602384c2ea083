import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as pulumiType from "@pulumi/pulumi";
import { installMocks, plainStrings, Recorder, valueOf } from "./components.mocks";
import { parsePlatformConfig } from "../../src/platform/config";
import { DRAIN_RULES } from "../../src/kube/rbac";

type Program = typeof import("../../stacks/platform/program");

const SIGNING_KEY = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nsecret-signing-material\n-----END PGP PRIVATE KEY BLOCK-----";
const WEBHOOK = "https://hooks.example/secret-token-123";
const BACKEND = "s3://state-bucket/smith?secret=backend-xyz";

describe("platform config (src/platform/config.ts)", () => {
  const parse = (values: Record<string, string>, secret: string[] = ["signingKey", "escalationWebhook", "backendUrl"]) =>
    parsePlatformConfig({ values: { signingKey: "<secret>", escalationWebhook: "<secret>", backendUrl: "<secret>", buildsFile: "builds.yaml", ...values }, secret: new Set(secret) }, "/p");

  it("applies the documented defaults", () => {
    const c = parse({ image: "smith:1" });
    expect(c).to.include({ namespace: "smith", builderSchedule: "30 3 * * 0", complianceSchedule: "0 6 * * *", mirrorReplicas: 2, skipAwait: false, drainNodes: true });
    expect(c.pipelines).to.deep.equal([]);
    expect([...c.secrets].sort()).to.deep.equal(["backendUrl", "escalationWebhook", "signingKey"]);
  });

  it("reports every problem in one line, never echoing a secret", () => {
    expect(() =>
      parse({ image: "Bad Image", pipelines: '[{"name":"prod","build":"4","shards":[]}]', signingKey: "plain-key-text" }, ["escalationWebhook", "backendUrl"]),
    ).to.throw(
      /^config: smith:signingKey: must be stored as a secret: pulumi config set --secret smith:signingKey … \(and 2 more: config: smith:image: must be an image reference .*\(got "Bad Image"\); config: smith:pipelines\[0\]\.shards: Too small/,
    );
    expect(() => parse({ image: "smith:1", signingKey: "plain-key-text" }, [])).to.throw(/^(?!.*plain-key-text)/);
  });

  it("refuses bad JSON, unknown keys, and duplicate pipelines", () => {
    expect(() => parse({ image: "smith:1", egressCidrs: "[oops" })).to.throw('config: smith:egressCidrs: must be JSON (got "[oops")');
    expect(() => parse({ image: "smith:1", replicas: "3" })).to.throw(/^config: smith:replicas: unknown key/);
    expect(() =>
      parse({ image: "smith:1", pipelines: '[{"name":"a","build":"1","shards":[{"name":"s1","pipeline":"w/a.yaml"}]},{"name":"a","build":"1","shards":[{"name":"s2","pipeline":"w/b.yaml"}]}]', sshPrivateKey: "<secret>" }, [
        "signingKey",
        "escalationWebhook",
        "backendUrl",
        "sshPrivateKey",
      ]),
    ).to.throw('config: smith:pipelines: pipeline names must be unique (got "a" twice)');
  });
});

describe("platform stack (stacks/platform, Pulumi mocks)", function () {
  let rec: Recorder;
  let program: Program;
  let pulumi: typeof pulumiType;
  let dir: string;

  before(async () => {
    rec = installMocks({ project: "smith-platform", stack: "prod" });
    pulumi = await import("@pulumi/pulumi");
    program = await import("../../stacks/platform/program");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-platform-"));
    fs.writeFileSync(path.join(dir, "builds.yaml"), "builds: []\n");
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => rec.reset());

  function configure(extra: Record<string, string> = {}) {
    const secrets = { "smith:signingKey": SIGNING_KEY, "smith:escalationWebhook": WEBHOOK, "smith:backendUrl": BACKEND, "smith:sshPrivateKey": "ssh-key-material" };
    pulumi.runtime.setAllConfig(
      {
        "smith:image": "registry.example/smith:0.1.0",
        "smith:renderDir": "rendered",
        "smith:buildsFile": "builds.yaml",
        "smith:pipelines": JSON.stringify([
          { name: "prod", build: "42", shards: [{ name: "eu", pipeline: "waves/pipeline-eu.yaml" }, { name: "us", pipeline: "waves/pipeline-us.yaml" }] },
          { name: "dev", build: "43", shards: [{ name: "all", pipeline: "waves/pipeline.yaml" }], schedule: "0 8 * * 1" },
        ]),
        ...secrets,
        ...extra,
      },
      Object.keys(secrets),
    );
    const all = pulumi.runtime.allConfig();
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(all).filter(([, v]) => v !== "")), Object.keys(secrets));
  }

  async function run() {
    const outputs = await program.main(dir);
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(outputs)) resolved[k] = pulumi.Output.isInstance(v) ? await valueOf(v) : v;
    await rec.settle();
    return resolved;
  }

  const k8sObjects = () => rec.resources.filter((r) => r.type.startsWith("kubernetes:"));
  const named = (type: string) => rec.ofType(type).map((r) => (r.inputs.metadata as { name: string }).name).sort();
  const spec = (name: string) => rec.byName(name).inputs.spec as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  it("renders to a directory with no cluster: every object, in smith:platform components", async () => {
    configure();
    const out = await run();
    const provider = rec.ofType("pulumi:providers:kubernetes")[0];
    expect(provider.inputs.renderYamlToDirectory).to.equal(path.join(dir, "rendered"));
    expect(provider.inputs.kubeconfig).to.equal(undefined);
    expect(rec.resources.filter((r) => r.type.startsWith("smith:platform:")).map((r) => r.type)).to.have.members([
      "smith:platform:Platform",
      "smith:platform:Base",
      "smith:platform:Credentials",
      "smith:platform:Mirror",
      "smith:platform:Builder",
      "smith:platform:Rollout",
      "smith:platform:Rollout",
      "smith:platform:Compliance",
    ]);
    expect(named("kubernetes:core/v1:Namespace")).to.deep.equal(["smith"]);
    expect(named("kubernetes:core/v1:ServiceAccount")).to.deep.equal(["smith-builder", "smith-compliance", "smith-mirror", "smith-rollout"]);
    expect(named("kubernetes:core/v1:Secret")).to.deep.equal(["smith-backend", "smith-escalation", "smith-generated", "smith-signing-key", "smith-ssh"]);
    expect(named("kubernetes:networking.k8s.io/v1:NetworkPolicy")).to.deep.equal(["smith-default-deny", "smith-dns", "smith-jobs-egress", "smith-mirror-ingress"]);
    expect(named("kubernetes:batch/v1:Job")).to.deep.equal(["smith-rollout-prod-eu", "smith-rollout-prod-us"]);
    expect(named("kubernetes:batch/v1:CronJob")).to.deep.equal([
      "smith-builder",
      "smith-compliance-due-soon",
      "smith-compliance-overdue",
      "smith-console-dev-all",
      "smith-console-prod-eu",
      "smith-console-prod-us",
      "smith-rollout-dev-all",
    ]);
    expect(named("kubernetes:apps/v1:Deployment")).to.deep.equal(["smith-mirror"]);
    expect(named("kubernetes:core/v1:Service")).to.deep.equal(["smith-mirror"]);
    expect(named("kubernetes:core/v1:PersistentVolumeClaim")).to.deep.equal(["smith-aptly", "smith-published", "smith-rollout-dev-all", "smith-rollout-prod-eu", "smith-rollout-prod-us"]);
    // Every Kubernetes object goes through the one provider.
    for (const r of k8sObjects()) expect(r.raw.metadata, r.name).to.not.equal(undefined);
    expect(out).to.deep.include({ namespace: "smith", mirrorService: "smith-mirror", rolloutJobs: ["smith-rollout-prod-eu", "smith-rollout-prod-us", "smith-rollout-dev-all"] });
  });

  it("the builder runs build, then sync and verify of that build, early Sunday UTC, with aptly's volume and the signing key", async () => {
    configure();
    await run();
    const cj = spec("smith-builder-cronjob");
    expect(cj.schedule).to.equal("30 3 * * 0");
    expect(cj.timeZone).to.equal("Etc/UTC");
    expect(cj.concurrencyPolicy).to.equal("Forbid");
    const pod = cj.jobTemplate.spec.template.spec;
    const [sh, flag, script] = pod.containers[0].command;
    expect([sh, flag]).to.deep.equal(["sh", "-ec"]);
    expect(script.split("\n").map((l: string) => l.split(" ").slice(0, 2).join(" "))).to.deep.equal(["smith build", "n=$(sed -n", "test -n", "smith sync", "smith verify"]);
    expect(script).to.include('smith sync --config /etc/smith/builds.yaml --build "$n"');
    expect(pod.volumes.map((v: { name: string }) => v.name)).to.deep.equal(["tmp", "aptly", "published", "signing-key", "builds"]);
    expect(pod.volumes[3].secret).to.deep.equal({ secretName: "smith-signing-key", defaultMode: 0o400 });
    expect(pod.automountServiceAccountToken).to.equal(false);
  });

  it("every pod is non-root with a read-only root filesystem and requests/limits", async () => {
    configure();
    await run();
    const pods: any[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (const r of k8sObjects()) {
      const s = r.inputs.spec as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      if (r.type.endsWith(":CronJob")) pods.push(s.jobTemplate.spec.template.spec);
      else if (r.type.endsWith(":Job") || r.type.endsWith(":Deployment")) pods.push(s.template.spec);
    }
    expect(pods).to.have.length(10); // builder, mirror, 2 rollout Jobs + 1 CronJob, 3 consoles, 2 compliance
    for (const p of pods) {
      expect(p.securityContext).to.include({ runAsNonRoot: true, runAsUser: 10001 });
      for (const c of [...(p.initContainers ?? []), ...p.containers]) {
        expect(c.securityContext).to.deep.equal({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
        expect(c.resources.requests).to.have.keys("cpu", "memory");
        expect(c.resources.limits).to.have.keys("cpu", "memory");
      }
    }
  });

  it("rollout jobs: one per shard, backend and secrets from Secrets, drain rights only for the rollout account", async () => {
    configure();
    await run();
    const job = spec("smith-rollout-prod-eu").template.spec;
    expect(job.containers[0].args).to.deep.equal([
      "rollout",
      "--build",
      "42",
      "--pipeline",
      "waves/pipeline-eu.yaml",
      "--state-dir",
      "/var/lib/smith/pipeline",
      "--project-dir",
      "/var/lib/smith/pipeline/.project",
    ]);
    expect(spec("smith-rollout-dev-all").jobTemplate.spec.template.spec.containers[0].args).to.deep.equal([
      "rollout",
      "--build",
      "43",
      "--pipeline",
      "waves/pipeline.yaml",
      "--state-dir",
      "/var/lib/smith/pipeline",
      "--project-dir",
      "/var/lib/smith/pipeline/.project",
      "--no-wait",
    ]);
    // The journal outlives the pod: each shard's own claim, mounted where --state-dir points.
    expect(job.volumes.find((v: { name: string }) => v.name === "state")).to.deep.equal({ name: "state", persistentVolumeClaim: { claimName: "smith-rollout-prod-eu" } });
    expect(job.containers[0].volumeMounts).to.deep.include({ name: "state", mountPath: "/var/lib/smith/pipeline" });
    expect(spec("smith-rollout-prod-eu-state")).to.deep.equal({ accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } });
    const cronPod = spec("smith-rollout-dev-all").jobTemplate.spec.template.spec;
    expect(cronPod.volumes.find((v: { name: string }) => v.name === "state").persistentVolumeClaim).to.deep.equal({ claimName: "smith-rollout-dev-all" });
    const env = Object.fromEntries(job.containers[0].env.map((e: { name: string }) => [e.name, e]));
    expect(env.PULUMI_BACKEND_URL.valueFrom).to.deep.equal({ secretKeyRef: { name: "smith-backend", key: "PULUMI_BACKEND_URL" } });
    expect(env.SMITH_ESCALATION_WEBHOOK.valueFrom).to.deep.equal({ secretKeyRef: { name: "smith-escalation", key: "SMITH_ESCALATION_WEBHOOK" } });
    expect(job.serviceAccountName).to.equal("smith-rollout");
    expect(job.automountServiceAccountToken).to.equal(true);
    expect(spec("smith-rollout-dev-all").schedule).to.equal("0 8 * * 1");
    const role = rec.ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")[0];
    expect(role.inputs.rules).to.deep.equal(DRAIN_RULES);
    const binding = rec.ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")[0];
    expect(binding.inputs.subjects).to.deep.equal([{ kind: "ServiceAccount", name: "smith-rollout", namespace: "smith" }]);
    const sas = Object.fromEntries(rec.ofType("kubernetes:core/v1:ServiceAccount").map((r) => [(r.inputs.metadata as { name: string }).name, r.inputs.automountServiceAccountToken]));
    expect(sas).to.deep.equal({ "smith-builder": false, "smith-mirror": false, "smith-rollout": true, "smith-compliance": false });
  });

  it("rollout jobs: a writable project dir on the shard's volume, seeded by an init step; a console per shard for approvals", async () => {
    configure();
    await run();
    for (const [job, pod] of [
      ["smith-rollout-prod-eu", spec("smith-rollout-prod-eu").template.spec],
      ["smith-rollout-dev-all", spec("smith-rollout-dev-all").jobTemplate.spec.template.spec],
    ]) {
      // The init step runs the same image with the same volume and environment, before smith rollout.
      expect(pod.initContainers, job).to.have.length(1);
      const [init] = pod.initContainers;
      expect(init.name).to.equal("seed-project");
      expect(init.command).to.equal(undefined); // the image's entrypoint: smith
      expect(init.args).to.deep.equal(["project", "seed", "--from", "/opt/smith", "--to", "/var/lib/smith/pipeline/.project"]);
      expect(init.volumeMounts).to.deep.equal(pod.containers[0].volumeMounts);
      expect(init.env).to.deep.equal(pod.containers[0].env);
      expect(init.volumeMounts).to.deep.include({ name: "state", mountPath: "/var/lib/smith/pipeline" });
      // smith approve/rollout in this pod (kubectl exec) find the project dir without a flag.
      expect(pod.containers[0].env).to.deep.include({ name: "SMITH_PROJECT_DIR", value: "/var/lib/smith/pipeline/.project" });
      expect(pod.containers[0].securityContext.readOnlyRootFilesystem).to.equal(true);
    }
    // The console: a suspended CronJob with the shard's pod (same claim, init step, env), sleeping.
    const eu = spec("smith-rollout-prod-eu").template.spec;
    const consoleCj = spec("smith-rollout-prod-eu-console");
    expect(consoleCj.suspend).to.equal(true);
    expect(consoleCj.concurrencyPolicy).to.equal("Forbid");
    const consolePod = consoleCj.jobTemplate.spec.template.spec;
    expect(consolePod.containers[0].command).to.deep.equal(["sleep", "3600"]);
    expect(consolePod.containers[0].args).to.deep.equal([]);
    expect(consolePod.initContainers).to.deep.equal(eu.initContainers);
    expect(consolePod.volumes).to.deep.equal(eu.volumes);
    expect(consolePod.containers[0].env).to.deep.equal(eu.containers[0].env);
    expect(consolePod.serviceAccountName).to.equal("smith-rollout");
    expect(consoleCj.jobTemplate.spec.template.metadata.labels).to.deep.include({ "smith.fleet/shard": "eu", "smith.fleet/console": "true", "smith.fleet/egress": "true" });
  });

  it("compliance: two daily CronJobs over every shard's pipeline file that alert (overdue; due soon)", async () => {
    configure();
    await run();
    expect(spec("smith-compliance-overdue").schedule).to.equal("0 6 * * *");
    const pipelines = ["--pipeline", "waves/pipeline-eu.yaml", "--pipeline", "waves/pipeline-us.yaml", "--pipeline", "waves/pipeline.yaml"];
    const overdue = spec("smith-compliance-overdue").jobTemplate.spec.template.spec.containers[0];
    expect(overdue.args).to.deep.equal(["compliance", ...pipelines, "--fail-on", "overdue", "--alert"]);
    expect(spec("smith-compliance-due-soon").jobTemplate.spec.template.spec.containers[0].args).to.deep.equal(["compliance", ...pipelines, "--fail-on", "due-soon", "--alert"]);
    expect(overdue.env.find((e: { name: string }) => e.name === "SMITH_ESCALATION_WEBHOOK").valueFrom).to.deep.equal({
      secretKeyRef: { name: "smith-escalation", key: "SMITH_ESCALATION_WEBHOOK" },
    });
  });

  it("compliance: no pipelines, no stacks to check, no compliance jobs", async () => {
    configure({ "smith:pipelines": "[]", "smith:sshPrivateKey": "" });
    await run();
    expect(named("kubernetes:batch/v1:CronJob")).to.deep.equal(["smith-builder"]);
  });

  it("secrets stay secret; generated credentials are keyed on smith:credentialsRotation", async () => {
    configure({ "smith:credentialsRotation": "2026-12" });
    await run();
    for (const r of rec.resources) {
      const plain = plainStrings(r.raw).join("\n");
      for (const s of [SIGNING_KEY, WEBHOOK, BACKEND, "ssh-key-material"]) expect(plain, r.name).to.not.include(s);
    }
    const generated = rec.ofType("pulumi-nodejs:dynamic:Resource");
    expect(generated.map((r) => r.name).sort()).to.deep.equal([
      "smith-credentials-mirror-upload-password",
      "smith-credentials-object-store-access-key",
      "smith-credentials-object-store-secret-key",
      "smith-credentials-webhook-signing-key",
    ]);
    for (const g of generated) expect(g.inputs.keepers).to.deep.equal({ rotation: "2026-12" });
    // The generated Secret is made of the four values (its inputs depend on them).
    expect(rec.byName("smith-credentials-generated").dependencies.map((u) => rec.nameOfUrn(u))).to.include.members(generated.map((r) => r.name));
  });

  it("skipAwait marks objects for an API server without controllers; a kubeconfig path goes to the provider", async () => {
    configure({ "smith:renderDir": "", "smith:kubeconfig": "kc.yaml", "smith:skipAwait": "true" });
    await run();
    expect(rec.ofType("pulumi:providers:kubernetes")[0].inputs.kubeconfig).to.equal(path.join(dir, "kc.yaml"));
    expect((rec.byName("smith-mirror-deployment").inputs.metadata as { annotations: object }).annotations).to.deep.equal({
      "pulumi.com/skipAwait": "true",
      "pulumi.com/deletionPropagationPolicy": "background",
    });
  });
});
