import { Storage, StorageOptions } from "@google-cloud/storage";
import { OAuth2Client } from "google-auth-library";
import { DiyHistory, ObjectStore, StoredObject, storeRequest } from "./diy-history";
import { GsBackendUrl, parseGsBackendUrl } from "./gs-url";

/** The GCS client the CLI's opener amounts to for this URL (credentials, emulator). */
export function gsStorage(url: GsBackendUrl): Storage {
  const options: StorageOptions = { retryOptions: { maxRetries: 1, totalTimeout: 60 } };
  const c = url.credential;
  if (url.emulator) {
    // As gcsblob with STORAGE_EMULATOR_HOST: that host, plain http, no credentials (the client
    // skips auth for a custom endpoint). The library's own reading of the variable expects a
    // scheme gocloud's does not, so the endpoint is given explicitly and the base URL set below.
    options.apiEndpoint = url.emulator;
  } else if (c.kind === "anonymous") {
    // Unauthenticated requests: the client sends no credentials to an endpoint it deems custom.
    options.apiEndpoint = "https://storage.googleapis.com/";
  } else if (c.kind === "json") options.credentials = c.json;
  else if (c.kind === "accessToken") {
    const auth = new OAuth2Client();
    auth.setCredentials({ access_token: c.token });
    options.authClient = auth;
  }
  const storage = new Storage(options);
  if (url.emulator) (storage as unknown as { baseUrl: string }).baseUrl = `${url.emulator}/storage/v1`;
  return storage;
}

/**
 * A DIY backend in a Google Cloud Storage bucket (`gs://bucket/path?…`) as an ObjectStore: the
 * same files as the file backend, under the URL's path, read with the credentials the CLI uses.
 */
export class GsStore implements ObjectStore {
  private readonly storage: Storage;

  constructor(private readonly url: GsBackendUrl) {
    this.storage = gsStorage(url);
  }

  describe(): string {
    return `${this.url.name}${this.url.emulator ? ` (emulator ${this.url.emulator})` : ""}`;
  }

  where(key: string): string {
    return `gs://${this.url.bucket}/${this.url.prefix}${key}`;
  }

  async list(dir: string): Promise<StoredObject[]> {
    const prefix = `${this.url.prefix}${dir}/`;
    const [files] = await this.send(() => this.storage.bucket(this.url.bucket).getFiles({ prefix, delimiter: "/", autoPaginate: true }), `listing ${prefix}`);
    return files.map((f) => ({ key: f.name.slice(this.url.prefix.length), modified: f.metadata.updated ? new Date(f.metadata.updated) : null }));
  }

  /**
   * One object's bytes through the JSON API's media download, with the client's credentials.
   * Not the client's download(): its stream (teeny-request 11.1.1) prints a
   * MaxListenersExceededWarning for every object of more than a few chunks (a checkpoint).
   */
  async read(key: string): Promise<Buffer> {
    const name = this.url.prefix + key;
    return this.send(async () => {
      const where = `${this.storage.apiEndpoint}/storage/v1/b/${encodeURIComponent(this.url.bucket)}/o/${encodeURIComponent(name)}?alt=media`;
      const signed = !this.url.emulator && this.url.credential.kind !== "anonymous";
      const r = await fetch(where, { headers: signed ? await this.storage.authClient.getRequestHeaders(where) : {}, signal: AbortSignal.timeout(60_000) });
      if (!r.ok) throw Object.assign(new Error((await r.text()).slice(0, 200) || r.statusText), { code: r.status });
      return Buffer.from(await r.arrayBuffer());
    }, `reading ${name}`);
  }

  /** Runs one request; any failure becomes one line naming the backend and the problem. */
  private send<T>(request: () => Promise<T>, what: string): Promise<T> {
    return storeRequest(this.describe(), what, request, (e) => gsProblem(e, this.url, what));
  }
}

/** What went wrong with a GCS request, in words a person can act on. */
export function gsProblem(e: unknown, url: GsBackendUrl, what: string): string {
  const x = e as { code?: number | string; message?: string };
  const msg = (x.message ?? String(e)).split("\n")[0]!.trim();
  if (x.code === 404) return what.startsWith("listing") ? `bucket ${url.bucket} does not exist (${msg})` : `not found (${msg})`;
  if (x.code === 401 || x.code === 403) return `access denied (HTTP ${x.code}: ${msg})`;
  if (/Could not load the default credentials|Unable to detect a Project Id/i.test(msg)) return `no Google credentials (set GOOGLE_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN or GOOGLE_APPLICATION_CREDENTIALS, or gcloud auth application-default login): ${msg}`;
  const net = /(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH)/.exec(`${x.code ?? ""} ${msg}`)?.[1];
  if (net) return `cannot reach ${url.emulator ?? "storage.googleapis.com"} (${net})`;
  return `${x.code !== undefined ? `HTTP ${x.code}: ` : ""}${msg || "no message"}`;
}

/** A DIY backend in GCS: DiyHistory over a GsStore for the URL the CLI uses. */
export class GsBackendHistory extends DiyHistory {
  constructor(url: string | GsBackendUrl, project: string) {
    super(new GsStore(typeof url === "string" ? parseGsBackendUrl(url) : url), project);
  }
}
