import type { Command } from "commander";
import { registerKube } from "./kube";
import { registerBuild } from "./build";
import { registerLab } from "./lab";
import { registerPlan } from "./plan";
import { registerRetention } from "./retention";
import { registerSync } from "./sync";
import { registerVerify } from "./verify";
import { registerApprove } from "./approve";
import { registerRollout } from "./rollout";

/** Each subcommand module adds itself to the program; main.ts knows none of them by name. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerPlan, registerLab, registerBuild, registerSync, registerVerify, registerRetention, registerRollout, registerApprove, registerKube];
