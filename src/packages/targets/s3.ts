import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import type { S3MirrorConfig } from "../config";
import type { MirrorTarget } from "./target";

/**
 * An S3 client as smith uses one (mirror targets here, DIY state backends in src/audit): the
 * SDK's standard credential chain, checksums only where required (S3-compatible servers vary in
 * their support of the newer defaults), and no Node version notice in every command's output.
 */
export function s3Client(cfg: S3ClientConfig): S3Client {
  // smith pins Node 20 (package.json engines) knowingly.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new S3Client({ requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED", ...cfg });
}

const notFound = (e: unknown) => {
  const x = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return x.name === "NoSuchKey" || x.name === "NotFound" || x.$metadata?.httpStatusCode === 404;
};

/**
 * An S3 bucket (AWS or S3-compatible) behind a CDN or static website endpoint. A PUT replaces an
 * object atomically; each object carries its sha256 as metadata so re-syncs skip what is there.
 * Credentials come from the AWS SDK's usual chain (environment, profile, instance role).
 */
export class S3Target implements MirrorTarget {
  readonly name: string;
  readonly where: string;
  private readonly s3: S3Client;

  constructor(private readonly cfg: S3MirrorConfig) {
    this.name = cfg.name;
    this.where = `s3://${cfg.bucket}/${cfg.prefix}${cfg.endpoint ? ` (${cfg.endpoint})` : ""}`;
    this.s3 = s3Client({
      region: cfg.region,
      ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
      forcePathStyle: cfg.forcePathStyle ?? cfg.endpoint !== undefined,
      maxAttempts: 1, // sync retries the whole mirror with its own backoff
    });
  }

  private key(rel: string): string {
    return `${this.cfg.prefix}${rel}`;
  }

  async read(rel: string): Promise<Buffer | null> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.cfg.bucket, Key: this.key(rel) }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      if (notFound(e)) return null;
      throw e;
    }
  }

  async storedHash(rel: string): Promise<string | null> {
    try {
      const r = await this.s3.send(new HeadObjectCommand({ Bucket: this.cfg.bucket, Key: this.key(rel) }));
      return r.Metadata?.sha256 ?? "";
    } catch (e) {
      if (notFound(e)) return null;
      throw e;
    }
  }

  async write(rel: string, body: Buffer, sha256: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.cfg.bucket, Key: this.key(rel), Body: body, Metadata: { sha256 }, ContentLength: body.length }));
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.s3.send(new ListObjectsV2Command({ Bucket: this.cfg.bucket, Prefix: this.key(prefix), ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key) out.push(o.Key.slice(this.cfg.prefix.length));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  async remove(rels: string[]): Promise<void> {
    for (let i = 0; i < rels.length; i += 1000) {
      const chunk = rels.slice(i, i + 1000);
      await this.s3.send(new DeleteObjectsCommand({ Bucket: this.cfg.bucket, Delete: { Objects: chunk.map((r) => ({ Key: this.key(r) })), Quiet: true } }));
    }
  }
}
