/**
 * A mistake in something a person wrote (inventory, waves, config, CLI flags). The CLI prints
 * `message` as one line and exits non-zero, with no stack trace; anything else is a bug.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
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

/** All problems at once, first on the error line, the rest after it: people fix a file in one pass. */
export function problemsError(problems: Problem[]): UserError {
  const [first, ...rest] = problems.map(formatProblem);
  const more = rest.length ? ` (and ${rest.length} more: ${rest.join("; ")})` : "";
  return new UserError(`${first}${more}`);
}
