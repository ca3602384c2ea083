import { Problem, problemsError } from "../errors";
import type { Machine } from "../inventory/schema";
import { hostKeyFor, KnownHosts } from "./known-hosts";

/**
 * The host key pinned for each machine: the inventory's `hostKey`, else a match in the
 * `smith:knownHosts` file. A machine with neither is refused (all listed in one error) unless
 * `smith:requireHostKeys` is false, which leaves it unverified: only for throwaway test fleets.
 */
export function resolveHostKeys(
  machines: readonly Machine[],
  opts: { knownHosts?: KnownHosts; knownHostsPath?: string; requireHostKeys: boolean },
): Map<string, string | undefined> {
  const keys = new Map<string, string | undefined>();
  const problems: Problem[] = [];
  for (const m of machines) {
    const key = m.hostKey ?? (opts.knownHosts ? hostKeyFor(opts.knownHosts, m.host, m.port ?? 22) : undefined);
    if (key === undefined && opts.requireHostKeys) {
      const where = opts.knownHostsPath ? `no hostKey in the inventory and none for ${m.port && m.port !== 22 ? `[${m.host}]:${m.port}` : m.host} in ${opts.knownHostsPath}` : "no hostKey in the inventory and no smith:knownHosts file";
      problems.push({ source: "inventory", field: `machine ${m.name}`, reason: `${where} (smith:requireHostKeys is true)` });
    }
    keys.set(m.name, key);
  }
  if (problems.length) throw problemsError(problems);
  return keys;
}
