import { AnonymousCredential, ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { UserError } from "../errors";
import { AzblobBackendUrl, parseAzblobBackendUrl } from "./azblob-url";
import { DiyHistory, ObjectStore, StoredObject, storeRequest } from "./diy-history";

/** The container client gocloud would make for this URL (azureblob credInfoT.NewClient). */
export function containerClient(url: AzblobBackendUrl): ContainerClient {
  // Bounded retries: an unreachable endpoint is an error in seconds, not minutes.
  const options = { retryOptions: { maxTries: 2, tryTimeoutInMs: 60_000, retryDelayInMs: 200 } };
  const c = url.credential;
  switch (c.kind) {
    case "sharedKey":
      return new ContainerClient(url.containerUrl, new StorageSharedKeyCredential(c.account, c.key), options);
    case "sas":
      return new ContainerClient(`${url.containerUrl}?${c.token}`, new AnonymousCredential(), options);
    case "connectionString":
      // As gocloud: the connection string alone says where (the URL's domain/protocol are not used).
      return new ContainerClient(c.connectionString, url.container, options);
    case "default":
      throw new UserError(`backend ${url.name}: no storage credentials for smith's reader (set AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING)`);
  }
}

/**
 * A DIY backend in an Azure Blob container (`azblob://container/path?…`) as an ObjectStore: the
 * same files as the file backend, under the URL's path, read with the credentials gocloud (and so
 * the CLI) takes from the environment.
 */
export class AzblobStore implements ObjectStore {
  private readonly client: ContainerClient;

  constructor(private readonly url: AzblobBackendUrl) {
    this.client = containerClient(url);
  }

  describe(): string {
    return `${this.url.name} (${this.url.containerUrl.replace(/\/[^/]+$/, "")})`;
  }

  where(key: string): string {
    return `azblob://${this.url.container}/${this.url.prefix}${key}`;
  }

  async list(dir: string): Promise<StoredObject[]> {
    const prefix = `${this.url.prefix}${dir}/`;
    const out: StoredObject[] = [];
    await this.send(async () => {
      for await (const item of this.client.listBlobsByHierarchy("/", { prefix })) {
        if (item.kind === "blob") out.push({ key: item.name.slice(this.url.prefix.length), modified: item.properties.lastModified ?? null });
      }
    }, `listing ${prefix}`);
    return out;
  }

  async read(key: string): Promise<Buffer> {
    return this.send(() => this.client.getBlobClient(this.url.prefix + key).downloadToBuffer(), `reading ${this.url.prefix}${key}`);
  }

  /** Runs one request; any failure becomes one line naming the backend and the problem. */
  private send<T>(request: () => Promise<T>, what: string): Promise<T> {
    return storeRequest(this.describe(), what, request, (e) => azblobProblem(e, this.url));
  }
}

/** What went wrong with an Azure Blob request, in words a person can act on. */
export function azblobProblem(e: unknown, url: AzblobBackendUrl): string {
  const x = e as { name?: string; code?: string; statusCode?: number; message?: string };
  const msg = (x.message ?? String(e)).split("\n")[0]!.trim();
  if (x.code === "ContainerNotFound") return `container ${url.container} does not exist`;
  if (x.statusCode === 403 || ["AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch"].includes(x.code ?? "")) return `access denied (${x.code ?? "HTTP 403"}: ${msg})`;
  const net = /(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH)/.exec(`${x.code ?? ""} ${msg}`)?.[1];
  if (net) return `cannot reach ${url.containerUrl.replace(/\/[^/]+$/, "")} (${net})`;
  return `${x.code ?? x.name ?? "Error"}${x.statusCode ? ` (HTTP ${x.statusCode})` : ""}: ${msg || "no message"}`;
}

/** A DIY backend in Azure Blob Storage: DiyHistory over an AzblobStore for the URL the CLI uses. */
export class AzblobBackendHistory extends DiyHistory {
  constructor(url: string | AzblobBackendUrl, project: string) {
    super(new AzblobStore(typeof url === "string" ? parseAzblobBackendUrl(url) : url), project);
  }
}
