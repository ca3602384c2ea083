import { readInputFileSync } from "../inventory/read-file";
import { parseYamlWithSchema } from "../inventory/yaml-parse";
import { WaveFile, WaveFileSchema } from "./schema";

/** Parses a wave file; throws `UserError` naming the file (with line), field and value. */
export function parseWaves(text: string, source: string): WaveFile {
  return { ...parseYamlWithSchema(text, source, WaveFileSchema), source };
}

/** Reads and parses a wave file, fresh on every call. */
export function loadWaves(path: string): WaveFile {
  return parseWaves(readInputFileSync(path, { what: "wave file" }), path);
}
