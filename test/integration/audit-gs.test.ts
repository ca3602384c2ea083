/**
 * Audit over a DIY Google Cloud Storage backend: the real engine writes stack `lab-audit-gs` into
 * fake-gcs-server (on loopback, through STORAGE_EMULATOR_HOST as gocloud's gcsblob allows) with
 * smith's program over the 5-machine `smith sim` fleet, two updates: build 2 everywhere, then
 * build 3 with one machine removed. `smith audit` must read every update's checkpoint from the
 * bucket and report exactly what the file backend reports for the same objects. Also the one-line
 * errors of a bad URL, an unreachable emulator and a missing bucket.
 */
import * as fs from "fs";
import * as path from "path";
import { BucketFleet, itReadsEveryUpdate, TestBucket } from "../support/bucket-audit";
import { fakeGcsServer, gcsServer, GcsServer } from "../support/gcs";
import { commandProviderUnavailableReason, pulumiUnavailableReason } from "../support/pulumi";

const STACK = "lab-audit-gs";
const BUCKET = "smith-state";
const PREFIX = "fleet/audit";

describe("audit over a DIY GCS backend (fake-gcs-server, real engine, simulated fleet)", function () {
  this.timeout(15 * 60_000);
  const why = pulumiUnavailableReason() ?? commandProviderUnavailableReason() ?? (fakeGcsServer() ? null : "fake-gcs-server missing: run scripts/install-gcs-server.sh");
  let dir: string;
  let gcs: GcsServer;
  let url: string;
  let fleet: BucketFleet;

  before(async function () {
    if (why) {
      console.log(`      skipping the GCS audit integration test: ${why}`);
      this.skip();
    }
    dir = BucketFleet.scratch("audit-gs");
    gcs = await gcsServer(BUCKET, path.join(dir, "fake-gcs.log"));
    url = `gs://${BUCKET}/${PREFIX}`;
    // The CLI insists on Google credentials before it opens a gs:// bucket (GoogleCredentialsMux);
    // against the emulator gocloud then sends none, so any token does.
    fleet = new BucketFleet(STACK, { STORAGE_EMULATOR_HOST: gcs.host, GOOGLE_OAUTH_ACCESS_TOKEN: "smith-test", PULUMI_BACKEND_URL: url }, "sim-audit-gs");
    await fleet.setUp(dir);
  });

  after(async () => {
    if (why) return;
    await fleet?.tearDown();
    await gcs?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The emulator's bucket through its JSON API directly (not smith's reader). */
  const bucket: TestBucket = {
    list: async (prefix) => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const r = (await (await fetch(`${gcs.api}/b/${BUCKET}/o?prefix=${encodeURIComponent(prefix)}${token ? `&pageToken=${token}` : ""}`)).json()) as { items?: { name: string }[]; nextPageToken?: string };
        keys.push(...(r.items ?? []).map((o) => o.name));
        token = r.nextPageToken;
      } while (token);
      return keys.sort();
    },
    read: async (key) => Buffer.from(await (await fetch(`${gcs.api}/b/${BUCKET}/o/${encodeURIComponent(key)}?alt=media`)).arrayBuffer()),
  };

  itReadsEveryUpdate("GCS", "gs", () => ({ fleet, bucket, prefix: PREFIX, source: `gs://${BUCKET}/${PREFIX} (emulator http://${gcs.host})` }));

  it("a bad URL, an unreachable emulator or a missing bucket: one line naming the backend, exit 2", () => {
    const cases: [string, RegExp, NodeJS.ProcessEnv?][] = [
      [`gs://${BUCKET}?bogus=1`, /^smith: backend gs:\/\/smith-state: invalid query parameter "bogus" \(the pulumi CLI refuses it too\)$/],
      [`gs://${BUCKET}?anonymous=maybe`, /^smith: backend gs:\/\/smith-state: invalid value "maybe" for query parameter "anonymous" \(true or false\)$/],
      [`gs://${BUCKET}/x`, /^smith: backend gs:\/\/smith-state\/x \(emulator http:\/\/127\.0\.0\.1:1\): listing x\/\.pulumi\/stacks\/smith\/: cannot reach http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)$/, { STORAGE_EMULATOR_HOST: "127.0.0.1:1" }],
      [`gs://no-such-bucket/x`, /^smith: backend gs:\/\/no-such-bucket\/x \(emulator .*\): listing x\/\.pulumi\/stacks\/smith\/: bucket no-such-bucket does not exist \(.*\)$/],
    ];
    fleet.expectOneLineErrors(cases);
  });
});
