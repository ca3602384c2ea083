import Table from "cli-table3";
import type { ChangeRecord } from "../change/record";

/** The end-of-rollout table: per stage, machines patched, rebooted, failed, held, and how long it took. */
export function renderSummary(r: ChangeRecord): string {
  const t = new Table({ head: ["stage", "kind", "result", "machines", "patched", "unchanged", "rebooted", "failed", "held", "duration"], style: { head: [], border: [] } });
  for (const s of r.stages) {
    const ms = r.machines.filter((m) => m.stage === s.name);
    const n = (f: (m: (typeof ms)[number]) => boolean) => (ms.length ? String(ms.filter(f).length) : "");
    const dur = s.startedAt && s.finishedAt ? `${Math.round((Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000)} s` : "";
    t.push([
      s.name,
      s.kind,
      s.result,
      ms.length ? String(ms.length) : "",
      n((m) => m.result === "patched"),
      n((m) => m.result === "unchanged"),
      n((m) => m.rebooted && m.result === "patched"),
      n((m) => m.result === "failed" || m.result === "halted"),
      n((m) => m.result === "held" || m.result === "pending"),
      dur,
    ]);
  }
  return t.toString();
}
