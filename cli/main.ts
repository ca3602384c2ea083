import { Command, CommanderError } from "commander";
import { UserError } from "../src/errors";
import { commandsFor } from "./commands";

/**
 * Entry point of the `smith` CLI. Returns the process exit code instead of exiting so tests can
 * call it in-process. User errors print one line; anything else is a bug and keeps its stack.
 */
export async function main(argv: string[]): Promise<number> {
  const program = new Command("smith")
    .description("Fleet OS patching: plan, lab and reports.")
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const register of commandsFor(argv)) register(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its one-line message (unknown option, missing argument, …).
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UserError) {
      process.stderr.write(`smith: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
