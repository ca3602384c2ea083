
/**
 * The command lines NodePatch sends (`sh -c PRELUDE … && sudo -n smith-agent patch …`) split
 * into simple commands the way a POSIX shell does (XCU 2.2 quoting, 2.6.2 parameters), never
 * eval. Only what smith renders is accepted: words (unquoted, '…', "…", backslash escapes,
 * `$NAME`/`${NAME}` from `env`) joined by `&&`, `||`, `;` or newlines. Anything else (pipes,
 * redirections, subshells, globs, `$(…)`, backquotes, unknown variables) is refused, so a change
 * in the components that the sim does not understand fails loudly instead of being
 * half-simulated. Hand-written on purpose: shell-quote (the usual npm parser) treats a backslash
 * inside single quotes as an escape, which mis-splits the agent prelude's `'\''"\\'\''`.
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

type Token = { word: string } | { op: Joiner };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** `$NAME` or `${NAME}` at `line[i]` (the `$`); returns the value and the index after it. */
function parameter(line: string, i: number, env: Record<string, string>): [string, number] {
  let name: string | undefined;
  let end: number;
  if (line[i + 1] === "{") {
    const close = line.indexOf("}", i + 2);
    name = close > 0 ? line.slice(i + 2, close) : undefined;
    if (!name || !NAME.test(name) || NAME.exec(name)![0] !== name) throw new ShellSyntaxError(`unsupported parameter expansion ${JSON.stringify(line.slice(i, close + 1 || undefined))}`);
    end = close + 1;
  } else {
    name = NAME.exec(line.slice(i + 1))?.[0];
    if (!name) throw new ShellSyntaxError(`unsupported ${JSON.stringify(line.slice(i, i + 2))} (command substitution or special parameter)`);
    end = i + 1 + name.length;
  }
  if (!Object.prototype.hasOwnProperty.call(env, name)) throw new ShellSyntaxError(`unsupported variable $${name}`);
  return [env[name]!, end];
}

function tokenize(line: string, env: Record<string, string>): Token[] {
  const out: Token[] = [];
  let word: string | null = null;
  const flush = () => {
    if (word !== null) out.push({ word });
    word = null;
  };
  for (let i = 0; i < line.length; ) {
    const c = line[i]!;
    if (c === " " || c === "\t") {
      flush();
      i++;
    } else if (c === "\n" || c === ";") {
      flush();
      out.push({ op: ";" });
      i++;
    } else if ((c === "&" || c === "|") && line[i + 1] === c) {
      flush();
      out.push({ op: c === "&" ? "&&" : "||" });
      i += 2;
    } else if ("|&<>()`".includes(c)) {
      throw new ShellSyntaxError(`unsupported shell syntax ${JSON.stringify(c)}`);
    } else if (c === "*" || c === "?" || c === "[") {
      throw new ShellSyntaxError(`unsupported glob character ${JSON.stringify(c)}`);
    } else if (c === "#" && word === null) {
      while (i < line.length && line[i] !== "\n") i++;
    } else if (c === "\\") {
      if (line[i + 1] === "\n") i += 2; // line continuation
      else {
        word = (word ?? "") + (line[i + 1] ?? "");
        i += 2;
      }
    } else if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close < 0) throw new ShellSyntaxError("unterminated single quote");
      word = (word ?? "") + line.slice(i + 1, close);
      i = close + 1;
    } else if (c === '"') {
      let w: string = word ?? "";
      i++;
      for (;;) {
        if (i >= line.length) throw new ShellSyntaxError("unterminated double quote");
        const d = line[i]!;
        if (d === '"') break;
        if (d === "\\" && '$`"\\\n'.includes(line[i + 1] ?? "x")) {
          if (line[i + 1] !== "\n") w += line[i + 1];
          i += 2;
        } else if (d === "$") {
          const [v, next] = parameter(line, i, env);
          w += v;
          i = next;
        } else if (d === "`") {
          throw new ShellSyntaxError("unsupported command substitution");
        } else {
          w += d;
          i++;
        }
      }
      word = w;
      i++;
    } else if (c === "$") {
      // Unquoted: no field splitting is simulated, so a value with blanks is refused.
      const [v, next] = parameter(line, i, env);
      if (/\s/.test(v)) throw new ShellSyntaxError(`unquoted parameter with blanks: ${JSON.stringify(line.slice(i, next))}`);
      word = (word ?? "") + v;
      i = next;
    } else {
      word = (word ?? "") + c;
      i++;
    }
  }
  flush();
  return out;
}

/** Splits `line` into simple commands; `env` expands `$NAME` / `"$NAME"` (others are an error). */
export function parseCommandLine(line: string, env: Record<string, string>): SimpleCommand[] {
  const out: SimpleCommand[] = [];
  let argv: string[] = [];
  let after: Joiner = ";";
  for (const t of tokenize(line, env)) {
    if ("word" in t) {
      argv.push(t.word);
      continue;
    }
    if (argv.length === 0) {
      if (t.op === ";" && after === ";") continue; // blank line or `;;`-free empty command
      throw new ShellSyntaxError(`syntax error near ${JSON.stringify(t.op)}`);
    }
    out.push({ argv, after });
    argv = [];
    after = t.op;
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
