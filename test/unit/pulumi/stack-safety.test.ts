import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { formatProblem } from "../../../src/errors";
import { LAB_PASSPHRASE } from "../../../src/pulumi/env";
import { backendUrl, isCheckoutLocal, stackSafetyProblems, StackSafetyInput } from "../../../src/pulumi/stack-safety";

describe("src/pulumi/stack-safety (issue 7 §1)", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "smith-safety-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const safe = (): StackSafetyInput => ({
    stack: "prod",
    projectDir: dir,
    env: { PULUMI_BACKEND_URL: "s3://fleet-state/smith", PULUMI_CONFIG_PASSPHRASE_FILE: "/run/secrets/smith" },
    allowLocalBackend: false,
    requireHostKeys: true,
    readFile: () => "a real passphrase\n",
  });
  const lines = (i: StackSafetyInput) => stackSafetyProblems(i).map(formatProblem);

  it("accepts a real stack with its own backend and secrets", () => {
    expect(lines(safe())).to.deep.equal([]);
  });

  it("refuses the lab passphrase on a non-lab stack, from the variable or from a file", () => {
    const viaVar = lines({ ...safe(), env: { PULUMI_BACKEND_URL: "s3://b", PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE } });
    expect(viaVar).to.have.length(1);
    expect(viaVar[0]).to.match(/^stack prod: secrets: the secrets passphrase is the public lab passphrase \(PULUMI_CONFIG_PASSPHRASE\); only lab stacks/);
    const viaFile = lines({ ...safe(), readFile: (f) => (f === "/run/secrets/smith" ? `${LAB_PASSPHRASE}\n` : undefined) });
    expect(viaFile[0]).to.include("PULUMI_CONFIG_PASSPHRASE_FILE /run/secrets/smith");
  });

  it("lets a stack with a KMS secrets provider be, whatever passphrase is lying around", () => {
    fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), "secretsprovider: awskms://alias/smith?region=eu-west-1\nencryptedkey: abc\n");
    const i = { ...safe(), env: { PULUMI_BACKEND_URL: "s3://b", PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE }, readFile: undefined };
    expect(lines(i)).to.deep.equal([]);
  });

  it("refuses the checkout-local backend unless smith:allowLocalBackend", () => {
    const local = { ...safe(), env: { ...safe().env, PULUMI_BACKEND_URL: `file://${dir}/.smith/state` } };
    expect(lines(local)).to.have.length(1);
    expect(lines(local)[0]).to.match(/^stack prod: backend: the state backend file:\/\/.*\/\.smith\/state is inside this checkout: .*smith:allowLocalBackend: "true"$/);
    expect(lines({ ...local, allowLocalBackend: true })).to.deep.equal([]);
    // A file backend elsewhere (a shared mount) is a real backend.
    expect(lines({ ...safe(), env: { ...safe().env, PULUMI_BACKEND_URL: "file:///shared/smith-state" } })).to.deep.equal([]);
  });

  it("finds the backend `pulumi login` recorded when PULUMI_BACKEND_URL is unset", () => {
    const home = path.join(dir, "home");
    fs.mkdirSync(home);
    fs.writeFileSync(path.join(home, "credentials.json"), JSON.stringify({ current: `file://${dir}/.smith/state` }));
    expect(backendUrl({ PULUMI_HOME: home })).to.equal(`file://${dir}/.smith/state`);
    const i = { ...safe(), env: { PULUMI_HOME: home, PULUMI_CONFIG_PASSPHRASE: "x" }, readFile: undefined };
    expect(lines(i)[0]).to.include("is inside this checkout");
  });

  it("refuses smith:requireHostKeys false outside lab stacks", () => {
    expect(lines({ ...safe(), requireHostKeys: false })).to.deep.equal([
      "stack prod: smith:requireHostKeys: false is allowed only on lab stacks (lab, lab-*): real machines are always verified by host key",
    ]);
  });

  it("allows all the lab conveniences on lab stacks", () => {
    const lab = { ...safe(), env: { PULUMI_BACKEND_URL: `file://${dir}/.smith/state`, PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE }, requireHostKeys: false };
    expect(lines({ ...lab, stack: "lab" })).to.deep.equal([]);
    expect(lines({ ...lab, stack: "lab-e2e" })).to.deep.equal([]);
    expect(lines({ ...lab, stack: "labx" })).to.have.length(3);
  });

  it("isCheckoutLocal: the project dir and below, after resolving symlinks", () => {
    expect(isCheckoutLocal(`file://${dir}`, dir)).to.equal(true);
    expect(isCheckoutLocal(`file://${dir}/.smith/state?no_checksum=true`, dir)).to.equal(true);
    expect(isCheckoutLocal(`file://${path.dirname(dir)}`, dir)).to.equal(false);
    expect(isCheckoutLocal("s3://bucket", dir)).to.equal(false);
    fs.symlinkSync(dir, path.join(os.tmpdir(), path.basename(dir) + "-link"));
    try {
      expect(isCheckoutLocal(`file://${dir}-link/state`, dir)).to.equal(true);
    } finally {
      fs.rmSync(path.join(os.tmpdir(), path.basename(dir) + "-link"));
    }
  });
});
