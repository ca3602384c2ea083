import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEFAULT_PARALLEL, findPlugin, findPulumi, isLabStack, LAB_PASSPHRASE, pulumiEnv, toolchainStatus } from "../../../src/pulumi/env";

describe("src/pulumi/env", () => {
  const root = "/repo";

  describe("pulumiEnv", () => {
    it("puts the project toolchain first on PATH, once, and keeps the rest", () => {
      const env = pulumiEnv(root, { PATH: "/usr/bin:/repo/.smith/tools/bin:/bin" });
      expect(env.PATH).to.equal("/repo/.smith/tools/bin:/usr/bin:/bin");
    });

    it("knows lab stacks by name: lab and lab-* only (contract 3)", () => {
      expect(["lab", "lab-e2e", "lab-prod"].filter(isLabStack)).to.deep.equal(["lab", "lab-e2e", "lab-prod"]);
      expect(["prod", "dev", "labs", "mylab", "lab_x", "Lab", "", undefined].filter(isLabStack)).to.deep.equal([]);
    });

    it("gives a non-lab stack (or no stack) neither the lab passphrase nor the checkout-local backend", () => {
      for (const stack of ["prod", "dev", undefined]) {
        const env = pulumiEnv(root, { PATH: "/bin" }, stack);
        expect(env, String(stack)).not.to.have.property("PULUMI_CONFIG_PASSPHRASE");
        expect(env, String(stack)).not.to.have.property("PULUMI_BACKEND_URL");
        expect(env.PULUMI_HOME).to.equal("/repo/.smith/pulumi-home");
      }
      // A lab passphrase the caller exported stays the caller's: the program refuses it for prod.
      expect(pulumiEnv(root, { PULUMI_CONFIG_PASSPHRASE: "x" }, "prod").PULUMI_CONFIG_PASSPHRASE).to.equal("x");
    });

    it("takes the stack from SMITH_STACK when none is passed", () => {
      expect(pulumiEnv(root, { SMITH_STACK: "lab" }).PULUMI_CONFIG_PASSPHRASE).to.equal(LAB_PASSPHRASE);
      expect(pulumiEnv(root, { SMITH_STACK: "prod" })).not.to.have.property("PULUMI_CONFIG_PASSPHRASE");
    });

    it("defaults a lab stack to the project's file backend, offline plugins and transpile-only", () => {
      const env = pulumiEnv(root, { PATH: "/bin" }, "lab");
      expect(env).to.include({
        PULUMI_HOME: "/repo/.smith/pulumi-home",
        PULUMI_BACKEND_URL: "file:///repo/.smith/state",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE,
      });
    });

    it("keeps a backend the caller chose", () => {
      const env = pulumiEnv(root, { PULUMI_BACKEND_URL: "s3://fleet-state/smith" }, "lab");
      expect(env.PULUMI_BACKEND_URL).to.equal("s3://fleet-state/smith");
    });

    it("sets the lab passphrase only when neither a passphrase nor a passphrase file is given", () => {
      expect(pulumiEnv(root, { PULUMI_CONFIG_PASSPHRASE: "real" }, "lab").PULUMI_CONFIG_PASSPHRASE).to.equal("real");
      // An empty passphrase is a choice, not an absence.
      expect(pulumiEnv(root, { PULUMI_CONFIG_PASSPHRASE: "" }, "lab").PULUMI_CONFIG_PASSPHRASE).to.equal("");
      const withFile = pulumiEnv(root, { PULUMI_CONFIG_PASSPHRASE_FILE: "/run/secrets/p" }, "lab");
      expect(withFile).not.to.have.property("PULUMI_CONFIG_PASSPHRASE");
      expect(withFile.PULUMI_CONFIG_PASSPHRASE_FILE).to.equal("/run/secrets/p");
    });

    it("scripts/pulumi-env.sh is the same: lab defaults for lab stacks only", () => {
      const root = path.resolve(__dirname, "../../..");
      const show = (stack: string) =>
        execFileSync("sh", ["-c", `SMITH_STACK=${stack} . scripts/pulumi-env.sh 2>/dev/null; echo "\${PULUMI_CONFIG_PASSPHRASE-unset}|\${PULUMI_BACKEND_URL-unset}"`], {
          cwd: root,
          env: { PATH: process.env.PATH },
          encoding: "utf8",
        }).trim();
      expect(show("lab-e2e")).to.equal(`${LAB_PASSPHRASE}|file://${root}/.smith/state`);
      expect(show("prod")).to.equal("unset|unset");
      expect(show("")).to.equal("unset|unset");
    });

    it("lets every cluster of a wave run at once: PULUMI_PARALLEL (not Pulumi's 4 x cores), unless the caller set it; the shell script too", () => {
      expect(pulumiEnv(root, { PATH: "/bin" }, "prod").PULUMI_PARALLEL).to.equal(DEFAULT_PARALLEL);
      expect(Number(DEFAULT_PARALLEL)).to.be.at.least(200);
      expect(pulumiEnv(root, { PATH: "/bin", PULUMI_PARALLEL: "16" }, "lab").PULUMI_PARALLEL).to.equal("16");
      const repo = path.resolve(__dirname, "../../..");
      const show = (pre: string) =>
        execFileSync("sh", ["-c", `${pre} SMITH_STACK=lab . scripts/pulumi-env.sh; echo "$PULUMI_PARALLEL"`], { cwd: repo, env: { PATH: process.env.PATH }, encoding: "utf8" }).trim();
      expect(show("")).to.equal(DEFAULT_PARALLEL);
      expect(show("PULUMI_PARALLEL=16")).to.equal("16");
    });

    it("does not modify the environment it is given", () => {
      const base = { PATH: "/bin" };
      pulumiEnv(root, base);
      expect(base).to.deep.equal({ PATH: "/bin" });
    });
  });

  describe("findPulumi, findPlugin, toolchainStatus", () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-env-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    function touch(rel: string, mode: number): string {
      const file = path.join(dir, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, "#!/bin/sh\n", { mode });
      return file;
    }

    it("return null before the toolchain is installed", () => {
      expect(findPulumi(dir)).to.equal(null);
      expect(findPlugin(dir, "language", "nodejs")).to.equal(null);
      expect(findPlugin(dir, "resource", "command", "1.2.1")).to.equal(null);
      expect(toolchainStatus(dir)).to.equal(null);
    });

    it("find the executables install-pulumi.sh puts in place", () => {
      const cli = touch(".smith/tools/bin/pulumi", 0o755);
      const host = touch(".smith/tools/bin/pulumi-language-nodejs", 0o755);
      const provider = touch(".smith/pulumi-home/plugins/resource-command-v1.2.1/pulumi-resource-command", 0o755);
      fs.writeFileSync(path.join(dir, ".smith/tools/STATUS"), "installed pulumi v3.248.0\n");
      expect(findPulumi(dir)).to.equal(cli);
      expect(findPlugin(dir, "language", "nodejs")).to.equal(host);
      expect(findPlugin(dir, "resource", "command", "v1.2.1")).to.equal(provider);
      expect(findPlugin(dir, "resource", "command", "1.2.0")).to.equal(null);
      expect(toolchainStatus(dir)).to.equal("installed pulumi v3.248.0");
    });

    it("ignore a file that is not executable", () => {
      touch(".smith/tools/bin/pulumi", 0o644);
      expect(findPulumi(dir)).to.equal(null);
    });
  });
});
