/**
 * Running `smith` as a separate process for end-to-end tests, and killing it (or the `pulumi`
 * it runs) with SIGKILL the way a lost machine or an OOM kill would.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { pulumiEnv } from "../../src/pulumi/env";
import { REPO_ROOT } from "./pulumi";

export interface SmithRun {
  pid: number;
  exited: Promise<number | null>;
  hasExited(): boolean;
  output(): string;
}

export function spawnSmith(args: string[], outputFile: string, env: NodeJS.ProcessEnv = {}): SmithRun {
  const out = fs.openSync(outputFile, "w");
  const child = spawn(process.execPath, [path.join(REPO_ROOT, "bin", "smith.js"), ...args], {
    cwd: REPO_ROOT,
    env: { ...pulumiEnv(REPO_ROOT), ...env },
    stdio: ["ignore", out, out],
  });
  fs.closeSync(out);
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code, signal) => {
      done = true;
      resolve(code ?? (signal ? 128 : null));
    }),
  );
  return { pid: child.pid!, exited, hasExited: () => done, output: () => fs.readFileSync(outputFile, "utf8") };
}

export async function smith(args: string[], outputFile: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  const r = spawnSmith(args, outputFile, env);
  const code = await r.exited;
  return { code, output: r.output() };
}

/** Children of `pid` whose command line contains `match` (from /proc). */
export function childProcesses(pid: number, match: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== pid) continue;
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes(match)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Seeded random numbers: the same seed gives the same kill points. */
export { mulberry32 as seeded } from "../../src/inventory/generate";
