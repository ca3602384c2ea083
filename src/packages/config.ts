/**
 * `builds.yaml`: what `smith build`, `sync`, `verify` and `retention` work on. Validated once;
 * a bad file is one line naming the file, the field and the value. Paths are relative to the file.
 */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { Problem, problemsError, UserError } from "../errors";
import { issueField, issueReason } from "./issue";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const name = z.string().regex(NAME, { message: "must be a name (letters, digits, '.', '_', '-')" });
const nonEmpty = z.string().min(1, { message: "must not be empty" });

const httpUrl = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
    } catch {
      return false;
    }
  },
  { message: "must be an http(s) URL" },
);

/** An upstream apt repository smith mirrors with `aptly mirror` (a security or updates pocket). */
const Upstream = z
  .object({
    name,
    /** Archive root, e.g. http://deb.debian.org/debian-security. */
    url: httpUrl,
    /** Suite, e.g. bookworm-security, noble-updates. */
    distribution: z.string().regex(NAME, { message: "must be a suite name like bookworm-security" }),
    /** Components to mirror. Defaults to [main]. */
    components: z.array(name).min(1, { message: "needs at least one component" }).default(["main"]),
    /** Keyrings that verify the upstream's Release signature (apt's trusted keyrings when omitted). */
    keyrings: z.array(nonEmpty).default([]),
    /** aptly package query limiting what is mirrored (e.g. "Priority (required) | openssl"). */
    filter: z.string().optional(),
  })
  .strict();

const AdvisoryFeed = z
  .object({
    /** `smith` (YAML/JSON list), `dsa-list` (Debian security tracker data/DSA/list, data/DLA/list), `usn-json` (Ubuntu USN database JSON). */
    format: z.enum(["smith", "dsa-list", "usn-json"], { message: "must be one of smith, dsa-list, usn-json" }),
    path: nonEmpty,
    /** Only these releases' fixes (dsa-list: `bookworm`; usn-json: `noble`). All when omitted. */
    release: z.string().optional(),
    /** Severity of advisories the feed does not rate (DSA lists carry none). Defaults to unknown. */
    defaultSeverity: z.enum(["critical", "high", "medium", "low", "negligible", "unknown"]).default("unknown"),
  })
  .strict();

const DirectoryMirror = z
  .object({
    name,
    type: z.literal("directory"),
    /** Mirror root: builds land in `<path>/builds/<N>/` (serve this directory over HTTP). */
    path: nonEmpty,
  })
  .strict();

const S3Mirror = z
  .object({
    name,
    type: z.literal("s3"),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: "must be an S3 bucket name" }),
    /** Key prefix: builds land in `<prefix>builds/<N>/`. Defaults to none. */
    prefix: z.string().regex(/^([A-Za-z0-9._-]+\/)*$/, { message: "must be empty or end with '/'" }).default(""),
    region: z.string().default("us-east-1"),
    /** S3-compatible endpoint (MinIO, Ceph, moto); AWS when omitted. Credentials come from the AWS environment. */
    endpoint: httpUrl.optional(),
    /** Path-style URLs (most S3-compatible servers). Defaults to true when `endpoint` is set. */
    forcePathStyle: z.boolean().optional(),
  })
  .strict();

export const BuildsConfigSchema = z
  .object({
    aptly: z.object({ /** aptly's rootDir: database, pool, smith's lock and first-seen ledger. */ rootDir: nonEmpty }).strict(),
    /** Where `smith build` publishes `builds/<N>/`: the source `sync` copies and `verify` compares against. */
    publishDir: nonEmpty,
    signing: z
      .object({
        /** Fingerprint (or id) of the secret key that signs every build. */
        key: z.string().regex(/^(0x)?[0-9A-Fa-f]{8,40}$/, { message: "must be a key fingerprint or id (hex)" }),
        /** GNUPGHOME holding that key. Defaults to gpg's own. */
        gnupgHome: nonEmpty.optional(),
        /** Public keyring clients use (`signed-by`); `verify` checks each mirror's InRelease with it. */
        publicKeyring: nonEmpty.optional(),
      })
      .strict(),
    architectures: z.array(name).min(1, { message: "needs at least one architecture" }).default(["amd64"]),
    upstreams: z.array(Upstream).min(1, { message: "needs at least one upstream" }),
    advisories: z.array(AdvisoryFeed).default([]),
    mirrors: z.array(z.discriminatedUnion("type", [DirectoryMirror, S3Mirror], { message: "type must be directory or s3" })).default([]),
    retention: z
      .object({
        /** Keep the newest K builds. */
        keep: z.number().int().min(1, { message: "must keep at least 1 build" }),
        /** Never delete a build younger than this. Defaults to 30. */
        rolloutWindowDays: z.number().nonnegative().default(30),
        /** Stacks whose `nodes` output pins builds in use (names for `pulumi stack output -s`). */
        stacks: z.array(nonEmpty).default([]),
      })
      .strict()
      .optional(),
  })
  .strict();

export type BuildsConfigRaw = z.infer<typeof BuildsConfigSchema>;
export type UpstreamConfig = z.infer<typeof Upstream>;
export type AdvisoryFeedConfig = z.infer<typeof AdvisoryFeed>;
export type DirectoryMirrorConfig = z.infer<typeof DirectoryMirror>;
export type S3MirrorConfig = z.infer<typeof S3Mirror>;
export type MirrorConfig = DirectoryMirrorConfig | S3MirrorConfig;

/** The validated config, paths absolute, plus where it came from (for messages). */
export type BuildsConfig = BuildsConfigRaw & { file: string };

/** Validates a parsed config; `file` names it in errors and anchors relative paths. */
export function parseBuildsConfig(raw: unknown, file: string): BuildsConfig {
  const r = BuildsConfigSchema.safeParse(raw);
  const problems: Problem[] = [];
  if (!r.success) {
    for (const issue of r.error.issues) problems.push({ source: file, field: issueField(issue.path as PropertyKey[]), reason: issueReason(issue, raw) });
    throw problemsError(problems);
  }
  const c = r.data;
  const dup = (what: string, names: string[]) => {
    const seen = new Set<string>();
    names.forEach((n, i) => {
      if (seen.has(n)) problems.push({ source: file, field: `${what}[${i}].name`, reason: `duplicate name ${JSON.stringify(n)}` });
      seen.add(n);
    });
  };
  dup("upstreams", c.upstreams.map((u) => u.name));
  dup("mirrors", c.mirrors.map((m) => m.name));
  if (problems.length) throw problemsError(problems);
  const dir = path.dirname(path.resolve(file));
  const abs = (p: string) => path.resolve(dir, p);
  return {
    ...c,
    file,
    aptly: { rootDir: abs(c.aptly.rootDir) },
    publishDir: abs(c.publishDir),
    signing: {
      ...c.signing,
      gnupgHome: c.signing.gnupgHome === undefined ? undefined : abs(c.signing.gnupgHome),
      publicKeyring: c.signing.publicKeyring === undefined ? undefined : abs(c.signing.publicKeyring),
    },
    upstreams: c.upstreams.map((u) => ({ ...u, keyrings: u.keyrings.map(abs) })),
    advisories: c.advisories.map((a) => ({ ...a, path: abs(a.path) })),
    mirrors: c.mirrors.map((m) => (m.type === "directory" ? { ...m, path: abs(m.path) } : m)),
  };
}

export function loadBuildsConfig(file: string): BuildsConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new UserError(`${file}: not YAML (${(e as Error).message.split("\n")[0]})`);
  }
  return parseBuildsConfig(raw, file);
}

/** Build numbers smith makes: positive decimal integers. */
export function parseBuildNumber(v: string, source: string): number {
  if (!/^[1-9][0-9]*$/.test(v)) throw new UserError(`${source}: must be a positive integer like 3 (got ${JSON.stringify(v)})`);
  return Number(v);
}
