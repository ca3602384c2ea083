/**
 * Where a build lives and how it is named (contract 1): `<root>/builds/<N>/`, distribution
 * `smith`, component `main`, Origin `smith`, Label `smith-build-<N>`; the manifest beside it.
 */
import * as fs from "fs";
import * as path from "path";

export const ORIGIN = "smith";
export const SUITE = "smith";
export const COMPONENT = "main";
export const labelFor = (n: number | string) => `smith-build-${n}`;
/** aptly snapshot of build N (what is published; never changed). */
export const snapshotFor = (n: number | string) => `build-${n}`;
/** Build N's key prefix under a mirror or publish root. */
export const buildPrefix = (n: number | string) => `builds/${n}`;
export const MANIFEST = "manifest.json";

/** Release, its detached signature and InRelease: what clients read first, so written last. */
export const RELEASE_FILES = [`dists/${SUITE}/Release.gpg`, `dists/${SUITE}/Release`, `dists/${SUITE}/InRelease`];

export function buildDir(publishDir: string, n: number | string): string {
  return path.join(publishDir, buildPrefix(n));
}

/** Build numbers published in `publishDir`, ascending (any `builds/<decimal>` directory counts). */
export function publishedBuilds(publishDir: string): number[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.join(publishDir, "builds"));
  } catch {
    return [];
  }
  return names
    .filter((n) => /^[1-9][0-9]*$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

/** Every regular file under `dir`, relative, sorted. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  walk("");
  return out.sort();
}
