/**
 * The two apt files smith reads: Packages indexes (deb822 paragraphs) and Release files (fields
 * plus the SHA256 list of every index). Plain text formats; no library needed.
 */

/** Paragraphs of a deb822 file; continuation lines are joined with "\n". */
export function parseDeb822(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  let cur: Record<string, string> = {};
  let last: string | null = null;
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      if (Object.keys(cur).length) out.push(cur);
      cur = {};
      last = null;
      continue;
    }
    if ((line.startsWith(" ") || line.startsWith("\t")) && last) {
      cur[last] += `\n${line.slice(1)}`;
      continue;
    }
    const i = line.indexOf(":");
    if (i <= 0) continue;
    last = line.slice(0, i);
    cur[last] = line.slice(i + 1).trim();
  }
  if (Object.keys(cur).length) out.push(cur);
  return out;
}

export interface IndexEntry {
  path: string;
  size: number;
  sha256: string;
}

export interface Release {
  fields: Record<string, string>;
  /** The SHA256 section: every index the Release vouches for, relative to `dists/<suite>/`. */
  sha256: IndexEntry[];
}

/** Parses a Release file, or the signed text of an InRelease (the armour is skipped). */
export function parseRelease(text: string): Release {
  const body = text.includes("-----BEGIN PGP SIGNED MESSAGE-----") ? text.split(/\n\n/).slice(1).join("\n\n").split("-----BEGIN PGP SIGNATURE-----")[0]! : text;
  const [fields = {}] = parseDeb822(body);
  const sha256: IndexEntry[] = [];
  for (const line of (fields.SHA256 ?? "").split("\n")) {
    const [hash, size, p] = line.trim().split(/\s+/);
    if (hash && size && p && /^[0-9a-f]{64}$/.test(hash)) sha256.push({ path: p, size: Number(size), sha256: hash });
  }
  return { fields, sha256 };
}

export interface PackageEntry {
  name: string;
  version: string;
  architecture: string;
  /** Source package name (the `Source:` field without its version, else the package name). */
  source: string;
  sha256: string;
  size: number;
  filename: string;
}

export function parsePackages(text: string): PackageEntry[] {
  return parseDeb822(text)
    .filter((p) => p.Package && p.Version)
    .map((p) => ({
      name: p.Package!,
      version: p.Version!,
      architecture: p.Architecture ?? "all",
      source: (p.Source ?? p.Package!).split(" ")[0]!,
      sha256: p.SHA256 ?? "",
      size: Number(p.Size ?? 0),
      filename: p.Filename ?? "",
    }));
}
