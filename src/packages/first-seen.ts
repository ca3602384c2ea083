/**
 * The first-seen ledger: when smith first saw each `name version` upstream (an upstream index
 * says what is there, never since when). Kept beside aptly's database; only ever grows.
 */
import * as fs from "fs";
import * as path from "path";

export class FirstSeenLedger {
  private data: Record<string, string>;

  constructor(readonly file: string) {
    try {
      this.data = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>;
    } catch {
      this.data = {};
    }
  }

  get(name: string, version: string): string | undefined {
    return this.data[`${name} ${version}`];
  }

  /** Records `at` for every package not seen before; returns how many were new. */
  record(pkgs: { name: string; version: string }[], at: string): number {
    let added = 0;
    for (const p of pkgs) {
      const k = `${p.name} ${p.version}`;
      if (this.data[k]) continue;
      this.data[k] = at;
      added++;
    }
    return added;
  }

  save(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.data, Object.keys(this.data).sort(), 1) + "\n");
    fs.renameSync(tmp, this.file);
  }
}

/** `aptly mirror show -with-packages` / `snapshot show` package keys: `name_version_arch`. */
export function parseAptlyPackageList(stdout: string): { name: string; version: string; architecture: string }[] {
  const i = stdout.indexOf("Packages:");
  if (i < 0) return [];
  return stdout
    .slice(i + "Packages:".length)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^[^_\s]+_[^_\s]+_[^_\s]+$/.test(l))
    .map((l) => {
      const [name, version, architecture] = l.split("_") as [string, string, string];
      return { name, version, architecture };
    });
}
