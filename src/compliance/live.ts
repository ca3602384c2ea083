import * as fs from "fs";
import { collectStatus, MachineStatus } from "../agent/ssh-runner";
import { resolveHostKeys } from "../config/host-keys";
import { parseKnownHosts } from "../config/known-hosts";
import type { StackConfig } from "../config/stack-config";
import { UserError } from "../errors";
import type { Machine } from "../inventory/schema";
import { cliError, PulumiRunner } from "../audit/pulumi-cli";

/**
 * The stack's SSH private key for read-only `status` calls: the key file, or the secret
 * decrypted by the CLI (`pulumi config get`), never printed.
 */
export async function stackPrivateKey(runner: PulumiRunner, stack: string, config: StackConfig): Promise<string> {
  if (config.privateKeySource === "file") {
    try {
      return fs.readFileSync(config.sshPrivateKeyPath!, "utf8");
    } catch (e) {
      throw new UserError(`config: smith:sshPrivateKeyPath: cannot read ${config.sshPrivateKeyPath} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  const r = await runner.run(["config", "get", "smith:sshPrivateKey", "-s", stack]);
  if (r.code !== 0) throw new UserError(`--stack ${stack}: cannot read smith:sshPrivateKey: ${cliError(r.stderr, r.stdout)}`);
  return r.stdout;
}

/**
 * `smith-agent status` on each machine over SSH (src/agent/ssh-runner.ts: bounded concurrency,
 * host keys verified: the inventory's, else the stack's known_hosts; never trust on first use).
 */
export async function liveStatus(machines: readonly Machine[], config: StackConfig, privateKey: string, concurrency: number): Promise<Map<string, MachineStatus>> {
  let knownHosts;
  if (config.knownHosts) {
    try {
      knownHosts = parseKnownHosts(fs.readFileSync(config.knownHosts, "utf8"), config.knownHosts);
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`config: smith:knownHosts: cannot read ${config.knownHosts} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  // Machines without a key are refused by the runner itself; never connect unverified here.
  const keys = resolveHostKeys(machines, { knownHosts, knownHostsPath: config.knownHosts, requireHostKeys: false });
  const byName: Record<string, string> = {};
  for (const [name, key] of keys) if (key) byName[name] = key;
  const results = await collectStatus([...machines], { privateKey, user: config.sshUser, concurrency, knownHosts: byName });
  return new Map(results.map((r) => [r.name, r]));
}
