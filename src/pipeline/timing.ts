import type { PlanWave } from "../plan/types";
import type { ProgressEvent } from "./progress";

/**
 * Makespan against the critical-path lower bound, from the node events of this run: a node's
 * window runs from its patch start to its healthcheck end. Waves run one after another and a
 * cluster's nodes one after another, so no schedule beats the sum over waves of the slowest
 * cluster's summed node durations, plus the soaks.
 */
export class NodeWindows {
  private readonly start = new Map<string, number>();
  private readonly end = new Map<string, number>();

  observe(e: ProgressEvent): void {
    if (e.type !== "node") return;
    const key = `${e.stack}/${e.machine}`;
    const t = Date.parse(e.ts);
    if (e.step === "patch" && e.state === "start" && !this.start.has(key)) this.start.set(key, t);
    if (e.step === "health" && e.state === "done") this.end.set(key, t);
  }

  timing(ranges: { stack: string; waves: PlanWave[] }[], soakSeconds: number): { makespanSeconds: number; lowerBoundSeconds: number; soakSeconds: number } | null {
    const done = [...this.start.keys()].filter((k) => this.end.has(k));
    if (!done.length) return null;
    const first = Math.min(...done.map((k) => this.start.get(k)!));
    const last = Math.max(...done.map((k) => this.end.get(k)!));
    const dur = (k: string) => (this.end.has(k) && this.start.has(k) ? (this.end.get(k)! - this.start.get(k)!) / 1000 : 0);
    let bound = 0;
    for (const r of ranges) {
      for (const w of r.waves) bound += Math.max(0, ...w.clusters.map((c) => c.nodes.reduce((s, n) => s + dur(`${r.stack}/${n}`), 0)));
    }
    return { makespanSeconds: (last - first) / 1000, lowerBoundSeconds: bound + soakSeconds, soakSeconds };
  }
}
