import * as path from "path";
import { UserError } from "../errors";

/** The environment variable that moves `smith rollout`'s journal (`--state-dir` wins over it). */
export const STATE_DIR_ENV = "SMITH_PIPELINE_STATE_DIR";

/**
 * Where `smith rollout` keeps what the stacks do not record: per pipeline its journal (retry
 * counts, incidents sent, the change request's id), the rollout lock and the change records,
 * under `<dir>/<pipeline>/`. A resumed run must see the same directory, so a runner without a
 * lasting checkout (the platform's Kubernetes Job) points it at a persistent volume.
 * Precedence: `--state-dir`, then `$SMITH_PIPELINE_STATE_DIR`, then `<repo>/.smith/pipeline`.
 * Relative paths are taken from `cwd`.
 */
export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv, repoRoot: string, cwd = process.cwd()): string {
  if (flag !== undefined) {
    if (!flag.trim()) throw new UserError(`flag --state-dir: must be a directory (got ${JSON.stringify(flag)})`);
    return path.resolve(cwd, flag);
  }
  const fromEnv = env[STATE_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return path.resolve(cwd, fromEnv);
  return path.join(repoRoot, ".smith", "pipeline");
}
