/**
 * What keeps the lab's conveniences off real stacks (issue 7 §1, contract 3). The program calls
 * `stackSafetyProblems` first thing, before it reads an inventory or dials a machine, and
 * refuses with one line when anything is found. Pure apart from reading small local files
 * (a passphrase file, the CLI's credentials, the stack's settings file), all injectable.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Problem } from "../errors";
import { isLabStack, LAB_PASSPHRASE } from "./env";

export interface StackSafetyInput {
  /** The stack being deployed (`pulumi.getStack()`). */
  stack: string;
  /** The project directory: a file backend inside it is "checkout-local". */
  projectDir: string;
  /** The environment the CLI gave the program (it passes its own on to the language host). */
  env: NodeJS.ProcessEnv;
  /** `smith:allowLocalBackend`. */
  allowLocalBackend: boolean;
  /** `smith:requireHostKeys`. */
  requireHostKeys: boolean;
  /** Reads a small text file, undefined when it cannot. Defaults to fs (first 64 KiB). */
  readFile?: (file: string) => string | undefined;
}

/** Every reason this stack must not run, as `config` problems; empty for a lab stack. */
export function stackSafetyProblems(i: StackSafetyInput): Problem[] {
  if (isLabStack(i.stack)) return [];
  const read = i.readFile ?? readSmall;
  const problems: Problem[] = [];
  const add = (field: string, reason: string) => problems.push({ source: `stack ${i.stack}`, field, reason });

  const passphrase = passphraseSource(i.env, read);
  if (passphrase && usesPassphrase(i.projectDir, i.stack, read)) {
    add(
      "secrets",
      `the secrets passphrase is the public lab passphrase (${passphrase}); only lab stacks (lab, lab-*) may use it: ` +
        `set PULUMI_CONFIG_PASSPHRASE_FILE to your own passphrase or use a KMS secrets provider ` +
        `(pulumi stack change-secrets-provider), then set smith:sshPrivateKey again`,
    );
  }
  const backend = backendUrl(i.env, read);
  if (backend && !i.allowLocalBackend && isCheckoutLocal(backend, i.projectDir)) {
    add(
      "backend",
      `the state backend ${backend} is inside this checkout: two checkouts would each lock and write their own copy of the stack; ` +
        `set PULUMI_BACKEND_URL to the shared backend (s3://, gs://, azblob://, file:// on a shared path), or smith:allowLocalBackend: "true"`,
    );
  }
  if (!i.requireHostKeys) add("smith:requireHostKeys", "false is allowed only on lab stacks (lab, lab-*): real machines are always verified by host key");
  return problems;
}

/** Which variable carries the lab passphrase, or undefined when none does. */
function passphraseSource(env: NodeJS.ProcessEnv, read: (f: string) => string | undefined): string | undefined {
  if (env.PULUMI_CONFIG_PASSPHRASE === LAB_PASSPHRASE) return "PULUMI_CONFIG_PASSPHRASE";
  const file = env.PULUMI_CONFIG_PASSPHRASE_FILE;
  if (env.PULUMI_CONFIG_PASSPHRASE === undefined && file) {
    const text = read(file);
    if (text !== undefined && text.replace(/\r?\n$/, "") === LAB_PASSPHRASE) return `PULUMI_CONFIG_PASSPHRASE_FILE ${file}`;
  }
  return undefined;
}

/**
 * Whether the stack's secrets use a passphrase at all: a stack created with a KMS (or service)
 * secrets provider names it as `secretsprovider:` in its settings file, and then a passphrase
 * left in the environment is not used.
 */
function usesPassphrase(projectDir: string, stack: string, read: (f: string) => string | undefined): boolean {
  const text = read(path.join(projectDir, `Pulumi.${stack}.yaml`));
  const m = text === undefined ? null : /^secretsprovider:\s*["']?([^"'\s#]+)/m.exec(text);
  return m === null || m[1] === "passphrase";
}

/** The backend the CLI uses: PULUMI_BACKEND_URL, else the one `pulumi login` recorded. */
export function backendUrl(env: NodeJS.ProcessEnv, read: (f: string) => string | undefined = readSmall): string | undefined {
  if (env.PULUMI_BACKEND_URL) return env.PULUMI_BACKEND_URL;
  const home = env.PULUMI_HOME || path.join(env.HOME || os.homedir(), ".pulumi");
  const text = read(path.join(home, "credentials.json"));
  if (text === undefined) return undefined;
  try {
    const current = (JSON.parse(text) as { current?: unknown }).current;
    return typeof current === "string" && current !== "" ? current : undefined;
  } catch {
    return undefined;
  }
}

/** A `file://` backend whose directory is the project dir or below it. */
export function isCheckoutLocal(url: string, projectDir: string): boolean {
  if (!url.startsWith("file://")) return false;
  let dir = decodeURIComponent(url.slice("file://".length).replace(/\?.*$/, ""));
  if (dir === "~" || dir.startsWith("~/")) dir = path.join(os.homedir(), dir.slice(1));
  const rel = path.relative(real(projectDir), real(path.resolve(projectDir, dir)));
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** realpath of the longest existing prefix of `p`, the rest appended (a backend dir may not exist yet). */
function real(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(real(parent), path.basename(abs));
  }
}

function readSmall(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, "r");
    if (!fs.fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString("utf8");
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
