/**
 * What audit reads from a Pulumi backend, reduced to the fields smith relies on (contract 4 in
 * the team's contracts): per update its metadata and the checkpoint it left behind.
 */

/** One resource of a checkpoint (`pulumi stack export` → `deployment.resources[]`). */
export interface StateResource {
  urn: string;
  type: string;
  outputs?: Record<string, unknown>;
}

/** One update of a stack (`pulumi stack history` entry) with the state it left, when known. */
export interface StackUpdate {
  stack: string;
  /**
   * Identifies the update: the backend's version number where it has one (Pulumi Cloud), else
   * the file backend's history file name without `.history.json` (`<stack>-<unix-nanos>`).
   */
  id: string;
  kind: string;
  /** `succeeded`, `failed`, `in-progress`. */
  result: string;
  /** ISO 8601. */
  startTime: string;
  endTime: string | null;
  /** `smith:build` of the run (plain config value), when set. */
  build: string | null;
  /** Who ran it, best known source first (see `whoRan`). */
  ranBy: string;
  /**
   * The run's approvals for its own build: `smith:approvedBy` entries (`<wave>@<build> by <who>
   * at <time>`, written by `smith approve`), else the bare `smith:approvals` entries.
   */
  approvals: string[];
  message: string;
  /** Resources of the checkpoint this update left; null when the backend kept none. */
  resources: StateResource[] | null;
}

/** The record a stack's history gives, oldest update first. */
export interface StackRecord {
  stack: string;
  /** Where it was read from (backend URL or file), for the evidence summary. */
  source: string;
  updates: StackUpdate[];
  /** The stack's current state (latest checkpoint). */
  current: StateResource[];
  /**
   * Who holds the stack's lock, when a DIY backend has one: an update running now, or one that
   * was killed (`pulumi cancel` removes it). What the current state holds beyond the last history
   * entry was done by it; the lock is the one place a DIY backend records the OS user.
   */
  lockedBy?: string;
}

/** Reads stacks from a backend. Implementations: file backend, `pulumi` CLI. */
export interface HistorySource {
  describe(): string;
  /** Set when this backend's record is partial: what is missing and what to do (one line). */
  readonly limitation?: string;
  /** Throws a UserError naming the stack when it does not exist. */
  read(stack: string): Promise<StackRecord>;
}
