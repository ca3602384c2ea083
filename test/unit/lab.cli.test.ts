import { expect } from "chai";
import * as sinon from "sinon";
import { main } from "../../cli/main";
import { missingTools, missingToolsMessage } from "../../src/lab/host";
import { parseFaultKind } from "../../src/lab/lab";

describe("smith lab (CLI guards)", () => {
  let stderr: string;
  beforeEach(() => {
    stderr = "";
    sinon.stub(process.stderr, "write").callsFake((s: string | Uint8Array) => {
      stderr += String(s);
      return true;
    });
  });
  afterEach(() => {
    sinon.restore();
    process.exitCode = undefined;
  });

  for (const sub of [["up"], ["down"], ["fault", "dev-syd01-test-01", "unreachable"]]) {
    it(`lab ${sub[0]} without root: one line, non-zero exit, nothing started`, async () => {
      sinon.stub(process, "getuid").returns(1000);
      const code = await main(["node", "smith", "lab", ...sub]);
      expect(code).to.equal(2);
      expect(stderr).to.equal("smith: the lab needs root (overlay mounts, namespaces, chroot); run as root\n");
    });
  }

  it("names every missing tool and the script that installs them", () => {
    const missing = missingTools([]);
    expect(missing).to.include.members(["debootstrap", "aptly", "sshd", "gpg", "python3"]);
    expect(missingToolsMessage(["aptly", "debootstrap"])).to.equal("missing tools: aptly debootstrap; run scripts/install-deps.sh (as root)");
  });

  it("rejects unknown fault kinds and bad flags with one line", async () => {
    expect(() => parseFaultKind("meteor")).to.throw('fault kind: "meteor" is not one of unreachable, dpkg-lock, postinst-fail, health-fail, slow');
    const code = await main(["node", "smith", "lab", "up", "--machines", "many"]);
    expect(code).to.equal(2);
    expect(stderr).to.equal('smith: flag --machines: must be a non-negative integer (got "many")\n');
  });
});
