import { UserError } from "../../src/errors";

/** A build number as the CLI accepts it: a positive integer, written without sign or leading zeros. */
export function parseBuildFlag(value: string): string {
  if (!/^[1-9][0-9]*$/.test(value)) {
    throw new UserError(`flag --build: must be a positive integer (got ${JSON.stringify(value)})`);
  }
  return value;
}
