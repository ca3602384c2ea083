import * as fs from "fs";
import { UserError } from "../errors";
import { parseYamlWithSchema } from "../inventory/yaml-parse";
import { WaveFile, WaveFileSchema } from "./schema";

/** Parses a wave file; throws `UserError` naming the file (with line), field and value. */
export function parseWaves(text: string, source: string): WaveFile {
  return { ...parseYamlWithSchema(text, source, WaveFileSchema), source };
}

/** Reads and parses a wave file, fresh on every call. */
export function loadWaves(path: string): WaveFile {
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (err) {
    throw new UserError(`${path}: cannot read wave file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parseWaves(text, path);
}
