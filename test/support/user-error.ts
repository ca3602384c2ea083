import { expect } from "chai";
import { UserError } from "../../src/errors";

/** Runs `fn`, expects a one-line UserError, and returns its message. */
export function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(UserError);
    expect((err as Error).message).not.to.include("\n");
    return (err as Error).message;
  }
  throw new Error("expected a UserError");
}
