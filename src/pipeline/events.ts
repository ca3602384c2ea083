import type { EngineEvent } from "@pulumi/pulumi/automation";

/**
 * Engine events (Automation API `onEvent`) reduced to what the pipeline follows: a machine's
 * step started, finished or failed, and error diagnostics. Pure; resources are recognised by
 * the names NodePatch gives them (`<machine>-agent|patch|reboot|health`, contract 4).
 */
export type Step = "agent" | "patch" | "reboot" | "health";

export interface NodeStepEvent {
  kind: "start" | "done" | "failed";
  machine: string;
  step: Step;
  op: string;
  urn: string;
  /** Engine time, ms since the epoch. */
  at: number;
}

export interface ErrorDiagnostic {
  kind: "error";
  /** The machine the error is about, when it names one of its resources. */
  machine?: string;
  step?: Step;
  urn?: string;
  message: string;
  at: number;
}

export type PipelineEngineEvent = NodeStepEvent | ErrorDiagnostic;

const STEP_URN = /::([^:]+)-(agent|patch|reboot|health)$/;
/** Operations that run a command; same/read/deletes of replaced resources do not. */
const RUNS = new Set(["create", "create-replacement", "update", "replace"]);

export function stepOf(urn: string | undefined): { machine: string; step: Step } | undefined {
  const m = urn ? STEP_URN.exec(urn) : null;
  return m ? { machine: m[1]!, step: m[2] as Step } : undefined;
}

export function translateEngineEvent(e: EngineEvent): PipelineEngineEvent | undefined {
  const at = typeof e.timestamp === "number" ? e.timestamp * 1000 : Date.now();
  const pre = e.resourcePreEvent?.metadata;
  const out = e.resOutputsEvent?.metadata;
  const failed = e.resOpFailedEvent?.metadata;
  const meta = pre ?? out ?? failed;
  if (meta) {
    const s = stepOf(meta.urn);
    if (!s || !RUNS.has(meta.op)) return undefined;
    return { kind: pre ? "start" : out ? "done" : "failed", ...s, op: meta.op, urn: meta.urn, at };
  }
  const d = e.diagnosticEvent;
  if (d && d.severity === "error") {
    const s = stepOf(d.urn);
    return { kind: "error", ...(s ?? {}), ...(d.urn ? { urn: d.urn } : {}), message: stripAnsi(d.message).trim(), at };
  }
  return undefined;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]|<\{%[^%]*%\}>/g;
export function stripAnsi(s: string): string {
  return s.replace(ANSI, "");
}

/** The first line of an error worth showing: the agent's JSON `error` when there is one. */
export function errorSummary(message: string): string {
  const json = message.match(/\{"error":"((?:[^"\\]|\\.)*)"[^\n]*\}/);
  if (json) {
    try {
      return (JSON.parse(`"${json[1]}"`) as string).slice(0, 300);
    } catch {
      // fall through
    }
  }
  const line = message.split("\n").map((l) => l.trim()).find((l) => l && !/^error:\s*$/.test(l)) ?? message;
  return line.replace(/^error:\s*/, "").slice(0, 300);
}
