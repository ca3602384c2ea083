import type { Command } from "commander";
import { registerLab } from "./lab";
import { registerPlan } from "./plan";
import { registerSim } from "./sim";

/** Each subcommand module adds itself to the program; main.ts knows none of them by name. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerPlan, registerLab, registerSim];
