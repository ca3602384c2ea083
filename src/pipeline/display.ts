import type { ProgressEvent } from "./progress";
import { plainLine } from "./progress";

/**
 * The live view of `smith rollout` on a terminal: one line per stage, and under the running
 * stage one line per cluster with each machine's state. Pure: `render()` returns the frame;
 * the CLI hands it to log-update. Off a terminal the CLI prints `plainLine()`s instead.
 */
const MARK: Record<string, string> = { start: "▶", done: "✓", waiting: "⏸", stopped: "■", failed: "✗", skipped: "–" };

interface NodeView {
  step: string;
  state: "start" | "done" | "failed";
}

export class LiveView {
  private readonly stages = new Map<string, { kind: string; state: string; detail?: string }>();
  private readonly clusters = new Map<string, Map<string, NodeView>>();
  private current?: string;
  private last = "";
  private title = "";
  private readonly started = Date.now();

  constructor(stageNames: { name: string; kind: string }[]) {
    for (const s of stageNames) this.stages.set(s.name, { kind: s.kind, state: "pending" });
  }

  update(e: ProgressEvent): void {
    const line = plainLine(e);
    if (line && e.type !== "node") this.last = line.replace(/^\S+ /, "");
    if (e.type === "rollout" && e.state === "start") this.title = `smith rollout: build ${e.build}, pipeline ${e.pipeline}`;
    if (e.type === "stage") {
      this.stages.set(e.stage, { kind: e.kind, state: e.state, ...(e.detail ? { detail: e.detail } : {}) });
      if (e.state === "start") {
        this.current = e.stage;
        this.clusters.clear();
      }
    }
    if (e.type === "node") {
      const key = `${e.stack} ${e.wave} ${e.cluster}`;
      const nodes = this.clusters.get(key) ?? new Map<string, NodeView>();
      const prev = nodes.get(e.machine);
      if (!(prev?.state === "failed" && e.state !== "start")) nodes.set(e.machine, { step: e.step, state: e.state });
      this.clusters.set(key, nodes);
    }
  }

  render(width = 120): string {
    const secs = Math.round((Date.now() - this.started) / 1000);
    const out = [cut(`${this.title} (${Math.floor(secs / 60)}m${String(secs % 60).padStart(2, "0")}s)`, width)];
    for (const [name, s] of this.stages) {
      out.push(cut(` ${MARK[s.state] ?? "·"} ${name.padEnd(12)} ${s.kind.padEnd(8)} ${s.detail ?? ""}`, width));
      if (name !== this.current || s.state !== "start") continue;
      for (const [cluster, nodes] of this.clusters) {
        const cells = [...nodes].map(([m, v]) => `${short(m, cluster)}${v.state === "done" && v.step === "health" ? "✓" : v.state === "failed" ? `✗${v.step}` : `…${v.step}`}`);
        out.push(cut(`     ${cluster}: ${cells.join(" ")}`, width));
      }
    }
    if (this.last) out.push(cut(` ${this.last}`, width));
    return out.join("\n");
  }
}

function short(machine: string, clusterKey: string): string {
  const cluster = clusterKey.split(" ").pop() ?? "";
  return machine.startsWith(`${cluster}-`) ? machine.slice(cluster.length + 1) : machine;
}

function cut(s: string, width: number): string {
  return s.length > width ? `${s.slice(0, width - 1)}…` : s;
}
