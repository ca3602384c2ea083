/**
 * Where smith's Pulumi toolchain lives and the environment the `pulumi` CLI runs with: the Node
 * twin of scripts/pulumi-env.sh (keep the two in step). Tests and the CLI pass
 * `pulumiEnv(repoRoot)` to every `pulumi` child process or Automation API workspace.
 */
import * as fs from "fs";
import * as path from "path";

/**
 * Passphrase of the LOCAL LAB STACK ONLY: it encrypts the lab's throwaway SSH key in
 * `.smith/state`. Public by design; a stack that manages real machines sets its own
 * PULUMI_CONFIG_PASSPHRASE(_FILE) or another secrets provider.
 */
export const LAB_PASSPHRASE = "smith-lab-local-only";

/** `.smith/tools/bin`: the `pulumi` CLI and the plugins that live beside it. */
export function toolsBinDir(repoRoot: string): string {
  return path.join(repoRoot, ".smith", "tools", "bin");
}

/** PULUMI_HOME: installed plugins and backend credentials, kept inside the project. */
export function pulumiHome(repoRoot: string): string {
  return path.join(repoRoot, ".smith", "pulumi-home");
}

/** The default backend: the local file backend in `.smith/state`. */
export function defaultBackendUrl(repoRoot: string): string {
  return `file://${path.join(repoRoot, ".smith", "state")}`;
}

/**
 * Contract 3 (docs/pulumi.md): a stack is a lab stack iff its name is `lab` or starts with
 * `lab-`. Only lab stacks get the public lab passphrase, the checkout-local backend without an
 * opt-in, and `smith:requireHostKeys: false`.
 */
export function isLabStack(name: string | undefined): boolean {
  return name !== undefined && (name === "lab" || name.startsWith("lab-"));
}

/**
 * The environment for a `pulumi` process working on `stack`: `base` (default: this process's) plus
 * smith's offline defaults. The lab conveniences — the public lab passphrase and the
 * checkout-local file backend — are added only for a lab stack (isLabStack), and only when the
 * caller set no passphrase (file) or backend of its own. Any other stack, or no stack given, gets
 * neither: it must bring its own secrets provider and backend (the program refuses the lab
 * passphrase and, without `smith:allowLocalBackend`, the checkout-local backend for it).
 * `stack` defaults to `base.SMITH_STACK`. Returns a new object.
 */
/**
 * Resource operations one update runs at once (PULUMI_PARALLEL), unless the caller set it: the
 * most clusters one wave of a stack patches side by side (a shard of `smith:shardSize` 1000
 * machines in clusters of 5 has 200), with room for barriers and hooks. Each is an SSH session
 * waiting on a machine, not CPU.
 */
export const DEFAULT_PARALLEL = "512";

export function pulumiEnv(repoRoot: string, base: NodeJS.ProcessEnv = process.env, stack: string | undefined = base.SMITH_STACK): NodeJS.ProcessEnv {
  const bin = toolsBinDir(repoRoot);
  const pathParts = (base.PATH ?? "").split(path.delimiter).filter((p) => p !== "" && p !== bin);
  const env: NodeJS.ProcessEnv = {
    ...base,
    PATH: [bin, ...pathParts].join(path.delimiter),
    PULUMI_HOME: pulumiHome(repoRoot),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    // Offline: use the installed plugins, never try to download one.
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    // Type errors are caught once by `npm run typecheck`; ts-node only transpiles the program.
    PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    // Every cluster of a wave patches at once; Pulumi's own default (4 × cores: 8 here) would run
    // a wave's clusters in batches of 8 resource operations. `pulumi up --parallel N` still wins.
    PULUMI_PARALLEL: base.PULUMI_PARALLEL || DEFAULT_PARALLEL,
  };
  if (isLabStack(stack)) {
    if (!base.PULUMI_BACKEND_URL) env.PULUMI_BACKEND_URL = defaultBackendUrl(repoRoot);
    if (base.PULUMI_CONFIG_PASSPHRASE === undefined && !base.PULUMI_CONFIG_PASSPHRASE_FILE) env.PULUMI_CONFIG_PASSPHRASE = LAB_PASSPHRASE;
  }
  return env;
}

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Path of the installed `pulumi` CLI, or null when scripts/install-pulumi.sh has not installed it. */
export function findPulumi(repoRoot: string): string | null {
  const file = path.join(toolsBinDir(repoRoot), "pulumi");
  return executable(file) ? file : null;
}

/**
 * Path of an installed plugin's executable (e.g. `findPlugin(root, "resource", "command", "1.2.1")`):
 * bundled ones beside the CLI, others in PULUMI_HOME's plugin cache. Null when not installed.
 */
export function findPlugin(repoRoot: string, kind: "resource" | "language", name: string, version?: string): string | null {
  const file = `pulumi-${kind}-${name}`;
  const candidates = [path.join(toolsBinDir(repoRoot), file)];
  if (version !== undefined) {
    candidates.push(path.join(pulumiHome(repoRoot), "plugins", `${kind}-${name}-v${version.replace(/^v/, "")}`, file));
  }
  return candidates.find(executable) ?? null;
}

/**
 * What scripts/install-pulumi.sh recorded about the last install (one line per piece, with the
 * exact error for pieces that could not be had), or null when it has not run.
 */
export function toolchainStatus(repoRoot: string): string | null {
  try {
    return fs.readFileSync(path.join(repoRoot, ".smith", "tools", "STATUS"), "utf8").trim();
  } catch {
    return null;
  }
}
