import type { Command } from "commander";

/** Each subcommand module adds itself to the program; main.ts knows none of them by name. */
export type RegisterCommand = (program: Command) => void;

/* eslint-disable @typescript-eslint/no-require-imports */
/**
 * Every top-level command and how to load its module, in help order. A run loads only the
 * module of the command it runs (some pull in the Automation API, the Kubernetes client or the
 * AWS SDK: a second and ~200 MB for every command otherwise, `smith shard barrier` too, which
 * runs once per wave per shard). `--help` and unknown commands load them all.
 */
export const commandModules: Record<string, () => RegisterCommand> = {
  plan: () => require("./plan").registerPlan,
  lab: () => require("./lab").registerLab,
  build: () => require("./build").registerBuild,
  sync: () => require("./sync").registerSync,
  verify: () => require("./verify").registerVerify,
  retention: () => require("./retention").registerRetention,
  rollout: () => require("./rollout").registerRollout,
  approve: () => require("./approve").registerApprove,
  audit: () => require("./audit").registerAudit,
  compliance: () => require("./compliance").registerCompliance,
  status: () => require("./status").registerStatus,
  "pr-comment": () => require("./pr-comment").registerPrComment,
  sim: () => require("./sim").registerSim,
  shard: () => require("./shard").registerShard,
  kube: () => require("./kube").registerKube,
  project: () => require("./project").registerProject,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The commands `argv` (node, script, args…) needs registered: the one it names, else all. */
export function commandsFor(argv: readonly string[]): RegisterCommand[] {
  const name = argv.slice(2).find((a) => !a.startsWith("-"));
  const one = name !== undefined && Object.hasOwn(commandModules, name) ? commandModules[name] : undefined;
  return (one ? [one] : Object.values(commandModules)).map((load) => load());
}
