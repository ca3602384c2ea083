import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { UserError } from "../errors";
import { BuildManifest, parseManifest } from "./manifest";

/** Where build manifests are published: `<base>/<N>/manifest.json`. */
export interface ManifestSource {
  describe(): string;
  /** Every manifest from build `from` up to the newest published; missing ones are left out. */
  load(from: number, known: readonly number[]): Promise<Map<number, BuildManifest>>;
}

/** A builds directory (`<root>/builds`, as published or synced to a mirror directory). */
export class DirManifests implements ManifestSource {
  constructor(private readonly dir: string) {}
  describe(): string {
    return this.dir;
  }
  async load(from: number): Promise<Map<number, BuildManifest>> {
    if (!fs.existsSync(this.dir)) throw new UserError(`--manifests ${this.dir}: no such directory`);
    const out = new Map<number, BuildManifest>();
    for (const e of fs.readdirSync(this.dir)) {
      if (!/^[1-9][0-9]*$/.test(e) || Number(e) < from) continue;
      const file = path.join(this.dir, e, "manifest.json");
      if (fs.existsSync(file)) out.set(Number(e), checked(parseManifest(fs.readFileSync(file, "utf8"), file), Number(e), file));
    }
    return out;
  }
}

/**
 * A builds URL (`<repoUrl>/builds`). HTTP has no listing, so builds are probed upward from the
 * lowest one asked for until the first missing one above every build a machine or stack names.
 */
export class UrlManifests implements ManifestSource {
  constructor(
    private readonly base: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}
  describe(): string {
    return this.base;
  }
  async load(from: number, known: readonly number[]): Promise<Map<number, BuildManifest>> {
    const out = new Map<number, BuildManifest>();
    const top = Math.max(from, ...known);
    for (let n = Math.max(1, from); n < from + 10_000; n++) {
      const url = `${this.base.replace(/\/+$/, "")}/${n}/manifest.json`;
      let res: Response;
      try {
        res = await this.fetchImpl(url, { signal: AbortSignal.timeout(30_000) });
      } catch (e) {
        throw new UserError(`--manifests ${url}: ${(e as Error).message}`);
      }
      if (res.status === 404) {
        if (n > top) break;
        continue;
      }
      if (!res.ok) throw new UserError(`--manifests ${url}: HTTP ${res.status}`);
      out.set(n, checked(parseManifest(await res.text(), url), n, url));
    }
    return out;
  }
}

function checked(m: BuildManifest, n: number, source: string): BuildManifest {
  if (m.build !== String(n)) throw new UserError(`${source}: build: says ${JSON.stringify(m.build)}, published as build ${n}`);
  return m;
}

/**
 * A builds config (`smith build --config FILE`, docs/packages.md): its `publishDir` (relative to
 * the file) holds `builds/<N>/manifest.json`, the source every mirror is synced from.
 */
export function buildsConfigManifests(file: string): DirManifests {
  let doc: unknown;
  try {
    doc = parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new UserError(`--manifests ${file}: cannot read the builds config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const publishDir = (doc as { publishDir?: unknown } | null)?.publishDir;
  if (typeof publishDir !== "string" || !publishDir) throw new UserError(`--manifests ${file}: publishDir: missing (a builds config names where builds are published)`);
  return new DirManifests(path.join(path.resolve(path.dirname(file), publishDir), "builds"));
}

/** `DIR`, a builds config (`*.yaml`), or `http(s)://URL` → a source. */
export function manifestSource(spec: string): ManifestSource {
  if (/^https?:\/\//.test(spec)) return new UrlManifests(spec);
  if (/\.ya?ml$/.test(spec)) return buildsConfigManifests(spec);
  return new DirManifests(path.resolve(spec));
}
