/**
 * The rollout plan: the planner's output and the JSON contract of `smith plan --format json`.
 * Waves run in order; clusters within a wave run in parallel; nodes within a cluster run one
 * after another (or `concurrency` at a time, when a wave allows more than one).
 */
export interface Plan {
  build: string;
  waves: PlanWave[];
  unassigned: Unassigned[];
}

export interface PlanWave {
  /** Unique within the plan; a wave with phases becomes one plan wave per phase, `<wave>/phase-<i>`. */
  name: string;
  /** What must be true before this wave starts; null when nothing holds it. */
  gate: PlanGate | null;
  clusters: PlanCluster[];
  /** Set only on waves produced by splitting a wave into phases. */
  phase?: { index: number; of: number; wave: string };
}

export interface PlanGate {
  /** A person must approve this wave for this build (`smith:approvals` config). */
  approval: boolean;
  /** Minimum hours since `stack` finished this build with no failures; absent when there is no soak. */
  soak?: { hours: number; stack: string };
}

export interface PlanCluster {
  cluster: string;
  /** Machine names, in the order they are patched. */
  nodes: string[];
  /** Machines of this cluster patched at the same time. Omitted when 1 (the default). */
  concurrency?: number;
}

export interface Unassigned {
  name: string;
  reason: string;
}
