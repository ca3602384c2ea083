/**
 * The build manifest (contract 2): `<root>/builds/<N>/manifest.json`, written by `smith build`,
 * synced with the build, read by compliance. This zod schema is the single source of its type.
 */
import { z } from "zod";
import { UserError } from "../errors";
import { issueLine } from "./issue";

export const MANIFEST_SCHEMA = "smith.build-manifest/v1";

export const SEVERITIES = ["critical", "high", "medium", "low", "negligible", "unknown"] as const;
export const Severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof Severity>;

/** ISO 8601 date-time with a zone (`2026-11-20T00:00:00Z`). */
const IsoDateTime = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)), {
  message: "must be an ISO 8601 date-time with a zone, e.g. 2026-11-20T00:00:00Z",
});
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");
/** Build numbers are tokens (the agent's `--build` rule); smith makes them decimal. */
const BuildId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be a build token like 3");

export const Advisory = z.object({
  /** `DSA-5800-1`, `DLA-3900-1`, `USN-7000-1`, or a lab id. */
  id: z.string().min(1),
  severity: Severity,
  published: IsoDateTime,
});
export type Advisory = z.infer<typeof Advisory>;

export const ManifestPackage = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  architecture: z.string().min(1),
  sha256: Sha256,
  size: z.number().int().nonnegative(),
  /** Path under the build root, as in the Packages index. */
  filename: z.string().min(1),
});
export type ManifestPackage = z.infer<typeof ManifestPackage>;

export const AddedPackage = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  /** When this version first appeared upstream. */
  firstSeen: IsoDateTime,
  advisories: z.array(Advisory),
});
export type AddedPackage = z.infer<typeof AddedPackage>;

export const UpgradedPackage = z.object({
  name: z.string().min(1),
  from: z.string().min(1),
  to: z.string().min(1),
  /** When version `to` first appeared upstream. */
  firstSeen: IsoDateTime,
  /** Advisories fixed by `to` that `from` did not already fix. */
  advisories: z.array(Advisory),
});
export type UpgradedPackage = z.infer<typeof UpgradedPackage>;

export const RemovedPackage = z.object({ name: z.string().min(1), version: z.string().min(1) });
export type RemovedPackage = z.infer<typeof RemovedPackage>;

export const BuildManifest = z.object({
  schema: z.literal(MANIFEST_SCHEMA),
  build: BuildId,
  /** The build this one is diffed against; null for the first build. */
  previous: BuildId.nullable(),
  createdAt: IsoDateTime,
  release: z.object({
    origin: z.string().min(1),
    label: z.string().min(1),
    suite: z.string().min(1),
    /** sha256 of `dists/<suite>/Release` as published. */
    releaseSha256: Sha256,
  }),
  packages: z.array(ManifestPackage),
  diff: z.object({
    added: z.array(AddedPackage),
    upgraded: z.array(UpgradedPackage),
    removed: z.array(RemovedPackage),
  }),
});
export type BuildManifest = z.infer<typeof BuildManifest>;

/** Parses a manifest's JSON text; a bad one is a one-line error naming the source, field and value. */
export function parseManifest(text: string, source: string): BuildManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(`${source}: not JSON (${(e as Error).message})`);
  }
  const r = BuildManifest.safeParse(raw);
  if (!r.success) throw new ManifestError(issueLine(source, r.error.issues[0]!, raw));
  return r.data;
}

/** A manifest that does not parse: a UserError, so the CLI prints it as one line. */
export class ManifestError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}
