import { expect } from "chai";
import { parseGsBackendUrl } from "../../src/audit/gs-url";

describe("audit: gs:// URLs as Pulumi 3.248 (its credentials mux + gocloud v0.46 gcsblob) reads them", () => {
  it("bucket, path and prefix=; the emulator from STORAGE_EMULATOR_HOST (host:port, plain http)", () => {
    expect(parseGsBackendUrl("gs://state/team/smith?prefix=org/", { STORAGE_EMULATOR_HOST: "127.0.0.1:4443" })).to.deep.equal({
      name: "gs://state/team/smith",
      bucket: "state",
      prefix: "org/team/smith/",
      emulator: "http://127.0.0.1:4443",
      credential: { kind: "default" },
    });
    expect(parseGsBackendUrl("gs://state", {}).prefix).to.equal("");
    // Keys as gcsblob escapes them: line breaks (and the `/` of `../`); `#` is left alone, unlike Azure.
    expect(parseGsBackendUrl("gs://state/a%0Ab%23", {}).prefix).to.equal("a__0xa__b#/");
  });

  it("credentials in the CLI's order: GOOGLE_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN, else ADC; anonymous=true / access_id=- unauthenticated", () => {
    const both = { GOOGLE_CREDENTIALS: '{"type":"service_account","client_email":"a@b"}', GOOGLE_OAUTH_ACCESS_TOKEN: "t" };
    expect(parseGsBackendUrl("gs://b", both).credential).to.deep.equal({ kind: "json", json: { type: "service_account", client_email: "a@b" } });
    expect(parseGsBackendUrl("gs://b", { GOOGLE_OAUTH_ACCESS_TOKEN: "t" }).credential).to.deep.equal({ kind: "accessToken", token: "t" });
    expect(parseGsBackendUrl("gs://b", {}).credential).to.deep.equal({ kind: "default" });
    expect(parseGsBackendUrl("gs://b?anonymous=true", both).credential).to.deep.equal({ kind: "anonymous" });
    expect(parseGsBackendUrl("gs://b?anonymous=0", { GOOGLE_OAUTH_ACCESS_TOKEN: "t" }).credential.kind).to.equal("accessToken");
    expect(parseGsBackendUrl("gs://b?access_id=-", {}).credential).to.deep.equal({ kind: "anonymous" });
    // Only signed URLs use these: accepted, no effect on reading.
    expect(parseGsBackendUrl("gs://b?access_id=x@y&private_key_path=/k&universe_domain=googleapis.com", {}).credential.kind).to.equal("default");
  });

  it("refuses what the CLI refuses, in one line naming the backend", () => {
    const cases: [string, NodeJS.ProcessEnv, string][] = [
      ["gs://b/p?region=x", {}, 'backend gs://b/p: invalid query parameter "region" (the pulumi CLI refuses it too)'],
      ["gs://b?anonymous=maybe", {}, 'backend gs://b: invalid value "maybe" for query parameter "anonymous" (true or false)'],
      ["gs://b", { GOOGLE_CREDENTIALS: "{nope" }, "backend gs://b: unable to parse credentials from $GOOGLE_CREDENTIALS:"],
      ["gs:///p", {}, "backend gs:///p: no bucket name (gs://bucket[/path])"],
      ["gs://b?key=x", {}, 'backend gs://b: query parameter "key" makes a single-object bucket: not a Pulumi backend'],
    ];
    for (const [url, env, msg] of cases) expect(() => parseGsBackendUrl(url, env), url).to.throw(msg);
  });
});
