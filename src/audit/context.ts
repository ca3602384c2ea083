import * as path from "path";
import { UserError } from "../errors";
import { cliRunner, PulumiRunner } from "./pulumi-cli";
import { historySource } from "./source";
import type { HistorySource, StackRecord } from "./types";

/** What the report commands share: the project, the `pulumi` CLI and the history source. */
export interface ReportContext {
  repoRoot: string;
  projectDir: string;
  runner: PulumiRunner;
  history: HistorySource;
}

export function defaultContext(env: NodeJS.ProcessEnv = process.env): ReportContext {
  const repoRoot = path.resolve(__dirname, "..", "..");
  const runner = cliRunner(repoRoot);
  const history = historySource(repoRoot, repoRoot, runner, env);
  // Reports still run on a partial record (the current state is useful), but never silently.
  if (history.limitation) process.stderr.write(`smith: warning: ${history.describe().split(" ")[0]}: ${history.limitation}\n`);
  return { repoRoot, projectDir: repoRoot, runner, history };
}

/** Every stack's record, in the order given; a stack named twice is read once. */
export async function readRecords(history: HistorySource, stacks: readonly string[]): Promise<StackRecord[]> {
  const out: StackRecord[] = [];
  for (const s of [...new Set(stacks)]) out.push(await history.read(s));
  return out;
}

/** `--since`/`--until`/`--now`: any date `Date.parse` reads (ISO 8601 recommended). */
export function parseDateFlag(flag: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UserError(`flag ${flag}: not a date, use ISO 8601 like 2026-12-01 or 2026-12-01T12:00:00Z (got ${JSON.stringify(value)})`);
  return new Date(ms);
}

/** A stack name as Pulumi accepts it, checked before any process runs. */
export function parseStackFlag(value: string, prev: string[] = []): string[] {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(value)) throw new UserError(`flag --stack: not a stack name (got ${JSON.stringify(value)})`);
  return [...prev, value];
}
