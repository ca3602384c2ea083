import * as fs from "fs";
import { UserError } from "../errors";

/**
 * Reading a file someone named in config (inventory, wave file, known_hosts, key file). Refused
 * at once, with one line, when it is not a regular file (a device such as /dev/zero or
 * /dev/urandom, a FIFO that would block forever, a directory) or larger than `maxBytes`: stat
 * first, so nothing is read from such a file at all.
 */

/** Inventory, wave and known_hosts files larger than this are refused (10,000 machines are ~2 MB). */
export const MAX_INPUT_FILE_BYTES = 32 * 1024 * 1024;

export interface ReadLimits {
  /** What the file is, for the message: "inventory file", "wave file". */
  what: string;
  /** Defaults to MAX_INPUT_FILE_BYTES. */
  maxBytes?: number;
}

/** Why `st` may not be read, or undefined when it may. */
function refusal(st: fs.Stats, maxBytes: number): string | undefined {
  if (!st.isFile()) return `not a regular file (${kind(st)})`;
  if (st.size > maxBytes) return `too large (${st.size} bytes; at most ${maxBytes})`;
  return undefined;
}

function kind(st: fs.Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  return "not a file";
}

function failed(path: string, what: string, err: unknown): UserError {
  return new UserError(`${path}: cannot read ${what} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
}

/** Reads a text file, refusing devices, FIFOs, directories and huge files (UserError, one line). */
export function readInputFileSync(path: string, limits: ReadLimits): string {
  const max = limits.maxBytes ?? MAX_INPUT_FILE_BYTES;
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (err) {
    throw failed(path, limits.what, err);
  }
  const why = refusal(st, max);
  if (why) throw new UserError(`${path}: cannot read ${limits.what}: ${why}`);
  try {
    return fs.readFileSync(path, "utf8");
  } catch (err) {
    throw failed(path, limits.what, err);
  }
}

/** Async twin of readInputFileSync. */
export async function readInputFile(path: string, limits: ReadLimits): Promise<string> {
  const max = limits.maxBytes ?? MAX_INPUT_FILE_BYTES;
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(path);
  } catch (err) {
    throw failed(path, limits.what, err);
  }
  const why = refusal(st, max);
  if (why) throw new UserError(`${path}: cannot read ${limits.what}: ${why}`);
  try {
    return await fs.promises.readFile(path, "utf8");
  } catch (err) {
    throw failed(path, limits.what, err);
  }
}
