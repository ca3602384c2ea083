import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { parseStackConfig } from "../../src/config/stack-config";
import { loadInventory } from "../../src/inventory/load";
import { loadWaves } from "../../src/waves/load";
import { planRollout } from "../../src/plan/planner";

const ROOT = path.resolve(__dirname, "../..");

/** Config values the way Pulumi hands them to the program: strings, structured values as JSON. */
function stackValues(file: string): Record<string, string> {
  const doc = parse(fs.readFileSync(path.join(ROOT, file), "utf8")) as { config: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc.config)) {
    expect(k.startsWith("smith:"), k).to.equal(true);
    out[k.slice("smith:".length)] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return out;
}

describe("committed stack files", () => {
  for (const [file, stack] of [
    ["Pulumi.dev.yaml", "dev"],
    ["Pulumi.prod.yaml", "prod"],
  ]) {
    it(`${file} validates, holds no key material and plans its inventory`, async () => {
      const text = fs.readFileSync(path.join(ROOT, file), "utf8");
      expect(text).to.not.match(/PRIVATE KEY|secure:/);
      // A real secrets provider, shown where the stack is set up (issue 7 §1).
      expect(text).to.match(/^#.*PULUMI_CONFIG_PASSPHRASE_FILE=/m);
      expect(text).to.match(/^#.*--secrets-provider "awskms:\/\//m);
      expect(text).to.not.contain("smith-lab-local-only");
      const values = stackValues(file);
      expect(values).to.not.have.property("sshPrivateKey");
      const config = parseStackConfig({ values, secret: new Set() }, ROOT);
      // The key file lives outside the repository.
      expect(path.relative(ROOT, config.sshPrivateKeyPath!).startsWith("..")).to.equal(true);
      const machines = await loadInventory(config.inventory);
      const plan = planRollout(machines, loadWaves(config.waves), config.build);
      expect(plan.waves.length).to.be.greaterThan(0);
      if (stack === "prod") {
        expect(plan.waves[0].gate?.soak).to.deep.equal({ hours: 24, stack: "dev" });
        expect(plan.waves.some((w) => w.gate?.approval)).to.equal(true);
      } else {
        expect(plan.waves.every((w) => !w.gate)).to.equal(true);
      }
    });
  }
});
