import { Document, parseDocument, stringify } from "yaml";
import type { Machine } from "../inventory/schema";
import type { LabMachine, LabShape } from "./layout";

/** Fault kinds `smith lab fault` can inject (scripts/lab/machine.sh implements them). */
export const FAULT_KINDS = ["unreachable", "dpkg-lock", "postinst-fail", "health-fail", "slow"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRecord {
  since: string;
  /** dpkg-lock: how long the lock is held; slow: extra boot/postinst/reboot seconds. */
  seconds?: number;
}

export interface LabMachineState {
  name: string;
  host: string;
  port: number;
  environment: string;
  region: string;
  cluster: string;
  role: string;
  hostKey: string;
  /** Host pid of the machine's supervisor (stable across the machine's reboots). */
  supervisorPid: number | null;
  faults: Partial<Record<FaultKind, FaultRecord>>;
}

/** `.smith/lab/lab.json`: what `lab up` started, read by status/fault/down and by tests. */
export interface LabState {
  version: 1;
  startedAt: string;
  shape: LabShape;
  rebootDelaySeconds: number;
  repoUrl: string;
  mirror: { port: number; pid: number | null };
  keyPath: string;
  inventoryPath: string;
  knownHostsPath: string;
  machines: LabMachineState[];
}

/** One authorized_keys-format line without the comment: `ssh-ed25519 AAAA…`. */
export function hostKeyLine(pubFile: string): string {
  const [type, key] = pubFile.trim().split(/\s+/);
  if (!type || !key) throw new Error(`not an SSH public key: ${JSON.stringify(pubFile.slice(0, 40))}`);
  return `${type} ${key}`;
}

/** The planner's inventory shape, with each machine's real host key. */
export function renderInventory(machines: LabMachine[], hostKeys: Map<string, string>): string {
  const out: Machine[] = machines.map((m) => {
    const hostKey = hostKeys.get(m.name);
    if (!hostKey) throw new Error(`no host key for lab machine ${m.name}`);
    const { name, host, port, user, environment, region, cluster, role, labels } = m;
    return { name, host, port, user, environment, region, cluster, role, hostKey, ...(labels ? { labels } : {}) };
  });
  return "# Written by `smith lab up`; recreated on every lab up (host keys change).\n" + stringify({ machines: out }, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** known_hosts lines for the lab (`[host]:port` only when the port is not 22). */
export function renderKnownHosts(machines: { host: string; port: number; hostKey: string }[]): string {
  return machines.map((m) => `${m.port === 22 ? m.host : `[${m.host}]:${m.port}`} ${m.hostKey}\n`).join("");
}

export interface PulumiLabConfig {
  repoUrl: string;
  inventoryPath: string;
  keyPath: string;
  /** Wave file of the stack. Defaults to waves/lab.yaml. */
  waves?: string;
  /** Extra keys set when missing (e.g. smith:rebootDelaySeconds). */
  defaults?: Record<string, string>;
}

/**
 * `Pulumi.lab.yaml`. An existing file is edited, not replaced: the lead may have turned the key
 * into a secret or added settings. Only the mirror URL is always refreshed (its port can change);
 * the other keys are set when missing.
 */
export function renderPulumiConfig(existing: string | null, c: PulumiLabConfig): string {
  const doc = existing === null ? new Document({ config: {} }) : parseDocument(existing);
  if (!doc.has("config") || doc.get("config") === null) doc.set("config", doc.createNode({}));
  const setDefault = (key: string, value: string) => {
    if (!doc.hasIn(["config", key])) doc.setIn(["config", key], value);
  };
  setDefault("smith:build", "2");
  setDefault("smith:inventory", c.inventoryPath);
  setDefault("smith:waves", c.waves ?? "waves/lab.yaml");
  for (const [k, v] of Object.entries(c.defaults ?? {})) setDefault(k, v);
  doc.setIn(["config", "smith:repoUrl"], c.repoUrl);
  setDefault("smith:sshUser", "root");
  const hasKey = doc.hasIn(["config", "smith:sshPrivateKey"]) || doc.hasIn(["config", "smith:sshPrivateKeyPath"]);
  if (!hasKey) doc.setIn(["config", "smith:sshPrivateKeyPath"], c.keyPath);
  return doc.toString();
}
