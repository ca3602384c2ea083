import * as fs from "fs";
import * as path from "path";
import { UserError } from "../errors";

/** The environment variable that moves the project dir of `smith rollout`/`smith approve` (`--project-dir` wins). */
export const PROJECT_DIR_ENV = "SMITH_PROJECT_DIR";

/**
 * The Pulumi project directory whose `Pulumi.<stack>.yaml` files `smith rollout` and
 * `smith approve` read and write (smith:build, smith:untilWave, smith:halted, approvals).
 * By default the checkout (the code); a runner whose code is read-only (the platform's Job, an
 * image) points it at a writable one seeded by `smith project seed` (src/platform/project.ts).
 * Precedence: `--project-dir`, then `$SMITH_PROJECT_DIR`, then the repo root. Relative paths are
 * taken from `cwd`. The directory must hold a Pulumi.yaml.
 */
export function resolveProjectDir(flag: string | undefined, env: NodeJS.ProcessEnv, repoRoot: string, cwd = process.cwd()): string {
  const [source, value] = flag !== undefined ? ["flag --project-dir", flag] : env[PROJECT_DIR_ENV] ? [`$${PROJECT_DIR_ENV}`, env[PROJECT_DIR_ENV]!] : [undefined, undefined];
  if (source === undefined) return repoRoot;
  const dir = path.resolve(cwd, value!);
  if (!value!.trim() || !fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
    throw new UserError(`${source}: must be a Pulumi project directory (no Pulumi.yaml in ${JSON.stringify(value)}; smith project seed makes one)`);
  }
  return dir;
}
