import { parse } from "shell-quote";

/**
 * The command lines NodePatch sends (`install … && sudo -n smith-agent patch …`) split into
 * simple commands the way a POSIX shell would, with a real shell-words parser (shell-quote),
 * never eval. Only what smith renders is accepted: words (quoted or not, `"$HOME"` expanded)
 * joined by `&&`, `||` and `;`. Anything else (pipes, redirections, subshells, globs, `$(…)`,
 * unknown variables) is refused, so a change in the components that the sim does not understand
 * fails loudly instead of being half-simulated.
 */

export type Joiner = "&&" | "||" | ";";

export interface SimpleCommand {
  argv: string[];
  /** How this command follows the previous one; `;` for the first. */
  after: Joiner;
}

export class ShellSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShellSyntaxError";
  }
}

const JOINERS = new Set<string>(["&&", "||", ";"]);

/** Splits `line` into simple commands; `env` expands `$NAME` / `"$NAME"` (others are an error). */
export function parseCommandLine(line: string, env: Record<string, string>): SimpleCommand[] {
  const unknown: string[] = [];
  const tokens = parse(line, (name: string) => {
    if (Object.prototype.hasOwnProperty.call(env, name)) return env[name];
    unknown.push(name);
    return "";
  });
  if (unknown.length) throw new ShellSyntaxError(`unsupported variable $${unknown[0]}`);
  const out: SimpleCommand[] = [];
  let argv: string[] = [];
  let after: Joiner = ";";
  for (const t of tokens) {
    if (typeof t === "string") {
      // shell-quote leaves `$` of `$(…)` and backquoted text as words; smith never sends them.
      if (t === "$" || t.includes("`")) throw new ShellSyntaxError(`unsupported word ${JSON.stringify(t)}`);
      argv.push(t);
      continue;
    }
    if ("op" in t && JOINERS.has(t.op)) {
      if (argv.length === 0) throw new ShellSyntaxError(`syntax error near ${JSON.stringify(t.op)}`);
      out.push({ argv, after });
      argv = [];
      after = t.op as Joiner;
      continue;
    }
    if ("op" in t && t.op === "glob") throw new ShellSyntaxError(`unsupported glob ${JSON.stringify(t.pattern)}`);
    if ("comment" in t) break;
    throw new ShellSyntaxError(`unsupported shell syntax ${JSON.stringify("op" in t ? t.op : t)}`);
  }
  if (argv.length) out.push({ argv, after });
  else if (out.length && after !== ";") throw new ShellSyntaxError(`syntax error: line ends with ${JSON.stringify(after)}`);
  return out;
}

/** Runs simple commands with the shell's `&&`/`||`/`;` rules; the line's status is the last run command's. */
export async function runCommandList(cmds: SimpleCommand[], exec: (argv: string[]) => Promise<number>): Promise<number> {
  let status = 0;
  for (const c of cmds) {
    if (c.after === "&&" && status !== 0) continue;
    if (c.after === "||" && status === 0) continue;
    status = await exec(c.argv);
  }
  return status;
}
