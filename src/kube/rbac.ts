/**
 * The least the drain and uncordon steps (src/kube/drain.ts) need from the API: read and patch
 * Nodes (cordon, smith's mark), list pods on a node (any namespace), create evictions. The
 * platform stack's ClusterRole for the rollout runner has exactly these rules, and the
 * integration test runs the steps as a user bound to nothing more.
 */
export const DRAIN_RULES = [
  { apiGroups: [""], resources: ["nodes"], verbs: ["get", "patch"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
  { apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"] },
];
