import * as fs from "fs";
import { UserError } from "../errors";
import { parseYamlWithSchema } from "../inventory/yaml-parse";
import { PipelineFile, PipelineFileSchema } from "./schema";

/** Parses a pipeline file; throws one-line `UserError`s naming the file (with line), field and value. */
export function parsePipeline(text: string, source: string): PipelineFile {
  return { ...parseYamlWithSchema(text, source, PipelineFileSchema), source };
}

export function loadPipeline(file: string): PipelineFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new UserError(`${file}: cannot read pipeline file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parsePipeline(text, file);
}
