/**
 * A mirror target: somewhere a build is copied to and clients read from. Every implementation
 * makes each single write atomic for readers (a reader sees the old file, the new one, or none);
 * sync orders the writes so a Release never names indexes that are not there yet.
 */
import type { MirrorConfig } from "../config";

export interface MirrorTarget {
  readonly name: string;
  /** For messages: `directory /srv/www/smith`, `s3://bucket/prefix (endpoint)`. */
  readonly where: string;
  /** A file's bytes (path relative to the mirror root), or null when it is absent. */
  read(rel: string): Promise<Buffer | null>;
  /** sha256 of a file as the target knows it cheaply (may trust stored metadata), or null when absent. */
  storedHash(rel: string): Promise<string | null>;
  /** Writes one file atomically for readers. */
  write(rel: string, body: Buffer, sha256: string): Promise<void>;
  /** Files under a prefix (relative to the mirror root). */
  list(prefix: string): Promise<string[]>;
  remove(rels: string[]): Promise<void>;
}

export type TargetFactory = (m: MirrorConfig) => MirrorTarget;
