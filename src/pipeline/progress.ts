import type { Step } from "./events";

/**
 * What `smith rollout` reports while it runs: the live display, the plain log and the
 * `--events FILE` JSON lines are all rendered from these.
 */
export type ProgressEvent = { ts: string } & (
  | { type: "rollout"; state: "start" | "end"; pipeline: string; build: string; result?: string; message?: string }
  | { type: "stage"; stage: string; kind: string; state: "start" | "done" | "waiting" | "stopped" | "failed" | "skipped"; detail?: string }
  | { type: "up"; stage: string; stack: string; state: "start" | "done" | "failed"; attempt: number; detail?: string; changes?: Record<string, number> }
  | { type: "node"; stage: string; stack: string; wave: string; cluster: string; machine: string; step: Step; state: "start" | "done" | "failed"; op: string; error?: string }
  | { type: "retry"; stage: string; stack: string; machines: string[]; attempt: number; backoffSeconds: number }
  | { type: "halt"; stage: string; stack: string; machine: string; cluster: string; wave: string }
  | { type: "budget"; stage: string; stack: string; machine: string; problems: string[] }
  | { type: "incident"; action: "trigger" | "resolve"; key: string; machine: string; step?: string; error?: string }
  | { type: "soak"; stage: string; stack: string; opensAt: string; remainingSeconds: number }
  | { type: "decision"; stage: string; stack: string; wave: string; command: string }
  | { type: "info"; message: string }
);

export type ProgressSink = (e: ProgressEvent) => void;

/** One plain line per event, for logs and non-TTY output (the caller adds nothing). */
export function plainLine(e: ProgressEvent): string | null {
  const t = e.ts.replace(/\.\d+Z$/, "Z");
  switch (e.type) {
    case "rollout":
      return `${t} rollout ${e.state === "start" ? "start" : "end"}: build ${e.build}, pipeline ${e.pipeline}${e.result ? `: ${e.result}` : ""}${e.message ? ` — ${e.message}` : ""}`;
    case "stage":
      return `${t} stage ${e.stage} (${e.kind}): ${e.state}${e.detail ? ` — ${e.detail}` : ""}`;
    case "up":
      return `${t} stage ${e.stage}: pulumi up -s ${e.stack} ${e.state}${e.attempt > 1 ? ` (run ${e.attempt})` : ""}${e.detail ? ` — ${e.detail}` : ""}`;
    case "node":
      if (e.step === "agent" && e.state !== "failed") return null;
      return `${t} ${e.stack} ${e.wave} ${e.cluster} ${e.machine}: ${e.step} ${e.state}${e.error ? ` — ${e.error}` : ""}`;
    case "retry":
      return `${t} ${e.stack}: retrying ${e.machines.join(", ")} (attempt ${e.attempt}) in ${e.backoffSeconds} s`;
    case "halt":
      return `${t} ${e.stack}: ${e.machine} failed every retry; cluster ${e.cluster} halts there (smith:halted), the rest goes on`;
    case "budget":
      return `${t} ${e.stack}: ${e.machine} failed with no retry left: ${e.problems.join("; ")}: cancelling the update (steps in flight finish, nothing new starts)`;
    case "incident":
      return `${t} incident ${e.action}: ${e.key}${e.error ? ` — ${e.step}: ${e.error}` : ""}`;
    case "soak":
      return `${t} stage ${e.stage}: soak of ${e.stack} opens at ${e.opensAt} (${Math.ceil(e.remainingSeconds)} s)`;
    case "decision":
      return `${t} stage ${e.stage}: decision needed for wave ${e.wave} of ${e.stack}: ${e.command}`;
    case "info":
      return `${t} ${e.message}`;
  }
}
