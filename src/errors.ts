/**
 * A mistake in something a person wrote (inventory, waves, config, CLI flags). The CLI prints
 * `message` as one line and exits non-zero, with no stack trace; anything else is a bug.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(oneLine(message));
    this.name = "UserError";
  }
}

/** One problem found while validating input: where it is and what is wrong. */
export interface Problem {
  /** The file (or "config", "flag --build", …) the value came from. */
  source: string;
  /** Dotted path to the field inside that source, e.g. `machines[3].host`. Empty for the whole source. */
  field: string;
  /** What is wrong, including the offending value. */
  reason: string;
}

export function formatProblem(p: Problem): string {
  return p.field ? `${p.source}: ${p.field}: ${p.reason}` : `${p.source}: ${p.reason}`;
}

/** How many problems an error line spells out; the rest are counted. */
export const MAX_LISTED_PROBLEMS = 10;

/**
 * All problems at once, on one line: the first, then up to MAX_LISTED_PROBLEMS - 1 more, then how
 * many were left out, so people fix a file in one pass and a 10,000-line mistake stays readable.
 */
export function problemsError(problems: Problem[]): UserError {
  const [first, ...rest] = problems.map(formatProblem);
  const shown = rest.slice(0, MAX_LISTED_PROBLEMS - 1);
  const hidden = rest.length - shown.length;
  const more = rest.length ? ` (and ${rest.length} more: ${shown.join("; ")}${hidden ? `; … ${hidden} not shown` : ""})` : "";
  return new UserError(`${first}${more}`);
}

/** Error messages are one line: newlines (from YAML excerpts, tool output) become " ⏎ ". */
export function oneLine(message: string): string {
  return message.trim().replace(/\s*\r?\n\s*/g, " ⏎ ");
}
