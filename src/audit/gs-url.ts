import { dotDotSlash, goBool, hexEscape, openBucketUrl } from "./bucket-url";

/**
 * A DIY backend URL `gs://bucket[/path][?query]` read the way Pulumi 3.248 opens it, so smith
 * reads the bucket the CLI writes. The CLI registers its own gs opener
 * (pkg/authhelpers.GoogleCredentialsMux: credentials from GOOGLE_CREDENTIALS (JSON),
 * GOOGLE_OAUTH_ACCESS_TOKEN, else Application Default Credentials), gocloud.dev v0.46's mux takes
 * `prefix` off the query and gcsblob's URLOpener accepts only `anonymous`, `access_id`,
 * `private_key_path` and `universe_domain` (the last two matter to signed URLs only). With
 * STORAGE_EMULATOR_HOST set, gcsblob talks to `http://<host>/storage/v1/` unauthenticated.
 * The CLI then puts the URL's path under it (blob.PrefixedBucket).
 */
export interface GsBackendUrl {
  /** `gs://bucket/path`, without the query: how messages name the backend. */
  name: string;
  bucket: string;
  /** Every key is under this (`prefix` query + the URL's path + `/`), `""` for the bucket's root. */
  prefix: string;
  /** `http://<STORAGE_EMULATOR_HOST>` when set: an emulator, no credentials. */
  emulator?: string;
  credential: GsCredential;
}

export type GsCredential =
  /** anonymous=true or access_id=-: unauthenticated requests (a public bucket). */
  | { kind: "anonymous" }
  /** GOOGLE_CREDENTIALS: a service account (or other credentials) JSON document. */
  | { kind: "json"; json: Record<string, unknown> }
  | { kind: "accessToken"; token: string }
  /** Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC file, the metadata server). */
  | { kind: "default" };

/** Parses a `gs://` backend URL with the environment the CLI would see; a UserError naming the backend when the CLI would refuse it too. */
export function parseGsBackendUrl(raw: string, env: NodeJS.ProcessEnv = process.env): GsBackendUrl {
  const { url: u, fail, name, path } = openBucketUrl(raw, "gs", "gs://bucket[/path]", "gs://bucket[/path][?anonymous=true]");
  const q = u.searchParams;
  // blob.URLMux applyPrefixParam.
  const queryPrefix = q.get("prefix") ?? "";
  if (q.get("key")) fail(`query parameter "key" makes a single-object bucket: not a Pulumi backend`);
  for (const k of q.keys()) {
    if (!["prefix", "key", "access_id", "private_key_path", "anonymous", "universe_domain"].includes(k)) fail(`invalid query parameter ${JSON.stringify(k)} (the pulumi CLI refuses it too)`);
  }

  // The CLI's GoogleCredentialsMux, then gcsblob forParams.
  let credential: GsCredential;
  if (env.GOOGLE_CREDENTIALS) {
    let json: unknown;
    try {
      json = JSON.parse(env.GOOGLE_CREDENTIALS);
    } catch (e) {
      return fail(`unable to parse credentials from $GOOGLE_CREDENTIALS: ${(e as Error).message}`);
    }
    credential = { kind: "json", json: json as Record<string, unknown> };
  } else if (env.GOOGLE_OAUTH_ACCESS_TOKEN) credential = { kind: "accessToken", token: env.GOOGLE_OAUTH_ACCESS_TOKEN };
  else credential = { kind: "default" };
  const anon = q.get("anonymous");
  if (anon) {
    const b = goBool(anon);
    if (b === undefined) fail(`invalid value ${JSON.stringify(anon)} for query parameter "anonymous" (true or false)`);
    if (b) credential = { kind: "anonymous" };
  }
  if (q.get("access_id") === "-") credential = { kind: "anonymous" };

  const host = env.STORAGE_EMULATOR_HOST;
  return {
    name,
    bucket: u.hostname,
    // gcsblob escapeKey: line breaks and the `/` of `../`.
    prefix: hexEscape(queryPrefix + path, (r, i) => r[i] === "\n" || r[i] === "\r" || dotDotSlash(r, i)),
    ...(host ? { emulator: `http://${host}` } : {}),
    credential,
  };
}
