/**
 * Audit over a DIY Azure Blob backend: the real engine writes stack `lab-audit-azblob` into a
 * real Azure Blob server (azurite, on loopback) with smith's program over the 5-machine
 * `smith sim` fleet, two updates: build 2 everywhere, then build 3 with one machine removed.
 * `smith audit` must read every update's checkpoint from the container (the removed machine's
 * patch lives only in the first one) and report exactly what the file backend reports for the
 * same objects, with each credential gocloud takes (shared key, SAS token, connection string).
 * Also the one-line errors of a bad URL, an unreachable endpoint, a missing container and a
 * wrong key.
 */
import { AccountSASPermissions, AccountSASResourceTypes, AccountSASServices, generateAccountSASQueryParameters, StorageSharedKeyCredential } from "@azure/storage-blob";
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { AzblobBackendHistory } from "../../src/audit/azblob-backend";
import { parseAzblobBackendUrl } from "../../src/audit/azblob-url";
import { patchEvents } from "../../src/audit/events";
import { AZURITE_ACCOUNT, AZURITE_KEY, azuriteBlob, azuriteServer, AzuriteServer } from "../support/azurite";
import { BucketFleet, itReadsEveryUpdate, TestBucket } from "../support/bucket-audit";
import { freePort } from "../support/builds";
import { commandProviderUnavailableReason, pulumiUnavailableReason } from "../support/pulumi";

const STACK = "lab-audit-azblob";
const CONTAINER = "smith-state";
const PREFIX = "fleet/audit";
const KEY_ENV = { AZURE_STORAGE_ACCOUNT: AZURITE_ACCOUNT, AZURE_STORAGE_KEY: AZURITE_KEY };

describe("audit over a DIY Azure Blob backend (azurite, real engine, simulated fleet)", function () {
  this.timeout(15 * 60_000);
  const why = pulumiUnavailableReason() ?? commandProviderUnavailableReason() ?? (azuriteBlob() ? null : "azurite-blob missing: run scripts/install-azure-server.sh");
  let dir: string;
  let az: AzuriteServer;
  let url: string;
  let fleet: BucketFleet;

  before(async function () {
    if (why) {
      console.log(`      skipping the Azure Blob audit integration test: ${why}`);
      this.skip();
    }
    dir = BucketFleet.scratch("audit-azblob");
    az = await azuriteServer(CONTAINER, path.join(dir, "azurite"), path.join(dir, "azurite.log"));
    // The emulator form gocloud v0.46 accepts: a 127.0.0.1 domain puts the account in the path.
    url = `azblob://${CONTAINER}/${PREFIX}?domain=127.0.0.1:${az.port}&protocol=http`;
    fleet = new BucketFleet(STACK, { ...KEY_ENV, PULUMI_BACKEND_URL: url }, "sim-audit-azblob");
    await fleet.setUp(dir);
  });

  after(async () => {
    if (why) return;
    await fleet?.tearDown();
    await az?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** azurite's container, read with the SDK directly (not smith's reader). */
  const bucket: TestBucket = {
    list: async (prefix) => {
      const keys: string[] = [];
      for await (const b of az.container.listBlobsFlat({ prefix })) keys.push(b.name);
      return keys.sort();
    },
    read: (key) => az.container.getBlobClient(key).downloadToBuffer(),
  };

  itReadsEveryUpdate("Azure Blob", "azblob", () => ({ fleet, bucket, prefix: PREFIX, source: `azblob://${CONTAINER}/${PREFIX} (http://127.0.0.1:${az.port}/${AZURITE_ACCOUNT})` }));

  it("reads the same with a SAS token or a connection string instead of the key", async () => {
    const sas = generateAccountSASQueryParameters(
      {
        permissions: AccountSASPermissions.parse("rl"),
        resourceTypes: AccountSASResourceTypes.parse("co").toString(),
        services: AccountSASServices.parse("b").toString(),
        expiresOn: new Date(Date.now() + 3600_000),
      },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).toString();
    const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=http://127.0.0.1:${az.port}/${AZURITE_ACCOUNT};`;
    const byKey = patchEvents(await new AzblobBackendHistory(parseAzblobBackendUrl(url, KEY_ENV), "smith").read(STACK));
    expect(byKey.map((e) => e.machine)).to.include(fleet.removed);
    for (const env of [{ AZURE_STORAGE_ACCOUNT: AZURITE_ACCOUNT, AZURE_STORAGE_SAS_TOKEN: sas }, { AZURE_STORAGE_CONNECTION_STRING: connectionString }]) {
      const parsed = parseAzblobBackendUrl(url, env);
      const events = patchEvents(await new AzblobBackendHistory(parsed, "smith").read(STACK));
      expect(events, parsed.credential.kind).to.deep.equal(byKey);
    }
  });

  it("a bad URL, an unreachable endpoint, a missing container or a wrong key: one line naming the backend, exit 2", async () => {
    const closed = await freePort();
    const wrongKey = Buffer.from("not the key").toString("base64");
    const cases: [string, RegExp, NodeJS.ProcessEnv?][] = [
      [`azblob://${CONTAINER}?domain=127.0.0.1:${az.port}&protocol=http&bogus=1`, /^smith: backend azblob:\/\/smith-state: unknown query parameter "bogus" \(the pulumi CLI refuses it too\)$/],
      [`azblob://${CONTAINER}?domain=127.0.0.1:${az.port}&localemu=maybe`, /^smith: backend azblob:\/\/smith-state: invalid value for query parameter "localemu": "maybe" \(true or false\)$/],
      [`azblob://${CONTAINER}?domain=127.0.0.1:${closed}&protocol=http`, new RegExp(`^smith: backend azblob://smith-state \\(http://127.0.0.1:${closed}/${AZURITE_ACCOUNT}\\): listing \\.pulumi/stacks/smith/: cannot reach http://127.0.0.1:${closed}/${AZURITE_ACCOUNT} \\(ECONNREFUSED\\)$`)],
      [`azblob://no-such-container/x?domain=127.0.0.1:${az.port}&protocol=http`, /^smith: backend azblob:\/\/no-such-container\/x \(.*\): listing x\/\.pulumi\/stacks\/smith\/: container no-such-container does not exist$/],
      [url, /^smith: backend azblob:\/\/smith-state\/fleet\/audit \(.*\): listing .*: access denied \(AuthorizationFailure: .*\)$/, { AZURE_STORAGE_KEY: wrongKey }],
    ];
    fleet.expectOneLineErrors(cases);
  });
});
