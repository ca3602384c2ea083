export { NodePatch, NodePatchArgs, NodeSettings, NodeTarget, DEFAULT_AGENT_PATH, agentSha256 } from "./node-patch";
export { ClusterRollout, ClusterRolloutArgs } from "./cluster-rollout";
export { PatchWave, PatchWaveArgs, WaveCluster } from "./patch-wave";
export * from "./gates";
export * from "./rollout";
