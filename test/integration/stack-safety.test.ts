/**
 * Issue 7 §1 on the real engine: `pulumi preview -s prod` of smith's program refuses, in one
 * line and before it reads a key or dials a machine, the public lab passphrase and the
 * checkout-local backend. The stacks live in a throwaway backend; Pulumi.prod.yaml (where
 * `stack init` writes its encryptionsalt) is put back as it was.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LAB_PASSPHRASE } from "../../src/pulumi/env";
import { pulumiUnavailableReason, REPO_ROOT, runPulumi } from "../support/pulumi";

describe("stack safety on the real engine (issue 7 §1)", function () {
  this.timeout(5 * 60_000);
  const stackFile = path.join(REPO_ROOT, "Pulumi.prod.yaml");
  let saved: string;
  let scratch: string;

  before(function () {
    const why = pulumiUnavailableReason();
    if (why) {
      console.log(`      skipping: ${why}`);
      this.skip();
    }
    saved = fs.readFileSync(stackFile, "utf8");
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "smith-safety-"));
  });
  after(() => {
    if (saved !== undefined) fs.writeFileSync(stackFile, saved);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  async function preview(env: NodeJS.ProcessEnv): Promise<string> {
    fs.writeFileSync(stackFile, saved);
    const init = await runPulumi(["stack", "init", "prod", "--no-select", "--non-interactive"], { cwd: REPO_ROOT, env });
    expect(init.code, init.stderr).to.equal(0);
    const r = await runPulumi(["preview", "-s", "prod", "--non-interactive"], { cwd: REPO_ROOT, env });
    expect(r.code).to.not.equal(0);
    await runPulumi(["stack", "rm", "prod", "--force", "--yes", "--non-interactive"], { cwd: REPO_ROOT, env });
    const errors = (r.stdout + r.stderr).split("\n").filter((l) => l.trim().startsWith("error:"));
    expect(errors, r.stdout).to.have.length(1);
    return errors[0]!.trim();
  }

  it("pulumi preview -s prod with the lab passphrase refuses with a message about the secrets passphrase", async () => {
    const backend = path.join(scratch, "a");
    fs.mkdirSync(backend);
    const line = await preview({ PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE });
    expect(line).to.match(/^error: stack prod: secrets: the secrets passphrase is the public lab passphrase \(PULUMI_CONFIG_PASSPHRASE\)/);
  });

  it("pulumi preview -s prod on the checkout-local backend refuses unless smith:allowLocalBackend", async () => {
    const local = path.join(REPO_ROOT, ".smith", "state-safety-test");
    fs.mkdirSync(local, { recursive: true });
    try {
      const line = await preview({ PULUMI_BACKEND_URL: `file://${local}`, PULUMI_CONFIG_PASSPHRASE: "a real passphrase" });
      expect(line).to.match(/^error: stack prod: backend: the state backend file:\/\/.* is inside this checkout/);
    } finally {
      fs.rmSync(local, { recursive: true, force: true });
    }
  });
});
