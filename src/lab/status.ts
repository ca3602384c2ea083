import Table from "cli-table3";

/**
 * up: sshd answers; no-ssh: the machine runs but sshd does not answer (booting, or the
 * unreachable fault); rebooting: between two boots; down: no supervisor.
 */
export type MachineState = "up" | "no-ssh" | "rebooting" | "down";

export interface StatusRow {
  name: string;
  host: string;
  state: MachineState;
  bootId: string | null;
  /** The smith build the machine reports (agent record, else the demo packages installed). */
  build: string | null;
  faults: string[];
}

export interface LabSummary {
  repoUrl: string;
  mirrorUp: boolean;
  rows: StatusRow[];
}

export function summarize(rows: StatusRow[]): string {
  const count = (s: MachineState) => rows.filter((r) => r.state === s).length;
  const parts = [`${count("up")}/${rows.length} up`];
  for (const s of ["no-ssh", "rebooting", "down"] as const) if (count(s)) parts.push(`${count(s)} ${s}`);
  const faulty = rows.filter((r) => r.faults.length).length;
  if (faulty) parts.push(`${faulty} with faults`);
  return parts.join(", ");
}

export function renderStatus(s: LabSummary): string {
  const table = new Table({
    head: ["machine", "address", "state", "boot id", "build", "faults"],
    style: { head: [], border: [], compact: true },
  });
  for (const r of s.rows) {
    table.push([r.name, r.host, r.state, r.bootId ? r.bootId.slice(0, 8) : "-", r.build ?? "-", r.faults.join(",") || "-"]);
  }
  const mirror = `mirror ${s.repoUrl} (${s.mirrorUp ? "up" : "DOWN"})`;
  return `${table.toString()}\n${summarize(s.rows)}; ${mirror}`;
}
