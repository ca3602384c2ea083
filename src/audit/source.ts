import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { UserError } from "../errors";
import { defaultBackendUrl, pulumiHome } from "../pulumi/env";
import { parseAzblobBackendUrl } from "./azblob-url";
import { CliHistory } from "./cli-backend";
import { parseGsBackendUrl } from "./gs-url";
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
 * What smith cannot read per update on azblob:// without a storage key, SAS token or connection
 * string (gocloud then uses Azure AD, which smith does not read), so audit falls back to the CLI
 * there: the update list and the current state only.
 */
export const AZBLOB_FALLBACK =
  "update list and current state only: smith reads an azblob:// backend's checkpoints with AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING and none is set (Azure AD logins are not read); copy the container to a directory (azcopy sync) and audit with PULUMI_BACKEND_URL=file://DIR for the full history";

/**
 * Where stack history comes from: the backend the CLI uses — PULUMI_BACKEND_URL, else the login
 * in smith's PULUMI_HOME, else the checkout's `.smith/state`. DIY backends keep a checkpoint per
 * update beside the history entry, read directly from `file://`, `s3://`, `azblob://` and `gs://`;
 * Pulumi Cloud through the CLI (`stack export --version N`); azblob:// with an Azure AD login only
 * through the CLI too, without the per-update checkpoints (AZBLOB_FALLBACK).
 */
export function historySource(repoRoot: string, projectDir: string, runner: PulumiRunner, env: NodeJS.ProcessEnv = process.env): HistorySource {
  const url = env.PULUMI_BACKEND_URL || currentLogin(repoRoot) || defaultBackendUrl(repoRoot);
  if (url.startsWith("file://")) {
    const dir = url.slice("file://".length).split("?")[0]!.replace(/^~(?=\/)/, env.HOME ?? "~");
    return new FileBackendHistory(path.resolve(projectDir, dir), projectName(projectDir));
  }
  if (url.startsWith("s3://")) {
    // The AWS SDK loads only for an s3:// backend (it costs every other command a second).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { S3BackendHistory } = require("./s3-backend") as typeof import("./s3-backend");
    return new S3BackendHistory(url, projectName(projectDir));
  }
  if (url.startsWith("azblob://")) {
    const parsed = parseAzblobBackendUrl(url, env);
    if (parsed.credential.kind === "default") return new CliHistory(runner, parsed.name, AZBLOB_FALLBACK);
    // The Azure SDK loads only for an azblob:// backend, as the AWS SDK for s3://.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { AzblobBackendHistory } = require("./azblob-backend") as typeof import("./azblob-backend");
    return new AzblobBackendHistory(parsed, projectName(projectDir));
  }
  if (url.startsWith("gs://")) {
    // @google-cloud/storage loads only for a gs:// backend.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { GsBackendHistory } = require("./gs-backend") as typeof import("./gs-backend");
    return new GsBackendHistory(parseGsBackendUrl(url, env), projectName(projectDir));
  }
  return new CliHistory(runner, url);
}
