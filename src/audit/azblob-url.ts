import { dotDotSlash, goBool, hexEscape, openBucketUrl } from "./bucket-url";

/**
 * A DIY backend URL `azblob://container[/path][?query]` read the way Pulumi 3.248 opens it, so
 * smith reads the container the CLI writes. The CLI hands the URL unchanged to gocloud.dev
 * v0.46's blob mux, which takes `prefix` (a key prefix) off the query; azureblob's
 * lazyOpener then builds the service URL from the environment (NewDefaultServiceURLOptions)
 * overridden by the query (`domain`, `protocol`, `cdn`, `localemu`, `storage_account`; anything
 * else is refused), and picks credentials from the environment only (newCredInfoFromEnv). The CLI
 * then puts the URL's path under that prefix (pkg/backend/diy: blob.PrefixedBucket).
 */
export interface AzblobBackendUrl {
  /** `azblob://container/path`, without the query: how messages name the backend. */
  name: string;
  container: string;
  /** Every key is under this (`prefix` query + the URL's path + `/`), `""` for the container's root. */
  prefix: string;
  /** Where the container is, as gocloud's NewServiceURL + url.JoinPath make it (SAS token not included). */
  containerUrl: string;
  credential: AzblobCredential;
}

/** How gocloud authenticates (newCredInfoFromEnv, in its order). */
export type AzblobCredential =
  | { kind: "sharedKey"; account: string; key: string }
  | { kind: "sas"; token: string }
  | { kind: "connectionString"; connectionString: string }
  /** azidentity.NewDefaultAzureCredential (Azure AD: CLI login, managed identity…): smith does not read these. */
  | { kind: "default" };

/**
 * gocloud's escapeKey for Azure (internal/escape.HexEscape as `__0x<hex>__`): a backslash, control
 * characters, `"`, `#`, `%`, `?`, DEL and the `/` of `../` are escaped in every key the CLI writes.
 */
export function escapeAzureKey(key: string): string {
  return hexEscape(key, (r, i) => {
    const n = r[i]!.codePointAt(0)!;
    return r[i] === "\\" || n < 32 || [34, 35, 37, 63, 127].includes(n) || dotDotSlash(r, i);
  });
}

/** Parses an `azblob://` backend URL with the environment the CLI would see; a UserError naming the backend when the CLI would refuse it too. */
export function parseAzblobBackendUrl(raw: string, env: NodeJS.ProcessEnv = process.env): AzblobBackendUrl {
  const { url: u, fail, name, path } = openBucketUrl(raw, "azblob", "azblob://container[/path]", "azblob://container[/path][?storage_account=…&domain=…]", "container");
  const q = new Map<string, string>();
  for (const k of new Set(u.searchParams.keys())) {
    const all = u.searchParams.getAll(k);
    if (all.length > 1 && k !== "prefix") fail(`multiple values of ${k} not allowed`);
    q.set(k, all[0]!);
  }

  // blob.URLMux applyPrefixParam: `prefix` and `key` leave the query before the driver sees it.
  const queryPrefix = q.get("prefix") ?? "";
  q.delete("prefix");
  if (q.get("key")) fail(`query parameter "key" makes a single-object bucket: not a Pulumi backend`);
  q.delete("key");

  // NewDefaultServiceURLOptions: the environment (invalid booleans there count as false).
  const connectionString = env.AZURE_STORAGE_CONNECTION_STRING || env.AZURE_STORAGEBLOB_CONNECTIONSTRING || "";
  let account = env.AZURE_STORAGE_ACCOUNT ?? "";
  let protocol = env.AZURE_STORAGE_PROTOCOL ?? "";
  for (const part of connectionString.split(";")) {
    const kv = part.split("=");
    if (kv.length !== 2) continue;
    if (!account && kv[0] === "AccountName") account = kv[1]!;
    else if (!protocol && kv[0] === "DefaultEndpointsProtocol") protocol = kv[1]!;
  }
  let domain = env.AZURE_STORAGE_DOMAIN ?? "";
  let cdn = goBool(env.AZURE_STORAGE_IS_CDN ?? "") ?? false;
  let localEmulator = goBool(env.AZURE_STORAGE_IS_LOCAL_EMULATOR ?? "") ?? false;
  const sas = env.AZURE_STORAGE_SAS_TOKEN ?? "";

  // withOverrides: the query.
  const bool = (k: string, v: string): boolean => goBool(v) ?? fail(`invalid value for query parameter "${k}": ${JSON.stringify(v)} (true or false)`);
  for (const [k, v] of q) {
    if (k === "domain") domain = v;
    else if (k === "protocol") protocol = v;
    else if (k === "cdn") cdn = bool(k, v);
    else if (k === "localemu") localEmulator = bool(k, v);
    else if (k === "storage_account") account = v;
    else fail(`unknown query parameter ${JSON.stringify(k)} (the pulumi CLI refuses it too)`);
  }

  // NewServiceURL.
  if (!account) fail("no storage account: set AZURE_STORAGE_ACCOUNT or add storage_account=… to the URL");
  domain ||= "blob.core.windows.net";
  protocol ||= "https";
  if (protocol !== "http" && protocol !== "https") fail(`invalid protocol ${JSON.stringify(protocol)} (http or https)`);
  const service =
    domain.startsWith("127.0.0.1") || domain.startsWith("localhost") || localEmulator
      ? `${protocol}://${domain}/${account}`
      : cdn
        ? `${protocol}://${domain}`
        : `${protocol}://${account}.${domain}`;
  try {
    new URL(service);
  } catch {
    fail(`invalid service URL ${service} (domain=${domain})`);
  }

  // newCredInfoFromEnv: the shared key needs AZURE_STORAGE_ACCOUNT itself, not storage_account=.
  const envAccount = env.AZURE_STORAGE_ACCOUNT ?? "";
  const credential: AzblobCredential =
    envAccount && env.AZURE_STORAGE_KEY
      ? { kind: "sharedKey", account: envAccount, key: env.AZURE_STORAGE_KEY }
      : sas
        ? { kind: "sas", token: sas.replace(/^\?/, "") }
        : connectionString
          ? { kind: "connectionString", connectionString }
          : { kind: "default" };

  return {
    name,
    container: u.hostname,
    prefix: escapeAzureKey(queryPrefix + path),
    containerUrl: `${service.replace(/\/+$/, "")}/${u.hostname}`,
    credential,
  };
}
