import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { UserError } from "../errors";

/**
 * A writable Pulumi project directory for code that lives read-only elsewhere (the smith image's
 * /opt/smith): the platform's rollout Job runs `smith rollout --project-dir` on its volume,
 * because `smith rollout` and `smith approve` write stack config (`pulumi config set`:
 * smith:build, smith:untilWave, smith:halted, smith:approvals) into `Pulumi.<stack>.yaml` of
 * the project dir, and that must outlive the pod.
 *
 * - `Pulumi.yaml` is rewritten every time from the code's, with `main:` pointing at the code
 *   (the program follows the image);
 * - each `Pulumi.<stack>.yaml` of the code is copied only when absent (what earlier runs and
 *   approvals wrote persists; a stack added to the image appears);
 * - every other visible top-level entry (inventories, wave files, …) is a symlink to the code's,
 *   refreshed every time, so the data follows the image; a real file or directory of that name
 *   in the project dir is left alone (an operator's override). `node_modules` and dot entries
 *   are skipped: nothing reads them relative to the project.
 */
export interface SeedResult {
  written: string[];
  copied: string[];
  kept: string[];
  linked: string[];
}

const STACK_FILE = /^Pulumi\.[^/]+\.ya?ml$/;
const SKIP = new Set(["node_modules", "Pulumi.yaml"]);

export function seedProject(from: string, to: string): SeedResult {
  const code = path.resolve(from);
  const project = path.resolve(to);
  const projectFile = path.join(code, "Pulumi.yaml");
  if (!fs.existsSync(projectFile)) throw new UserError(`flag --from: ${code} has no Pulumi.yaml (got ${JSON.stringify(from)})`);
  if (project === code) throw new UserError(`flag --to: must differ from --from (got ${JSON.stringify(to)})`);
  fs.mkdirSync(project, { recursive: true });
  const r: SeedResult = { written: [], copied: [], kept: [], linked: [] };

  const doc = (parse(fs.readFileSync(projectFile, "utf8")) ?? {}) as Record<string, unknown>;
  writeAtomic(path.join(project, "Pulumi.yaml"), `# Written by \`smith project seed\` from ${projectFile}: the program is the code's.\n${stringify({ ...doc, main: code })}`);
  r.written.push("Pulumi.yaml");

  for (const entry of fs.readdirSync(code).sort()) {
    if (SKIP.has(entry) || entry.startsWith(".")) continue;
    const target = path.join(project, entry);
    const existing = lstat(target);
    if (STACK_FILE.test(entry)) {
      if (existing) {
        r.kept.push(entry);
      } else {
        fs.copyFileSync(path.join(code, entry), target, fs.constants.COPYFILE_EXCL);
        r.copied.push(entry);
      }
      continue;
    }
    if (existing && !existing.isSymbolicLink()) continue;
    if (existing) fs.rmSync(target);
    fs.symlinkSync(path.join(code, entry), target);
    r.linked.push(entry);
  }
  return r;
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
