import type { Escalator } from "../escalation/escalator";
import type { StackInfo } from "./context";
import type { DriverFactory } from "./driver";
import type { Journal } from "./journal";
import type { ProgressSink } from "./progress";
import type { PipelineFile } from "./schema";

/** What every stage of one `smith rollout` shares. */
export interface RolloutContext {
  pipeline: PipelineFile;
  build: string;
  projectDir: string;
  drivers: DriverFactory;
  journal: Journal;
  escalator: Escalator;
  progress: ProgressSink;
  now(): Date;
  /** Sleeps; rejects when the rollout is interrupted. */
  sleep(ms: number): Promise<void>;
  signal?: AbortSignal;
  /** Wait out soaks (else stop with "waiting"). */
  wait: boolean;
  /** Stacks take `smith:untilWave` (lockstep wave by wave); without it a stage's up runs every open wave. */
  untilWaveSupported: boolean;
  /** Fresh StackInfo (config re-read: halts and approvals change during a run). */
  info(stack: string): Promise<StackInfo>;
  /** Where the stack's previous run stage ended (wave-file wave), per stack. */
  lastWave: Map<string, string | undefined>;
  /** Fetches a URL's body (verify stage). */
  fetchText(url: string): Promise<{ status: number; text: string }>;
}

export interface StageOutcome {
  state: "done" | "waiting" | "stopped" | "failed" | "skipped";
  detail: string;
}

export const iso = (d: Date): string => d.toISOString();
