import { expect } from "chai";
import * as http from "http";
import { AzblobBackendHistory } from "../../src/audit/azblob-backend";
import { escapeAzureKey, parseAzblobBackendUrl } from "../../src/audit/azblob-url";
import { freePort } from "../support/sshd";

/** Azurite's documented development account (public, in every Azure emulator doc). */
const DEV_ACCOUNT = "devstoreaccount1";
const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

describe("audit: azblob:// URLs as gocloud v0.46 reads them", () => {
  const keyEnv = { AZURE_STORAGE_ACCOUNT: DEV_ACCOUNT, AZURE_STORAGE_KEY: DEV_KEY };

  it("the emulator form: the account goes in the path for 127.0.0.1/localhost domains or localemu=true", () => {
    const u = parseAzblobBackendUrl("azblob://state/fleet/audit?domain=127.0.0.1:10000&protocol=http", keyEnv);
    expect(u).to.deep.equal({
      name: "azblob://state/fleet/audit",
      container: "state",
      prefix: "fleet/audit/",
      containerUrl: `http://127.0.0.1:10000/${DEV_ACCOUNT}/state`,
      credential: { kind: "sharedKey", account: DEV_ACCOUNT, key: DEV_KEY },
    });
    expect(parseAzblobBackendUrl("azblob://state?domain=azurite:10000&localemu=true&protocol=http", keyEnv).containerUrl).to.equal(`http://azurite:10000/${DEV_ACCOUNT}/state`);
  });

  it("Azure itself, a CDN, another cloud; environment defaults overridden by the query", () => {
    const env = { ...keyEnv, AZURE_STORAGE_DOMAIN: "blob.core.usgovcloudapi.net", AZURE_STORAGE_PROTOCOL: "http" };
    expect(parseAzblobBackendUrl("azblob://c", keyEnv).containerUrl).to.equal(`https://${DEV_ACCOUNT}.blob.core.windows.net/c`);
    expect(parseAzblobBackendUrl("azblob://c", env).containerUrl).to.equal(`http://${DEV_ACCOUNT}.blob.core.usgovcloudapi.net/c`);
    expect(parseAzblobBackendUrl("azblob://c?protocol=https&domain=cdn.example.com&cdn=1", env).containerUrl).to.equal("https://cdn.example.com/c");
    expect(parseAzblobBackendUrl("azblob://c?domain=cdn.example.com", { ...keyEnv, AZURE_STORAGE_IS_CDN: "true" }).containerUrl).to.equal("https://cdn.example.com/c");
    // An invalid boolean in the environment counts as false (gocloud ignores the parse error).
    expect(parseAzblobBackendUrl("azblob://c?domain=x.example.com", { ...keyEnv, AZURE_STORAGE_IS_CDN: "yes" }).containerUrl).to.equal(`https://${DEV_ACCOUNT}.x.example.com/c`);
  });

  it("credentials in gocloud's order: key (with AZURE_STORAGE_ACCOUNT itself), SAS, connection string, else Azure AD", () => {
    const cs = `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=http://127.0.0.1:10000/${DEV_ACCOUNT};`;
    expect(parseAzblobBackendUrl("azblob://c", { ...keyEnv, AZURE_STORAGE_SAS_TOKEN: "sv=1" }).credential.kind).to.equal("sharedKey");
    expect(parseAzblobBackendUrl("azblob://c", { AZURE_STORAGE_ACCOUNT: "a", AZURE_STORAGE_SAS_TOKEN: "?sv=1&sig=x" }).credential).to.deep.equal({ kind: "sas", token: "sv=1&sig=x" });
    const fromCs = parseAzblobBackendUrl("azblob://c", { AZURE_STORAGE_CONNECTION_STRING: cs });
    expect(fromCs.credential).to.deep.equal({ kind: "connectionString", connectionString: cs });
    // The account and protocol of the service URL come from the connection string too.
    expect(fromCs.containerUrl).to.equal(`http://${DEV_ACCOUNT}.blob.core.windows.net/c`);
    expect(parseAzblobBackendUrl("azblob://c", { AZURE_STORAGEBLOB_CONNECTIONSTRING: cs }).credential.kind).to.equal("connectionString");
    // storage_account= names the service URL's account, not the shared key's.
    expect(parseAzblobBackendUrl("azblob://c?storage_account=a", { AZURE_STORAGE_KEY: DEV_KEY }).credential.kind).to.equal("default");
  });

  it("prefix= and the path both go in front of every key; keys escaped as gocloud escapes them", () => {
    expect(parseAzblobBackendUrl("azblob://c/team?prefix=org/", keyEnv).prefix).to.equal("org/team/");
    expect(parseAzblobBackendUrl("azblob://c/a%23b", keyEnv).prefix).to.equal("a__0x23__b/");
    expect(escapeAzureKey("x/../y\\z?")).to.equal("x/..__0x2f__y__0x5c__z__0x3f__");
  });

  it("refuses what the CLI refuses, in one line naming the backend", () => {
    const cases: [string, NodeJS.ProcessEnv, string][] = [
      ["azblob://c/p?bogus=1", keyEnv, 'backend azblob://c/p: unknown query parameter "bogus" (the pulumi CLI refuses it too)'],
      ["azblob://c?domain=a&domain=b", keyEnv, "backend azblob://c: multiple values of domain not allowed"],
      ["azblob://c?localemu=maybe", keyEnv, 'backend azblob://c: invalid value for query parameter "localemu": "maybe" (true or false)'],
      ["azblob://c?protocol=ftp", keyEnv, 'backend azblob://c: invalid protocol "ftp" (http or https)'],
      ["azblob://c", {}, "backend azblob://c: no storage account: set AZURE_STORAGE_ACCOUNT or add storage_account=… to the URL"],
      ["azblob:///p", keyEnv, "backend azblob:///p: no container name (azblob://container[/path])"],
      ["azblob://c?key=x", keyEnv, 'backend azblob://c: query parameter "key" makes a single-object bucket: not a Pulumi backend'],
    ];
    for (const [url, env, msg] of cases) {
      expect(() => parseAzblobBackendUrl(url, env), url).to.throw(msg);
    }
  });
});

describe("audit: the requests an azblob:// URL makes", () => {
  it("lists under the prefix with a shared-key signature; a closed endpoint is one line", async () => {
    const seen: { url: string; auth: string | undefined }[] = [];
    const server = http.createServer((req, res) => {
      seen.push({ url: req.url!, auth: req.headers.authorization });
      res.setHeader("content-type", "application/xml");
      res.end('<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="state"><Blobs></Blobs><NextMarker /></EnumerationResults>');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const env = { AZURE_STORAGE_ACCOUNT: DEV_ACCOUNT, AZURE_STORAGE_KEY: DEV_KEY };
    try {
      const h = new AzblobBackendHistory(parseAzblobBackendUrl(`azblob://state/team/smith?domain=127.0.0.1:${port}&protocol=http`, env), "smith");
      await h.read("dev").then(
        () => expect.fail("no error"),
        (e: Error) => expect(e.message).to.equal(`--stack dev: no such stack of project smith in azblob://state/team/smith (http://127.0.0.1:${port}/${DEV_ACCOUNT}) (stacks: none)`),
      );
      const first = seen[0]!;
      expect(decodeURIComponent(first.url)).to.match(new RegExp(`^/${DEV_ACCOUNT}/state\\?.*prefix=team/smith/\\.pulumi/stacks/smith/`));
      expect(decodeURIComponent(first.url)).to.include("delimiter=/");
      expect(first.auth).to.match(new RegExp(`^SharedKey ${DEV_ACCOUNT}:`));
    } finally {
      server.close();
    }
    const closed = await freePort();
    await new AzblobBackendHistory(parseAzblobBackendUrl(`azblob://state?domain=127.0.0.1:${closed}&protocol=http`, env), "smith").read("dev").then(
      () => expect.fail("no error"),
      (e: Error) => {
        expect(e.name).to.equal("UserError");
        expect(e.message).to.equal(`backend azblob://state (http://127.0.0.1:${closed}/${DEV_ACCOUNT}): listing .pulumi/stacks/smith/: cannot reach http://127.0.0.1:${closed}/${DEV_ACCOUNT} (ECONNREFUSED)`);
      },
    );
  });
});
