import * as path from "path";

/** Where the lab lives. Everything is under the repo's git-ignored `.smith/lab` unless SMITH_LAB_DIR says otherwise. */
export interface LabPaths {
  repoRoot: string;
  scripts: string;
  labDir: string;
  statePath: string;
  keyPath: string;
  inventoryPath: string;
  knownHostsPath: string;
  /** `Pulumi.lab.yaml` at the repo root; null for a private lab (tests) that must not touch it. */
  pulumiConfigPath: string | null;
  machinesDir: string;
}

/**
 * The repo's lab (`.smith/lab`, or SMITH_LAB_DIR), or with `privateDir` a separate lab in that
 * directory that leaves the repo's files alone.
 */
export function labPaths(opts: { repoRoot?: string; privateDir?: string } = {}): LabPaths {
  const repoRoot = opts.repoRoot ?? path.resolve(__dirname, "..", "..");
  const labDir = opts.privateDir
    ? path.resolve(opts.privateDir)
    : process.env.SMITH_LAB_DIR
      ? path.resolve(process.env.SMITH_LAB_DIR)
      : path.join(repoRoot, ".smith", "lab");
  return {
    repoRoot,
    scripts: path.join(repoRoot, "scripts", "lab"),
    labDir,
    statePath: path.join(labDir, "lab.json"),
    keyPath: path.join(labDir, "id_ed25519"),
    inventoryPath: path.join(labDir, "inventory.yaml"),
    knownHostsPath: path.join(labDir, "known_hosts"),
    pulumiConfigPath: opts.privateDir ? null : path.join(repoRoot, "Pulumi.lab.yaml"),
    machinesDir: path.join(labDir, "machines"),
  };
}

/** Repo-relative form for files other tools read from the repo root (Pulumi config). */
export function repoRelative(p: LabPaths, file: string): string {
  const rel = path.relative(p.repoRoot, file);
  return rel.startsWith("..") ? file : rel;
}
