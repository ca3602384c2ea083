import { execFile } from "child_process";
import { UserError } from "../errors";
import { findPulumi, pulumiEnv } from "../pulumi/env";

/** Runs the `pulumi` CLI; an interface so reports can be tested without the engine. */
export interface PulumiRunner {
  run(args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** The CLI smith installs (`.smith/tools/bin/pulumi`), with smith's environment, in `projectDir`. */
export function cliRunner(repoRoot: string, projectDir: string = repoRoot): PulumiRunner {
  return {
    run(args, opts = {}) {
      const bin = findPulumi(repoRoot);
      if (!bin) throw new UserError("pulumi CLI not installed in .smith/tools: run scripts/install-pulumi.sh");
      return new Promise((resolve) => {
        const child = execFile(
          bin,
          args,
          { cwd: projectDir, env: { ...pulumiEnv(repoRoot, process.env, stackOf(args)), ...opts.env }, maxBuffer: 512 << 20, timeout: 30 * 60_000 },
          (err, stdout, stderr) => {
            const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
        child.stdin?.end(opts.input ?? "");
      });
    },
  };
}

/**
 * The stack a command line names (`-s S` / `--stack S` / `--stack=S`): pulumiEnv gives lab
 * defaults (passphrase, checkout-local backend) to lab stacks only (contract 3).
 */
export function stackOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if ((args[i] === "-s" || args[i] === "--stack") && i + 1 < args.length) return args[i + 1];
    if (args[i]!.startsWith("--stack=")) return args[i]!.slice("--stack=".length);
  }
  return undefined;
}

/** The CLI's own one-line reason (`error: …`), for a UserError. */
export function cliError(stderr: string, stdout = ""): string {
  const lines = `${stderr}\n${stdout}`.split("\n").map((l) => l.trim()).filter(Boolean);
  const err = lines.find((l) => l.startsWith("error:"));
  return (err ?? lines[lines.length - 1] ?? "no output").replace(/^error:\s*/, "");
}

/** Runs `pulumi ARGS` and parses its JSON stdout; a non-zero exit is a UserError with the CLI's reason. */
export async function pulumiJson(runner: PulumiRunner, args: string[], what: string): Promise<unknown> {
  const r = await runner.run(args);
  if (r.code !== 0) throw new UserError(`${what}: ${cliError(r.stderr, r.stdout)}`);
  try {
    return JSON.parse(r.stdout);
  } catch (e) {
    throw new UserError(`${what}: pulumi printed no JSON (${(e as Error).message})`);
  }
}
