import { expect } from "chai";
import * as http from "http";
import * as zlib from "zlib";
import { AzblobBackendHistory } from "../../src/audit/azblob-backend";
import { CliHistory } from "../../src/audit/cli-backend";
import { DiyHistory, ObjectStore, StoredObject } from "../../src/audit/diy-history";
import { patchEvents } from "../../src/audit/events";
import { FileBackendHistory } from "../../src/audit/file-backend";
import { GsBackendHistory } from "../../src/audit/gs-backend";
import type { PulumiRunner } from "../../src/audit/pulumi-cli";
import { S3BackendHistory, s3Problem } from "../../src/audit/s3-backend";
import { parseS3BackendUrl } from "../../src/audit/s3-url";
import { historySource } from "../../src/audit/source";
import { whoRan } from "../../src/audit/who";
import { freePort } from "../support/sshd";

const REPO = `${__dirname}/../..`;
const noRunner: PulumiRunner = { run: async () => ({ code: 1, stdout: "", stderr: "error: not here" }) };

/** An ObjectStore in memory: what DiyHistory sees of a directory or a bucket. */
class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, { body: Buffer; modified: Date }>();
  put(key: string, doc: unknown, opts: { gzip?: boolean; at?: string } = {}): this {
    const text = Buffer.from(typeof doc === "string" ? doc : JSON.stringify(doc));
    this.objects.set(key, { body: opts.gzip ? zlib.gzipSync(text) : text, modified: new Date(opts.at ?? "2026-12-01T00:00:00Z") });
    return this;
  }
  describe(): string {
    return "mem://state";
  }
  where(key: string): string {
    return `mem://state/${key}`;
  }
  async list(dir: string): Promise<StoredObject[]> {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${dir}/`) && !k.slice(dir.length + 1).includes("/")).map(([key, o]) => ({ key, modified: o.modified }));
  }
  async read(key: string): Promise<Buffer> {
    return this.objects.get(key)!.body;
  }
}

const URN = (node: string) => `urn:pulumi:dev::smith::smith:fleet:NodePatch$command:remote:Command::${node}-patch`;
const checkpoint = (node: string, build: string, t: string) => ({
  version: 3,
  checkpoint: {
    latest: {
      resources: [
        {
          urn: URN(node),
          type: "command:remote:Command",
          outputs: { stdout: JSON.stringify({ build, previous: null, noop: false, changed: [{ name: "k", from: "1", to: build }], changedCount: 1, rebootRequired: false, attempts: 1, startedAt: t, finishedAt: t, durationMs: 1 }) },
        },
      ],
    },
  },
});
const entry = (t: number, build: string) => ({ kind: "update", startTime: t, endTime: t + 60, result: "succeeded", environment: { "exec.kind": "cli" }, config: { "smith:build": build } });
/** `{"version":3,"checkpoint":{"latest":{"resources":[]}}}` compressed by zstd 1.5 (`zstd -c`): what PULUMI_DIY_BACKEND_ZSTD writes. */
const ZSTD_EMPTY_CHECKPOINT = Buffer.from("KLUv/QRYsQEAeyJ2ZXJzaW9uIjozLCJjaGVja3BvaW50Ijp7ImxhdGVzdCI6eyJyZXNvdXJjZXMiOltdfX19dhmG5A==", "base64");

describe("audit: DIY backends, one reader over files or objects", () => {
  it("reads the flat (pre-project) layout, entries with their checkpoints, oldest first", async () => {
    const store = new MemoryStore()
      .put(".pulumi/stacks/dev.json", checkpoint("a", "3", "2026-12-02T10:00:00Z"))
      .put(".pulumi/history/dev/dev-1764669600000000000.history.json", entry(1764669600, "3"), { gzip: true })
      .put(".pulumi/history/dev/dev-1764669600000000000.checkpoint.json", checkpoint("a", "3", "2026-12-02T10:00:00Z"), { gzip: true })
      .put(".pulumi/history/dev/dev-1764583200000000000.history.json", entry(1764583200, "2"))
      .put(".pulumi/history/dev/dev-1764583200000000000.checkpoint.json", checkpoint("b", "2", "2026-12-01T10:00:00Z"));
    const r = await new DiyHistory(store, "smith").read("dev");
    expect(r.updates.map((u) => [u.id, u.build, u.ranBy])).to.deep.equal([
      ["dev-1764583200000000000", "2", "unknown (cli)"],
      ["dev-1764669600000000000", "3", "unknown (cli)"],
    ]);
    expect(patchEvents(r).map((e) => `${e.machine}@${e.build} ${e.updateId}`)).to.deep.equal(["b@2 dev-1764583200000000000", "a@3 dev-1764669600000000000"]);
    expect(r.lockedBy).to.equal(undefined);
  });

  it("takes the most recently written variant of the stack file, zstd included, as the CLI does", async () => {
    const store = new MemoryStore().put(".pulumi/stacks/smith/dev.json", checkpoint("a", "2", "2026-12-01T10:00:00Z"), { at: "2026-12-01T00:00:00Z" });
    store.objects.set(".pulumi/stacks/smith/dev.json.zst", { body: ZSTD_EMPTY_CHECKPOINT, modified: new Date("2026-12-02T00:00:00Z") });
    expect((await new DiyHistory(store, "smith").read("dev")).current).to.deep.equal([]);
    store.objects.get(".pulumi/stacks/smith/dev.json")!.modified = new Date("2026-12-03T00:00:00Z");
    expect((await new DiyHistory(store, "smith").read("dev")).current).to.have.length(1);
    expect(await new DiyHistory(store, "smith").stacks()).to.deep.equal(["dev"]);
  });

  it("names the OS user from the stack's lock for what only the current state holds (an unfinished update)", async () => {
    const store = new MemoryStore()
      .put(".pulumi/stacks/smith/dev.json", checkpoint("a", "4", "2026-12-03T10:00:00Z"))
      .put(".pulumi/history/smith/dev/dev-1764583200000000000.history.json", entry(1764583200, "3"))
      .put(".pulumi/history/smith/dev/dev-1764583200000000000.checkpoint.json", checkpoint("a", "3", "2026-12-01T10:00:00Z"))
      .put(".pulumi/locks/organization/smith/dev/0b4e.json", { pid: 4242, username: "ann", hostname: "ops-1", timestamp: "2026-12-03T09:59:00.123456789Z" })
      .put(".pulumi/locks/organization/smith/dev/garbage.json", "{not json");
    const r = await new DiyHistory(store, "smith").read("dev");
    expect(patchEvents(r).map((e) => [e.build, e.updateId, e.ranBy])).to.deep.equal([
      ["3", "dev-1764583200000000000", "unknown (cli)"],
      ["4", "current", "ann@ops-1 (lock of an unfinished update, pid 4242, since 2026-12-03T09:59:00.123Z)"],
    ]);
  });

  it("a checkpoint that is not JSON is one line naming the object", async () => {
    const store = new MemoryStore().put(".pulumi/stacks/smith/dev.json", "{\"version\":3,").put(".pulumi/stacks/smith/x.json.gz", "x");
    try {
      await new DiyHistory(store, "smith").read("dev");
      expect.fail("no error");
    } catch (e) {
      expect((e as Error).message).to.match(/^mem:\/\/state\/\.pulumi\/stacks\/smith\/dev\.json: not valid JSON \(.+\)$/);
    }
  });

  it("the file backend is the same reader over a directory", async () => {
    const h = new FileBackendHistory("/nonexistent/state", "smith");
    expect(h).to.be.instanceOf(DiyHistory);
    try {
      await h.read("dev");
      expect.fail("no error");
    } catch (e) {
      expect((e as Error).message).to.equal("--stack dev: no such stack of project smith in file:///nonexistent/state (stacks: none)");
    }
  });
});

describe("audit: s3:// backend URLs as Pulumi 3.248 (gocloud.dev v0.46 s3blob) reads them", () => {
  it("takes the bucket, the path prefix and the parameters the CLI honours", () => {
    expect(parseS3BackendUrl("s3://fleet-state")).to.deep.equal({ name: "s3://fleet-state", bucket: "fleet-state", prefix: "", forcePathStyle: false, anonymous: false, dualstack: false, fips: false, accelerate: false });
    expect(parseS3BackendUrl("s3://fleet-state/team/smith/?region=eu-west-1&endpoint=minio:9000&disableSSL=true&s3ForcePathStyle=true&profile=ops&awssdk=v2")).to.deep.equal({
      name: "s3://fleet-state/team/smith",
      bucket: "fleet-state",
      prefix: "team/smith/",
      region: "eu-west-1",
      endpoint: "http://minio:9000",
      profile: "ops",
      forcePathStyle: true,
      anonymous: false,
      dualstack: false,
      fips: false,
      accelerate: false,
    });
    // A scheme-less endpoint gets https:// (the CLI's translateLegacyS3Params); the v2 names work too.
    const u = parseS3BackendUrl("s3://b/p?endpoint=minio:9000&use_path_style=1&dualstack=true&fips=T&accelerate=false&anonymous=true&ssetype=aws:kms&kmskeyid=k&rate_limiter_capacity=5&request_checksum_calculation=when_supported&response_checksum_validation=WHEN_REQUIRED");
    expect(u).to.include({ endpoint: "https://minio:9000", prefix: "p/", forcePathStyle: true, dualstack: true, fips: true, anonymous: true, requestChecksumCalculation: "WHEN_SUPPORTED", responseChecksumValidation: "WHEN_REQUIRED" });
    expect(parseS3BackendUrl("s3://b?endpoint=http://127.0.0.1:9000&hostname_immutable=true").forcePathStyle).to.equal(true);
    expect(parseS3BackendUrl("s3://b?use_path_style=true&s3ForcePathStyle=false").forcePathStyle).to.equal(false);
  });

  it("refuses what the CLI refuses, in one line naming the backend and the parameter", () => {
    const cases: [string, string][] = [
      ["s3://", "backend s3://: no bucket name (s3://bucket[/prefix])"],
      ["s3://b:99999/x", "backend s3://b:99999/x: not a valid URL (s3://bucket[/prefix][?region=…&endpoint=…])"],
      ["s3://b?bogus=1", 'backend s3://b: unknown query parameter "bogus" (the pulumi CLI refuses it too)'],
      ["s3://b?s3ForcePathStyle=maybe", 'backend s3://b: invalid value for query parameter "s3ForcePathStyle": "maybe" (true or false)'],
      ["s3://b?disableSSL=yes", 'backend s3://b: invalid value for query parameter "disableSSL": "yes" (true or false)'],
      ["s3://b?ssetype=DES", 'backend s3://b: "DES" is not a valid value for "ssetype"'],
      ["s3://b?rate_limiter_capacity=lots", 'backend s3://b: invalid value for query parameter "rate_limiter_capacity": "lots" (an integer)'],
      ["s3://b?request_checksum_calculation=always", 'backend s3://b: invalid value for query parameter "request_checksum_calculation": "always" (when_supported or when_required)'],
      ["s3://b?role=admin", "backend s3://b: invalid value for query parameter \"role\": must be a valid ARN (starts with 'arn:'): admin"],
      ["s3://b?role=arn:aws:iam::1:role/r", 'backend s3://b: query parameter "role": smith reads with the standard AWS credential chain only; put the role in a profile (role_arn) and name it with profile= or AWS_PROFILE'],
    ];
    for (const [url, want] of cases) expect(() => parseS3BackendUrl(url), url).to.throw(want);
  });
});

describe("audit: S3 failures are one line naming the backend", () => {
  const url = parseS3BackendUrl("s3://state/p?endpoint=http://127.0.0.1:1&region=us-east-1");
  it("maps the SDK's errors to what to do", () => {
    const err = (name: string, message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { name, ...extra });
    expect(s3Problem(err("NoSuchBucket", "The specified bucket does not exist"), url)).to.equal("bucket state does not exist");
    expect(s3Problem(err("AccessDenied", "Access Denied", { $metadata: { httpStatusCode: 403 } }), url)).to.equal("access denied (AccessDenied: Access Denied)");
    expect(s3Problem(err("CredentialsProviderError", "Could not load credentials from any providers"), url)).to.equal(
      "no AWS credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or profile=): Could not load credentials from any providers",
    );
    expect(s3Problem(err("Error", "Region is missing"), url)).to.equal("no region: add region=… to the URL or set AWS_REGION");
    expect(s3Problem(err("Error", "connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED" }), url)).to.equal("cannot reach http://127.0.0.1:1 (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1)");
    expect(s3Problem(err("SlowDown", "Please reduce your request rate.\nmore", { $metadata: { httpStatusCode: 503 } }), url)).to.equal("SlowDown (HTTP 503): Please reduce your request rate.");
  });

  it("an endpoint nobody listens on", async () => {
    const port = await freePort();
    const env = { AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = "k";
    process.env.AWS_SECRET_ACCESS_KEY = "s";
    try {
      await new S3BackendHistory(`s3://state/p?endpoint=http://127.0.0.1:${port}&s3ForcePathStyle=true&region=us-east-1`, "smith").read("dev");
      expect.fail("no error");
    } catch (e) {
      expect((e as Error).name).to.equal("UserError");
      expect((e as Error).message).to.match(new RegExp(`^backend s3://state/p \\(endpoint http://127.0.0.1:${port}\\): listing p/\\.pulumi/stacks/smith/: cannot reach http://127.0.0.1:${port} \\(ECONNREFUSED`));
    } finally {
      for (const [k, v] of Object.entries(env)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe("audit: the requests an s3:// URL makes", () => {
  /** A local S3 endpoint that answers every listing with nothing and records what it was asked. */
  async function emptyS3(): Promise<{ url: string; seen: { url: string; auth: string | undefined }[]; close(): void }> {
    const seen: { url: string; auth: string | undefined }[] = [];
    const server = http.createServer((req, res) => {
      seen.push({ url: req.url!, auth: req.headers.authorization });
      res.setHeader("content-type", "application/xml");
      res.end('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>state</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen, close: () => server.close() };
  }
  const creds = { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" };
  const saved: Record<string, string | undefined> = {};
  before(() => {
    for (const [k, v] of Object.entries(creds)) (saved[k] = process.env[k]), (process.env[k] = v);
  });
  after(() => {
    for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  });

  it("path style under the prefix, signed; unsigned with anonymous=true", async () => {
    const s3 = await emptyS3();
    try {
      for (const anonymous of [false, true]) {
        const h = new S3BackendHistory(`s3://state/team/smith?endpoint=${s3.url}&s3ForcePathStyle=true&region=eu-west-1${anonymous ? "&anonymous=true" : ""}`, "smith");
        await h.read("dev").then(
          () => expect.fail("no error"),
          (e: Error) => expect(e.message).to.equal(`--stack dev: no such stack of project smith in s3://state/team/smith (endpoint ${s3.url}) (stacks: none)`),
        );
        const first = s3.seen.splice(0)[0]!;
        expect(decodeURIComponent(first.url)).to.match(/^\/state\/?\?.*prefix=team\/smith\/\.pulumi\/stacks\/smith\//);
        expect(decodeURIComponent(first.url)).to.include("delimiter=/");
        if (anonymous) expect(first.auth, "anonymous").to.equal(undefined);
        else expect(first.auth).to.match(/^AWS4-HMAC-SHA256 Credential=k\/\d{8}\/eu-west-1\/s3\/aws4_request/);
      }
    } finally {
      s3.close();
    }
  });
});

describe("audit: which reader a backend URL gets", () => {
  const source = (url: string) => historySource(REPO, REPO, noRunner, { PULUMI_BACKEND_URL: url });
  it("file://, s3://, azblob:// and gs:// are read directly; azblob:// without a key through the CLI, saying what is missing", () => {
    expect(source("file:///srv/state")).to.be.instanceOf(FileBackendHistory);
    expect(source("s3://b/p?region=us-east-1")).to.be.instanceOf(S3BackendHistory);
    expect(source("s3://b/p?region=us-east-1").describe()).to.equal("s3://b/p");
    const az = historySource(REPO, REPO, noRunner, { PULUMI_BACKEND_URL: "azblob://c/p?storage_account=a", AZURE_STORAGE_SAS_TOKEN: "sv=1" });
    expect(az).to.be.instanceOf(AzblobBackendHistory);
    expect(az.describe()).to.equal("azblob://c/p (https://a.blob.core.windows.net)");
    const gs = historySource(REPO, REPO, noRunner, { PULUMI_BACKEND_URL: "gs://bucket/p", STORAGE_EMULATOR_HOST: "127.0.0.1:4443" });
    expect(gs).to.be.instanceOf(GsBackendHistory);
    expect(gs.describe()).to.equal("gs://bucket/p (emulator http://127.0.0.1:4443)");
    const azAd = source("azblob://container?storage_account=x");
    expect(azAd).to.be.instanceOf(CliHistory);
    expect(azAd.limitation).to.match(/^update list and current state only: smith reads an azblob:\/\/ backend's checkpoints with AZURE_STORAGE_ACCOUNT \+ AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING and none is set/);
    expect(azAd.describe()).to.equal("azblob://container (update list and current state only)");
    expect(source("https://api.pulumi.com").limitation).to.equal(undefined);
    expect(() => source("s3://b?nope=1")).to.throw('backend s3://b: unknown query parameter "nope"');
    expect(() => source("azblob://c?nope=1")).to.throw('backend azblob://c: unknown query parameter "nope"');
    expect(() => source("gs://b?nope=1")).to.throw('backend gs://b: invalid query parameter "nope"');
  });

  it("who ran it: the way the engine was driven when nothing better is recorded", () => {
    expect(whoRan(undefined, { "exec.kind": "auto.local", "exec.agent": "GitHub Actions" })).to.equal("unknown (auto.local, GitHub Actions)");
  });
});
