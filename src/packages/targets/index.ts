import { UserError } from "../../errors";
import type { BuildsConfig, MirrorConfig } from "../config";
import { DirectoryTarget } from "./directory";
import type { MirrorTarget } from "./target";

export type { MirrorTarget } from "./target";

/** The target for a configured mirror. The AWS SDK loads only when an S3 mirror is configured (it costs every other command a second). */
export function targetFor(m: MirrorConfig): MirrorTarget {
  if (m.type === "directory") return new DirectoryTarget(m);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { S3Target } = require("./s3") as typeof import("./s3");
  return new S3Target(m);
}

/** The configured mirrors' targets, or only those named (`--mirror`); unknown names are user errors. */
export function selectTargets(c: BuildsConfig, only: string[] = [], make: (c: BuildsConfig) => MirrorTarget[] = (cfg) => cfg.mirrors.map(targetFor)): MirrorTarget[] {
  const all = make(c);
  const unknown = only.filter((m) => !all.some((t) => t.name === m));
  if (unknown.length) throw new UserError(`flag --mirror: ${JSON.stringify(unknown[0])} is not a mirror in ${c.file} (mirrors: ${all.map((t) => t.name).join(", ") || "none"})`);
  const chosen = only.length ? all.filter((t) => only.includes(t.name)) : all;
  if (!chosen.length) throw new UserError(`${c.file}: mirrors: no mirror configured`);
  return chosen;
}
