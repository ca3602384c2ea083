import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { s3Client } from "../packages/targets/s3";
import { DiyHistory, ObjectStore, StoredObject, storeRequest } from "./diy-history";
import { parseS3BackendUrl, S3BackendUrl } from "./s3-url";

/**
 * A DIY backend in an S3 bucket (`s3://bucket/prefix?…`, AWS or S3-compatible) as an ObjectStore:
 * the same files as the file backend, under the URL's path. Credentials come from the AWS SDK's
 * standard chain (environment, `profile=`/AWS_PROFILE, SSO, instance role), as for the CLI.
 */
export class S3Store implements ObjectStore {
  private readonly s3: S3Client;

  constructor(private readonly url: S3BackendUrl) {
    this.s3 = s3Client({
      ...(url.region ? { region: url.region } : {}),
      ...(url.endpoint ? { endpoint: url.endpoint } : {}),
      ...(url.profile ? { profile: url.profile } : {}),
      forcePathStyle: url.forcePathStyle,
      useDualstackEndpoint: url.dualstack,
      useFipsEndpoint: url.fips,
      useAccelerateEndpoint: url.accelerate,
      ...(url.requestChecksumCalculation ? { requestChecksumCalculation: url.requestChecksumCalculation } : {}),
      ...(url.responseChecksumValidation ? { responseChecksumValidation: url.responseChecksumValidation } : {}),
      // anonymous=true: unsigned requests (a public bucket), as gocloud's AnonymousCredentials.
      ...(url.anonymous ? { signer: { sign: async (request) => request } } : {}),
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
      maxAttempts: 3,
    });
  }

  describe(): string {
    return `${this.url.name}${this.url.endpoint ? ` (endpoint ${this.url.endpoint})` : ""}`;
  }

  where(key: string): string {
    return `s3://${this.url.bucket}/${this.url.prefix}${key}`;
  }

  async list(dir: string): Promise<StoredObject[]> {
    const prefix = `${this.url.prefix}${dir}/`;
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const r = await this.send(() => this.s3.send(new ListObjectsV2Command({ Bucket: this.url.bucket, Prefix: prefix, Delimiter: "/", ContinuationToken: token })), `listing ${prefix}`);
      for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key.slice(this.url.prefix.length), modified: o.LastModified ?? null });
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async read(key: string): Promise<Buffer> {
    const r = await this.send(() => this.s3.send(new GetObjectCommand({ Bucket: this.url.bucket, Key: this.url.prefix + key })), `reading ${this.url.prefix}${key}`);
    return Buffer.from(await r.Body!.transformToByteArray());
  }

  /** Runs one request; any failure becomes one line naming the backend and the problem. */
  private send<T>(request: () => Promise<T>, what: string): Promise<T> {
    return storeRequest(this.describe(), what, request, (e) => s3Problem(e, this.url));
  }
}

/** What went wrong with an S3 request, in words a person can act on. */
export function s3Problem(e: unknown, url: S3BackendUrl): string {
  const x = e as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = x.$metadata?.httpStatusCode;
  const name = x.name ?? "Error";
  const msg = (x.message ?? String(e)).split("\n")[0]!.trim();
  if (name === "NoSuchBucket") return `bucket ${url.bucket} does not exist`;
  if (["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"].includes(name) || status === 403) return `access denied (${name}: ${msg})`;
  if (name === "CredentialsProviderError") return `no AWS credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or profile=): ${msg}`;
  if (/region is missing/i.test(msg)) return "no region: add region=… to the URL or set AWS_REGION";
  const net = x.code ?? (/(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH)/.exec(msg)?.[1]);
  if (net || name === "TimeoutError") return `cannot reach ${url.endpoint ?? "S3"} (${net ?? name}: ${msg})`;
  return `${name}${status ? ` (HTTP ${status})` : ""}: ${msg || "no message"}`;
}

/** A DIY backend in S3: DiyHistory over an S3Store for the URL the CLI uses. */
export class S3BackendHistory extends DiyHistory {
  constructor(url: string, project: string) {
    super(new S3Store(parseS3BackendUrl(url)), project);
  }
}
