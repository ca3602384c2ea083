/**
 * The manifest of a build, computed from what was published (pure): every package, the diff
 * against the previous build's manifest, first-seen dates and the advisories each change fixes.
 */
import type { FeedAdvisory } from "./advisories";
import type { PackageEntry } from "./deb822";
import { Advisory, BuildManifest, MANIFEST_SCHEMA, ManifestPackage } from "./manifest";
import { compareDebVersions } from "./version";

/** When smith first saw `name version` upstream (from the first-seen ledger), or undefined. */
export type FirstSeen = (name: string, version: string) => string | undefined;

export interface ManifestInput {
  build: string;
  previous: BuildManifest | null;
  createdAt: string;
  release: BuildManifest["release"];
  packages: PackageEntry[];
  advisories: FeedAdvisory[];
  firstSeen: FirstSeen;
}

/** Newest version per package name (architectures of one name share a version in practice). */
function newestByName(pkgs: { name: string; version: string }[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of pkgs) {
    const v = m.get(p.name);
    if (v === undefined || compareDebVersions(p.version, v) > 0) m.set(p.name, p.version);
  }
  return m;
}

const byId = (a: Advisory, b: Advisory) => a.published.localeCompare(b.published) || a.id.localeCompare(b.id);

export function buildManifest(i: ManifestInput): BuildManifest {
  // arch:all packages appear in every binary-<arch> index: one entry per pool file.
  const seen = new Set<string>();
  const packages: ManifestPackage[] = [];
  for (const p of i.packages) {
    if (seen.has(p.filename)) continue;
    seen.add(p.filename);
    packages.push({ name: p.name, version: p.version, architecture: p.architecture, sha256: p.sha256, size: p.size, filename: p.filename });
  }
  packages.sort((a, b) => a.name.localeCompare(b.name) || compareDebVersions(a.version, b.version) || a.architecture.localeCompare(b.architecture));

  const sourceOf = new Map(i.packages.map((p) => [p.name, p.source]));
  const fixesFor = (name: string) => {
    const names = new Set([name, sourceOf.get(name) ?? name]);
    return i.advisories.flatMap((a) => a.fixes.filter((f) => names.has(f.name)).map((f) => ({ a, f })));
  };
  /** Advisories fixed by `to` that `from` lacked; with no `from`, those fixed in exactly `to`. */
  const advisoriesFor = (name: string, from: string | null, to: string): Advisory[] => {
    const out = new Map<string, Advisory>();
    for (const { a, f } of fixesFor(name)) {
      const fixedByTo = compareDebVersions(to, f.fixed) >= 0;
      const lackedByFrom = from === null ? compareDebVersions(to, f.fixed) === 0 : compareDebVersions(from, f.fixed) < 0;
      if (fixedByTo && lackedByFrom) out.set(a.id, { id: a.id, severity: a.severity, published: a.published });
    }
    return [...out.values()].sort(byId);
  };
  /** Earliest of: smith's first sighting, and the advisories whose fix is exactly this version. */
  const firstSeenOf = (name: string, version: string): string => {
    const dates = [i.firstSeen(name, version), ...fixesFor(name).filter(({ f }) => compareDebVersions(f.fixed, version) === 0).map(({ a }) => a.published)];
    const known = dates.filter((d): d is string => !!d).sort((a, b) => Date.parse(a) - Date.parse(b));
    return known[0] ?? i.createdAt;
  };

  const now = newestByName(packages);
  const before = newestByName(i.previous?.packages ?? []);
  const diff: BuildManifest["diff"] = { added: [], upgraded: [], removed: [] };
  for (const [name, version] of [...now].sort(([a], [b]) => a.localeCompare(b))) {
    const from = before.get(name);
    if (from === undefined) diff.added.push({ name, version, firstSeen: firstSeenOf(name, version), advisories: advisoriesFor(name, null, version) });
    else if (from !== version) diff.upgraded.push({ name, from, to: version, firstSeen: firstSeenOf(name, version), advisories: advisoriesFor(name, from, version) });
  }
  for (const [name, version] of [...before].sort(([a], [b]) => a.localeCompare(b))) if (!now.has(name)) diff.removed.push({ name, version });

  return {
    schema: MANIFEST_SCHEMA,
    build: i.build,
    previous: i.previous?.build ?? null,
    createdAt: i.createdAt,
    release: i.release,
    packages,
    diff,
  };
}
