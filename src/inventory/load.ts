import { UserError, problemsError, Problem } from "../errors";
import { InventoryFileSchema, Machine } from "./schema";
import { parseYamlWithSchema } from "./yaml-parse";
import { readInputFile } from "./read-file";

/**
 * Parses one inventory file. Throws `UserError` naming the file (with line), the field
 * (`machines[3].host`) and the offending value for malformed YAML, unknown keys, missing or
 * unsafe fields, and machine names repeated within the file.
 */
export function parseInventory(text: string, source: string): Machine[] {
  const file = parseYamlWithSchema(text, source, InventoryFileSchema);
  checkUniqueNames(file.machines.map((m, i) => ({ machine: m, source, index: i })));
  return file.machines;
}

/** Reads and merges inventory files, fresh on every call. Names must be unique across all files. */
export async function loadInventory(paths: string[]): Promise<Machine[]> {
  if (paths.length === 0) throw new UserError("inventory: no inventory file given");
  const entries: Located[] = [];
  for (const path of paths) {
    const text = await readText(path);
    parseInventory(text, path).forEach((machine, index) => entries.push({ machine, source: path, index }));
  }
  checkUniqueNames(entries);
  return entries.map((e) => e.machine);
}

interface Located {
  machine: Machine;
  source: string;
  index: number;
}

function checkUniqueNames(entries: Located[]): void {
  const seen = new Map<string, Located>();
  const problems: Problem[] = [];
  for (const e of entries) {
    const first = seen.get(e.machine.name);
    if (first) {
      const where = first.source === e.source ? `machines[${first.index}]` : `${first.source} machines[${first.index}]`;
      problems.push({
        source: e.source,
        field: `machines[${e.index}].name`,
        reason: `duplicate machine name ${JSON.stringify(e.machine.name)} (already used by ${where})`,
      });
    } else {
      seen.set(e.machine.name, e);
    }
  }
  if (problems.length) throw problemsError(problems);
}

function readText(path: string): Promise<string> {
  return readInputFile(path, { what: "inventory file" });
}
