import { z } from "zod";
import { UserError } from "../errors";

/**
 * The build manifest as compliance reads it (contract 2: `<root>/builds/<N>/manifest.json`).
 * A local copy of the fields compliance uses, until the builds module's schema
 * (src/packages/manifest.ts) is on main; then this file re-exports that one.
 */
export const SEVERITIES = ["critical", "high", "medium", "low", "negligible", "unknown"] as const;
export type Severity = (typeof SEVERITIES)[number];

const Advisory = z.object({ id: z.string(), severity: z.enum(SEVERITIES), published: z.string() });
const Fix = { firstSeen: z.string().refine((s) => !Number.isNaN(Date.parse(s)), "must be an ISO 8601 date-time"), advisories: z.array(Advisory) };

export const BuildManifestSchema = z.object({
  schema: z.literal("smith.build-manifest/v1"),
  build: z.string().min(1),
  previous: z.string().nullable(),
  createdAt: z.string(),
  diff: z.object({
    added: z.array(z.object({ name: z.string(), version: z.string(), ...Fix })),
    upgraded: z.array(z.object({ name: z.string(), from: z.string(), to: z.string(), ...Fix })),
    removed: z.array(z.object({ name: z.string(), version: z.string() })),
  }),
});
export type BuildManifest = z.infer<typeof BuildManifestSchema>;

export function parseManifest(text: string, source: string): BuildManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${source}: not JSON (${(e as Error).message})`);
  }
  const r = BuildManifestSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new UserError(`${source}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return r.data;
}
