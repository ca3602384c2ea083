import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { UserError } from "../errors";
import { defaultBackendUrl, pulumiHome } from "../pulumi/env";
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

/** The backend `pulumi login` recorded in smith's PULUMI_HOME (install-pulumi.sh logs in to `.smith/state`). */
export function currentLogin(repoRoot: string): string | undefined {
  try {
    const c = JSON.parse(fs.readFileSync(path.join(pulumiHome(repoRoot), "credentials.json"), "utf8")) as { current?: unknown };
    return typeof c.current === "string" && c.current ? c.current : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where stack history comes from: the backend the CLI uses — PULUMI_BACKEND_URL, else the login
 * in smith's PULUMI_HOME, else the checkout's `.smith/state`. `file://` is read directly (it
 * keeps a checkpoint per update); any other backend through the CLI.
 */
export function historySource(repoRoot: string, projectDir: string, runner: PulumiRunner, env: NodeJS.ProcessEnv = process.env): HistorySource {
  const url = env.PULUMI_BACKEND_URL || currentLogin(repoRoot) || defaultBackendUrl(repoRoot);
  if (url.startsWith("file://")) {
    const dir = url.slice("file://".length).split("?")[0]!.replace(/^~(?=\/)/, env.HOME ?? "~");
    return new FileBackendHistory(path.resolve(projectDir, dir), projectName(projectDir));
  }
  return new CliHistory(runner, url);
}
