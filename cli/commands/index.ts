import type { Command } from "commander";
import { registerBuild } from "./build";
import { registerKube } from "./kube";
import { registerLab } from "./lab";
import { registerPlan } from "./plan";
import { registerRetention } from "./retention";
import { registerSync } from "./sync";
import { registerVerify } from "./verify";
import { registerApprove } from "./approve";
import { registerRollout } from "./rollout";
import { registerAudit } from "./audit";
import { registerCompliance } from "./compliance";
import { registerPrComment } from "./pr-comment";
import { registerStatus } from "./status";
import { registerSim } from "./sim";
import { registerShard } from "./shard";
import { registerProject } from "./project";

/** Each subcommand module adds itself to the program; main.ts knows none of them by name. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerPlan, registerLab, registerBuild, registerSync, registerVerify, registerRetention, registerRollout, registerApprove, registerAudit, registerCompliance, registerStatus, registerPrComment, registerSim, registerShard, registerKube, registerProject];
