import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { UserError } from "../errors";
import { defaultBackendUrl } from "../pulumi/env";
import { CliHistory } from "./cli-backend";
import { FileBackendHistory } from "./file-backend";
import type { PulumiRunner } from "./pulumi-cli";
import type { HistorySource } from "./types";

/** The project name in `<projectDir>/Pulumi.yaml`. */
export function projectName(projectDir: string): string {
  const file = path.join(projectDir, "Pulumi.yaml");
  let doc: unknown;
  try {
    doc = parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new UserError(`${file}: cannot read the project (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const name = (doc as { name?: unknown } | null)?.name;
  if (typeof name !== "string" || !name) throw new UserError(`${file}: name: missing`);
  return name;
}

/**
 * Where stack history comes from: the backend in PULUMI_BACKEND_URL (else smith's default, the
 * file backend in `.smith/state`). `file://` is read directly (it keeps a checkpoint per update);
 * any other backend through the CLI.
 */
export function historySource(repoRoot: string, projectDir: string, runner: PulumiRunner, env: NodeJS.ProcessEnv = process.env): HistorySource {
  const url = env.PULUMI_BACKEND_URL || defaultBackendUrl(repoRoot);
  if (url.startsWith("file://")) {
    const dir = url.slice("file://".length).split("?")[0]!.replace(/^~(?=\/)/, env.HOME ?? "~");
    return new FileBackendHistory(path.resolve(projectDir, dir), projectName(projectDir));
  }
  return new CliHistory(runner, url);
}
