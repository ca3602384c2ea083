import type { Command } from "commander";
import { registerAudit } from "./audit";
import { registerCompliance } from "./compliance";
import { registerLab } from "./lab";
import { registerPlan } from "./plan";
import { registerPrComment } from "./pr-comment";
import { registerStatus } from "./status";

/** Each subcommand module adds itself to the program; main.ts knows none of them by name. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerPlan, registerLab, registerAudit, registerCompliance, registerStatus, registerPrComment];
