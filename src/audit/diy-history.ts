import * as zlib from "zlib";
import { UserError } from "../errors";
import { pool } from "../shard/lockstep";
import { checkpointResources, HistoryJson, updateFromHistory } from "./checkpoint";
import type { HistorySource, StackRecord, StackUpdate } from "./types";

/** One object of a DIY backend: its key under the backend's root (`/`-separated) and when it was written. */
export interface StoredObject {
  key: string;
  modified: Date | null;
}

/**
 * A DIY backend's storage as objects under the backend URL's root: the file backend's directory
 * and an S3 bucket's prefix hold the same layout, so one reader (DiyHistory) serves both and each
 * backend is a small adapter. Adapters throw UserError (one line naming the backend) on failure.
 */
export interface ObjectStore {
  /** The backend as the user named it (`file:///srv/state`, `s3://bucket/prefix`), for messages. */
  describe(): string;
  /** The objects directly in `dir` (not deeper); [] when there are none or `dir` does not exist. */
  list(dir: string): Promise<StoredObject[]>;
  /** One object's bytes. */
  read(key: string): Promise<Buffer>;
  /** Where an object is, for messages (a path, an `s3://` URL). */
  where(key: string): string;
}

/** Runs one request of an ObjectStore adapter; any failure becomes one line: `backend <backend>: <what>: <problem(e)>`. */
export async function storeRequest<T>(backend: string, what: string, request: () => Promise<T>, problem: (e: unknown) => string): Promise<T> {
  try {
    return await request();
  } catch (e) {
    throw new UserError(`backend ${backend}: ${what}: ${problem(e)}`);
  }
}

/** How Pulumi may have compressed a DIY file (PULUMI_DIY_BACKEND_GZIP / _ZSTD): any of these is read. */
const JSON_FILE = /\.json(\.gz|\.zst)?$/;
const HISTORY_FILE = /\.history\.json(\.gz|\.zst)?$/;
/** Checkpoints of one update are read at once, at most this many (S3: one request each). */
const READ_CONCURRENCY = 8;

/**
 * The state history of a Pulumi DIY backend, read from its files: `pulumi stack history` there
 * lists entries without version numbers and `pulumi stack export --version` is refused ("does not
 * provide the ability to export previous deployments", CLI 3.248), but the backend copies the
 * checkpoint beside every history entry. Layout (pkg/backend/diy, project-scoped and the older
 * flat one), the same in a directory and under a bucket's prefix:
 *   .pulumi/stacks/<project>/<stack>.json[.gz|.zst]
 *   .pulumi/history/<project>/<stack>/<stack>-<unix-nanos>.{history,checkpoint}.json[.gz|.zst]
 */
export class DiyHistory implements HistorySource {
  constructor(
    private readonly store: ObjectStore,
    private readonly project: string,
  ) {}

  describe(): string {
    return this.store.describe();
  }

  /** Stack names of this project, for the "no such stack" message. */
  async stacks(): Promise<string[]> {
    const files = await this.store.list(`.pulumi/stacks/${this.project}`);
    return [...new Set(files.map((f) => basename(f.key)).filter((n) => JSON_FILE.test(n)).map((n) => n.replace(JSON_FILE, "")))].sort();
  }

  /** The stack's current checkpoint: the most recently written of its variants, as the CLI picks it. */
  private async stackFile(stack: string): Promise<string | null> {
    for (const dir of [`.pulumi/stacks/${this.project}`, ".pulumi/stacks"]) {
      const found = (await this.store.list(dir)).filter((f) => [".json", ".json.gz", ".json.zst"].some((e) => basename(f.key) === stack + e));
      found.sort((a, b) => (b.modified?.getTime() ?? 0) - (a.modified?.getTime() ?? 0));
      if (found.length) return found[0]!.key;
    }
    return null;
  }

  async read(stack: string): Promise<StackRecord> {
    const file = await this.stackFile(stack);
    if (!file) {
      const known = await this.stacks();
      throw new UserError(`--stack ${stack}: no such stack of project ${this.project} in ${this.describe()} (stacks: ${known.length ? known.join(", ") : "none"})`);
    }
    const current = checkpointResources(await this.readJson(file)) ?? [];
    let files: StoredObject[] = [];
    for (const dir of [`.pulumi/history/${this.project}/${stack}`, `.pulumi/history/${stack}`]) {
      files = await this.store.list(dir);
      if (files.length) break;
    }
    const checkpoints = new Map(files.filter((f) => /\.checkpoint\.json(\.gz|\.zst)?$/.test(f.key)).map((f) => [f.key.replace(/\.checkpoint\.json(\.gz|\.zst)?$/, ""), f.key]));
    const entries = files.filter((f) => HISTORY_FILE.test(f.key));
    const updates: StackUpdate[] = await pool(entries, READ_CONCURRENCY, async (f) => {
      const base = f.key.replace(HISTORY_FILE, "");
      const h = (await this.readJson(f.key)) as HistoryJson;
      const cp = checkpoints.get(base);
      return updateFromHistory(stack, basename(base), h, cp ? checkpointResources(await this.readJson(cp)) : null);
    });
    // File names carry the start time in nanoseconds; sort on it, not on the text.
    updates.sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime) || (a.id < b.id ? -1 : 1));
    const lockedBy = await this.lockHolder(stack);
    return { stack, source: this.describe(), updates, current, ...(lockedBy ? { lockedBy } : {}) };
  }

  /**
   * The stack's lock files (`.pulumi/locks/organization/<project>/<stack>/<uuid>.json`, flat
   * layout `.pulumi/locks/<stack>/`): `{pid, username, hostname, timestamp}` of the CLI that
   * holds it. Unreadable lock files are skipped: they only add who, never what.
   */
  private async lockHolder(stack: string): Promise<string | undefined> {
    const holders: string[] = [];
    for (const dir of [`.pulumi/locks/organization/${this.project}/${stack}`, `.pulumi/locks/${stack}`]) {
      for (const f of (await this.store.list(dir)).filter((o) => o.key.endsWith(".json"))) {
        try {
          const l = JSON.parse(decode(await this.store.read(f.key), this.store.where(f.key))) as { username?: unknown; hostname?: unknown; pid?: unknown; timestamp?: unknown };
          if (typeof l.username !== "string") continue;
          const since = typeof l.timestamp === "string" && !Number.isNaN(Date.parse(l.timestamp)) ? `, since ${new Date(Date.parse(l.timestamp)).toISOString()}` : "";
          holders.push(`${l.username}@${String(l.hostname ?? "?")} (lock of an unfinished update, pid ${String(l.pid ?? "?")}${since})`);
        } catch {
          continue;
        }
      }
    }
    return holders.length ? holders.join("; ") : undefined;
  }

  private async readJson(key: string): Promise<unknown> {
    const text = decode(await this.store.read(key), this.store.where(key));
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new UserError(`${this.store.where(key)}: not valid JSON (${(e as Error).message})`);
    }
  }
}

/** Bytes as Pulumi wrote them → text; compression detected from the content, as the CLI does. */
export function decode(raw: Buffer, where: string): string {
  try {
    if (raw[0] === 0x1f && raw[1] === 0x8b) return zlib.gunzipSync(raw).toString("utf8");
    if (raw.length >= 4 && raw.readUInt32LE(0) === 0xfd2fb528) {
      // Node 20 has no zstd; fzstd (pure JS, no dependencies) loads only for zstd files.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { decompress } = require("fzstd") as typeof import("fzstd");
      return Buffer.from(decompress(raw)).toString("utf8");
    }
  } catch (e) {
    throw new UserError(`${where}: cannot decompress (${(e as Error).message})`);
  }
  return raw.toString("utf8");
}

function basename(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}
