import type { PipelineEngineEvent } from "./events";

/**
 * What the pipeline needs from one stack. The Automation API implements it
 * (src/pipeline/automation.ts); unit tests use a fake. Everything the pipeline decides is read
 * from here: config (build, approvals, halts), outputs (rollout, waves, nodes) and state.
 */
export interface ConfigValue {
  value: string;
  secret: boolean;
}

export interface UpResult {
  /** The update succeeded (every resource it touched). */
  ok: boolean;
  /** The engine itself failed (program error, killed CLI, lock): no per-resource result. */
  engineError?: string;
  /** Resource changes by operation, from the summary. */
  changes: Record<string, number>;
  seconds: number;
}

export interface StateResource {
  urn: string;
  type: string;
  outputs?: Record<string, unknown>;
}

export interface UpOptions {
  /** URNs to replace (re-run): a retried node's commands. */
  replace?: string[];
  onEvent: (e: PipelineEngineEvent) => void;
  signal?: AbortSignal;
}

export interface PreviewResult {
  changes: Record<string, number>;
  /** Warnings and infos the program logged (held waves, halted machines). */
  messages: string[];
}

export interface StackDriver {
  readonly stack: string;
  /** `smith:*` config, keys without the prefix, secrets decrypted (never print them). */
  config(): Promise<Record<string, ConfigValue>>;
  setConfig(key: string, value: string, secret?: boolean): Promise<void>;
  /** Sets a list key (`smith:approvals`) to exactly these values. */
  setList(key: string, values: string[]): Promise<void>;
  up(o: UpOptions): Promise<UpResult>;
  preview(): Promise<PreviewResult>;
  outputs(): Promise<Record<string, unknown>>;
  resources(): Promise<StateResource[]>;
  /** Operations a killed update left pending in the state. */
  pendingOperations(): Promise<number>;
  /**
   * Makes sure no other update of this stack runs: waits while a live `pulumi` (e.g. one a
   * killed `smith rollout` left behind) holds the lock, removes a dead one's lock. Returns a line
   * describing what it did, or null when there was no lock.
   */
  settleLock(log: (line: string) => void): Promise<string | null>;
}

export type DriverFactory = (stack: string) => Promise<StackDriver>;
