import type { BuildManifest, Severity } from "./manifest";
import type { Policy } from "./policy";

/**
 * Compliance of one machine against the newest published build and a policy. Pure: the caller
 * gathers where each machine is (state history, optionally the machine itself) and the manifests.
 */

export type ComplianceStatus =
  | "current" // at the newest build
  | "ok" // behind, due later than the due-soon window (or no deadline)
  | "due-soon" // due within policy.dueSoonDays
  | "overdue"
  | "unknown"; // cannot tell: manifest missing, severity without deadline, machine unreachable

export interface MachineFacts {
  stack: string;
  machine: string;
  /** The build the state (or the machine, with --live) says it is at; null: never patched. */
  build: string | null;
  /** When it reached that build (agent finish time); null when unknown. */
  since: string | null;
  /** In the stack's inventory now. */
  inInventory: boolean;
  /** --live: what the agent said (build), or why it could not be asked. */
  live?: { build: string | null } | { error: string };
}

export interface Lacking {
  build: number;
  name: string;
  version: string;
  firstSeen: string;
  advisories: { id: string; severity: Severity }[];
  /** firstSeen + deadline; null: no deadline for it. */
  due: string | null;
}

export interface MachineCompliance extends MachineFacts {
  newest: string | null;
  status: ComplianceStatus;
  /** Earliest due date over the fixes it lacks; null when none has a deadline. */
  due: string | null;
  lacking: Lacking[];
  flags: ("never-patched" | "vanished" | "unreachable" | "drift")[];
  /** One line saying why (the earliest-due fix, or what is unknown). */
  reason: string;
}

const DAY = 86_400_000;

/** Earliest deadline of one fix, or `null` (no deadline), or the severities the policy lacks. */
function fixDue(firstSeen: string, advisories: readonly { severity: Severity }[], policy: Policy): { due: number | null; missing: Severity[] } {
  const start = Date.parse(firstSeen);
  if (advisories.length === 0) return { due: policy.withoutAdvisory === null ? null : start + policy.withoutAdvisory * DAY, missing: [] };
  let due: number | null = null;
  const missing: Severity[] = [];
  for (const a of advisories) {
    const days = policy.deadlines[a.severity];
    if (days === undefined) missing.push(a.severity);
    else due = due === null ? start + days * DAY : Math.min(due, start + days * DAY);
  }
  return { due, missing };
}

export function evaluateMachine(f: MachineFacts, manifests: ReadonlyMap<number, BuildManifest>, policy: Policy, now: Date): MachineCompliance {
  const builds = [...manifests.keys()].sort((a, b) => a - b);
  const newest = builds.length ? builds[builds.length - 1]! : null;
  const flags: MachineCompliance["flags"] = [];
  if (f.build === null) flags.push("never-patched");
  if (!f.inInventory) flags.push("vanished");
  let build = f.build;
  if (f.live) {
    if ("error" in f.live) flags.push("unreachable");
    else {
      if (f.live.build !== f.build) flags.push("drift");
      build = f.live.build;
    }
  }
  const base = { ...f, build, newest: newest === null ? null : String(newest), flags };
  if (newest === null) return { ...base, status: "unknown", due: null, lacking: [], reason: "no published build manifest found" };
  if (flags.includes("unreachable")) {
    return { ...base, status: "unknown", due: null, lacking: [], reason: `unreachable: ${(f.live as { error: string }).error}` };
  }
  const at = build === null ? 0 : Number(build);
  if (!Number.isFinite(at)) return { ...base, status: "unknown", due: null, lacking: [], reason: `build ${build} is not a number` };
  if (at >= newest) return { ...base, status: "current", due: null, lacking: [], reason: `at the newest build ${newest}` };

  // Every fix of every build after the machine's: a machine never patched lacks all of them.
  const lacking: Lacking[] = [];
  const missingManifests: number[] = [];
  const missingSeverities = new Set<Severity>();
  const first = build === null ? builds[0]! : at + 1;
  for (let n = first; n <= newest; n++) {
    const m = manifests.get(n);
    if (!m) {
      missingManifests.push(n);
      continue;
    }
    const fixes = [...m.diff.upgraded.map((u) => ({ ...u, version: u.to })), ...m.diff.added];
    for (const x of fixes) {
      const d = fixDue(x.firstSeen, x.advisories, policy);
      d.missing.forEach((s) => missingSeverities.add(s));
      lacking.push({
        build: n,
        name: x.name,
        version: x.version,
        firstSeen: x.firstSeen,
        advisories: x.advisories.map((a) => ({ id: a.id, severity: a.severity })),
        due: d.due === null ? null : new Date(d.due).toISOString(),
      });
    }
  }
  const withDue = lacking.filter((l) => l.due !== null).sort((a, b) => Date.parse(a.due!) - Date.parse(b.due!));
  const earliest = withDue[0];
  const due = earliest ? earliest.due : null;
  const describe = (l: Lacking) =>
    `lacks ${l.name} ${l.version} (build ${l.build}${l.advisories.length ? `, ${l.advisories.map((a) => `${a.id} ${a.severity}`).join(", ")}` : ", no advisory"}, first seen ${l.firstSeen})`;

  if (missingManifests.length) {
    return { ...base, status: "unknown", due, lacking, reason: `no manifest for build ${missingManifests.join(", ")}: cannot tell which fixes it lacks` };
  }
  if (missingSeverities.size) {
    const sev = [...missingSeverities].sort().join(", ");
    return { ...base, status: "unknown", due, lacking, reason: `the policy has no deadline for severity ${sev} (${lacking.filter((l) => l.advisories.some((a) => missingSeverities.has(a.severity))).map((l) => `${l.name} ${l.version}`).join(", ")})` };
  }
  if (!earliest) return { ...base, status: "ok", due: null, lacking, reason: `behind build ${newest}; no lacking fix has a deadline` };
  const left = Date.parse(earliest.due!) - now.getTime();
  const status: ComplianceStatus = left < 0 ? "overdue" : left <= policy.dueSoonDays * DAY ? "due-soon" : "ok";
  return { ...base, status, due, lacking, reason: `${describe(earliest)}: due ${earliest.due}` };
}

/**
 * 2: a machine of the inventory is overdue or unknown; 1: one is due soon; 0: otherwise (for
 * alerting jobs). Machines that left the inventory are reported but do not count: the daily job
 * must not fail forever for a decommissioned machine.
 */
export function complianceExitCode(rows: readonly MachineCompliance[]): 0 | 1 | 2 {
  const managed = rows.filter((r) => r.inInventory);
  if (managed.some((r) => r.status === "overdue" || r.status === "unknown")) return 2;
  if (managed.some((r) => r.status === "due-soon")) return 1;
  return 0;
}
