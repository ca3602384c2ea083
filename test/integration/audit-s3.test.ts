/**
 * Audit over a DIY S3 backend: the real engine writes stack `lab-audit-s3` into a real S3 server
 * (moto's, on loopback) with smith's program over a small simulated fleet (`smith sim`, the lab's
 * 5-machine layout), two updates: build 2 everywhere, then build 3 with one machine removed from
 * the inventory. `smith audit` must read every update's checkpoint from the bucket (the removed
 * machine's patch lives only in the first one) and report exactly what the file backend reports
 * for the same files. Also the one-line errors of a bad URL, an unreachable endpoint and a
 * missing bucket.
 */
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { expect } from "chai";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkpointResources } from "../../src/audit/checkpoint";
import { nodeSteps } from "../../src/audit/events";
import { S3BackendHistory } from "../../src/audit/s3-backend";
import { sleep } from "../../src/lab/host";
import { s3Client } from "../../src/packages/targets/s3";
import { findPulumi, pulumiEnv } from "../../src/pulumi/env";
import { BucketFleet, itReadsEveryUpdate, log, TestBucket } from "../support/bucket-audit";
import { freePort, motoServer, s3Server, Server } from "../support/builds";
import { commandProviderUnavailableReason, createTempProject, pulumiUnavailableReason, REPO_ROOT, runPulumi } from "../support/pulumi";
import { childProcesses } from "../support/smith-cli";

const STACK = "lab-audit-s3";
const BUCKET = "smith-state";
const PREFIX = "fleet/audit";
/** moto accepts any key; the SDK and the CLI only need one to sign with. */
const AWS = { AWS_ACCESS_KEY_ID: "smith-test", AWS_SECRET_ACCESS_KEY: "smith-test", AWS_REGION: "us-east-1" };

describe("audit over a DIY S3 backend (moto, real engine, simulated fleet)", function () {
  this.timeout(15 * 60_000);
  const why = pulumiUnavailableReason() ?? commandProviderUnavailableReason() ?? (motoServer() ? null : "moto_server missing: run scripts/install-s3-server.sh");
  let dir: string;
  let s3: Server;
  let url: string;
  let fleet: BucketFleet;
  const pulumi = (args: string[]) => fleet.pulumi(args);

  before(async function () {
    if (why) {
      console.log(`      skipping the S3 audit integration test: ${why}`);
      this.skip();
    }
    dir = BucketFleet.scratch("audit-s3");
    s3 = await s3Server(BUCKET, path.join(dir, "moto.log"));
    // The URL as a Pulumi user writes it for an S3-compatible server (Pulumi 3.248 DIY syntax).
    url = `s3://${BUCKET}/${PREFIX}?endpoint=${s3.url}&s3ForcePathStyle=true&region=us-east-1`;
    fleet = new BucketFleet(STACK, { ...AWS, PULUMI_BACKEND_URL: url }, "sim-audit-s3");
    await fleet.setUp(dir);
  });

  after(async () => {
    if (why) return;
    await fleet?.tearDown();
    await s3?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** moto's bucket, read with the SDK directly (not smith's reader). */
  const bucket: TestBucket = {
    list: (prefix) => listBucket(prefix),
    read: async (key) => {
      const r = await s3Client({ region: "us-east-1", endpoint: s3.url, forcePathStyle: true }).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      return Buffer.from(await r.Body!.transformToByteArray());
    },
  };

  itReadsEveryUpdate("S3", "s3", () => ({ fleet, bucket, prefix: PREFIX, source: `s3://${BUCKET}/${PREFIX} (endpoint ${s3.url})` }));

  it("names the OS user from the stack's lock for the patches of an update that was killed", async () => {
    // build 4; killed (with its plugins: its own process group) as soon as the first wave's patch
    // is in the bucket's current checkpoint, while the second wave has not started.
    await pulumi(["config", "set", "-s", STACK, "smith:build", "4"]);
    const child = spawn(findPulumi(REPO_ROOT)!, ["up", "-s", STACK, "--yes", "--skip-preview", "--non-interactive"], {
      cwd: REPO_ROOT,
      env: { ...pulumiEnv(REPO_ROOT, process.env, STACK), ...fleet.env },
      stdio: "ignore",
      detached: true,
    });
    const exited = new Promise((r) => child.once("exit", r));
    const client = s3Client({ region: "us-east-1", endpoint: s3.url, forcePathStyle: true });
    let patched: string[] = [];
    try {
      while (patched.length === 0) {
        if (child.exitCode !== null) throw new Error(`pulumi up finished (exit ${child.exitCode}) before it could be killed`);
        await sleep(100);
        const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/.pulumi/stacks/smith/${STACK}.json` }));
        const steps = nodeSteps(checkpointResources(JSON.parse(await r.Body!.transformToString())) ?? []);
        patched = [...steps].filter(([, st]) => st.patch?.build === "4").map(([m]) => m);
      }
    } finally {
      // The CLI's plugins run in process groups of their own: kill the whole tree, by pid.
      const tree = descendants(child.pid!);
      process.kill(-child.pid!, "SIGKILL");
      for (const pid of tree) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone with the CLI
        }
      }
      await exited;
    }
    const json = await fleet.audit();
    expect(json.updates, "a killed update leaves no history entry").to.have.length(2);
    const four = json.events.filter((e) => e.build === "4");
    expect(four.map((e) => e.machine)).to.include.members(patched);
    for (const e of four) {
      expect(e.updateId).to.equal("current");
      expect(e.ranBy).to.match(new RegExp(`^${os.userInfo().username}@${os.hostname()} \\(lock of an unfinished update, pid ${child.pid}, since \\d{4}-.*Z\\)$`));
    }
    log(`killed after ${four.length} build-4 patch(es); ranBy: ${four[0]!.ranBy}`);
    await pulumi(["cancel", "-s", STACK, "--yes"]);
    const after = await fleet.audit();
    expect(after.events.filter((e) => e.build === "4").map((e) => e.ranBy)).to.deep.equal(four.map(() => "-"));
  });

  it("reads history the CLI compressed (PULUMI_DIY_BACKEND_GZIP, then _ZSTD) from the bucket", async () => {
    const project = createTempProject("smith-compressed", "export const at = new Date().toISOString();\n");
    try {
      const u = `s3://${BUCKET}/compressed?endpoint=${s3.url}&s3ForcePathStyle=true&region=us-east-1`;
      const run = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
        const r = await runPulumi(args, { cwd: project.dir, env: { ...project.env, ...AWS, PULUMI_BACKEND_URL: u, ...extra } });
        if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")}: ${r.stderr.slice(-2000)}`);
      };
      await run(["stack", "init", "dev", "--non-interactive"]);
      await run(["config", "set", "-s", "dev", "smith:build", "2"]);
      await run(["up", "-s", "dev", "--yes", "--skip-preview", "--non-interactive"], { PULUMI_DIY_BACKEND_GZIP: "true" });
      await run(["config", "set", "-s", "dev", "smith:build", "3"]);
      await run(["up", "-s", "dev", "--yes", "--skip-preview", "--non-interactive"], { PULUMI_DIY_BACKEND_ZSTD: "true" });
      const keys = (await listBucket("compressed/")).filter((k) => k.includes("/history/")).map((k) => k.replace(/.*-\d+\./, ""));
      expect(keys.sort()).to.deep.equal(["checkpoint.json.gz", "checkpoint.json.zst", "history.json.gz", "history.json.zst"]);
      const r = await new S3BackendHistory(u, "smith-compressed").read("dev");
      expect(r.updates.map((x) => [x.build, x.result, (x.resources ?? []).some((res) => res.type === "pulumi:pulumi:Stack")])).to.deep.equal([
        ["2", "succeeded", true],
        ["3", "succeeded", true],
      ]);
      expect(r.current.some((res) => res.type === "pulumi:pulumi:Stack")).to.equal(true);
    } finally {
      project.remove();
    }
  });

  it("a bad URL, an unreachable endpoint or a missing bucket: one line naming the backend, exit 2", async () => {
    const closed = await freePort();
    const cases: [string, RegExp][] = [
      [`s3://${BUCKET}?endpoint=${s3.url}&s3ForcePathStyle=maybe`, /^smith: backend s3:\/\/smith-state: invalid value for query parameter "s3ForcePathStyle": "maybe" \(true or false\)$/],
      [`s3://${BUCKET}?endpoint=${s3.url}&bogus=1`, /^smith: backend s3:\/\/smith-state: unknown query parameter "bogus" \(the pulumi CLI refuses it too\)$/],
      [`s3://${BUCKET}?endpoint=http://127.0.0.1:${closed}&s3ForcePathStyle=true&region=us-east-1`, new RegExp(`^smith: backend s3://smith-state \\(endpoint http://127.0.0.1:${closed}\\): listing .*: cannot reach http://127.0.0.1:${closed} \\(ECONNREFUSED.*\\)$`)],
      [`s3://no-such-bucket/x?endpoint=${s3.url}&s3ForcePathStyle=true&region=us-east-1`, /^smith: backend s3:\/\/no-such-bucket\/x \(endpoint .*\): listing x\/\.pulumi\/stacks\/smith\/: bucket no-such-bucket does not exist$/],
    ];
    fleet.expectOneLineErrors(cases);
  });

  /** Every key under `prefix` in the bucket, with the SDK directly (not smith's reader). */
  async function listBucket(prefix = `${PREFIX}/`): Promise<string[]> {
    const client = s3Client({ region: "us-east-1", endpoint: s3.url, forcePathStyle: true });
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(r.Contents ?? []).map((o) => o.Key!));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  /** Every process below `pid` (children first found, then theirs), from /proc. */
  function descendants(pid: number): number[] {
    const kids = childProcesses(pid, "");
    return [...kids, ...kids.flatMap(descendants)];
  }
});
