import * as crypto from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { local } from "@pulumi/command";
import { shellQuote } from "../../src/agent/quote";

/** What a shard stack needs to keep its waves in lockstep with the other shards (smith:lockstepDir). */
export interface LockstepSettings {
  /** The marker directory every shard shares (absolute, or relative to the project dir). */
  dir: string;
  /** This stack's shard. */
  shard: string;
  /** Every shard of the fleet. */
  shards: readonly string[];
  /** Bound on waiting for the other shards. */
  timeoutMinutes: number;
  /** The program's dir (the barrier runs there): `dir` is recorded relative to it, so state does not change when the checkout moves. */
  projectDir: string;
}

/** The `smith shard barrier` command line of wave `wave` (src/shard/barrier.ts). Pure. */
export function barrierCommand(s: LockstepSettings, build: string, wave: string): string {
  const rel = path.relative(s.projectDir, s.dir);
  const dir = rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : s.dir;
  return ["node", "bin/smith.js", "shard", "barrier", "--dir", dir, "--build", build, "--wave", wave, "--shard", s.shard, "--shards", s.shards.join(","), "--timeout-minutes", String(s.timeoutMinutes)]
    .map(shellQuote)
    .join(" ");
}

/**
 * `lockstep-<wave>`: after every node of `wave` in this shard, wait until the wave finished in
 * every shard; the next wave depends on it. Its triggers hold the build and the wave's machines
 * in this shard, so a machine added to the wave later makes the shard pass the barrier again
 * after it. A `command:local:Command`: a crash re-runs it, and it finds the markers already there.
 */
export function waveBarrier(s: LockstepSettings, build: string, wave: string, machines: readonly string[], after: pulumi.Resource[]): local.Command {
  const members = crypto.createHash("sha256").update([...machines].sort().join("\n")).digest("hex").slice(0, 16);
  return new local.Command(
    `lockstep-${wave}`,
    { create: barrierCommand(s, build, wave), triggers: [build, members], logging: "stderr" },
    // Starting `node` and a last look at the markers, beyond the wait itself.
    { dependsOn: after, customTimeouts: { create: `${s.timeoutMinutes + 2}m`, update: `${s.timeoutMinutes + 2}m` } },
  );
}
