import { Option } from "commander";
import { loadInventory } from "../../src/inventory/load";
import { planRollout } from "../../src/plan/planner";
import { PLAN_FORMATS, PlanFormat, renderPlan } from "../../src/plan/render";
import { loadWaves } from "../../src/waves/load";
import { parseBuildFlag } from "./flags";
import type { RegisterCommand } from "./index";

interface PlanFlags {
  inventory: string[];
  waves: string;
  build: string;
  format: PlanFormat;
}

/** `smith plan`: inventory + waves + build → the rollout plan, printed; nothing runs. */
export const registerPlan: RegisterCommand = (program) => {
  program
    .command("plan")
    .description("Show which machines each wave patches for a build (reads inventory and waves; changes nothing).")
    .requiredOption("--inventory <file>", "inventory YAML file (repeat for several)", (v: string, prev: string[] = []) => [...prev, v])
    .requiredOption("--waves <file>", "wave file, e.g. waves/production.yaml")
    .requiredOption("--build <n>", "build number (positive integer)")
    .addOption(new Option("--format <format>", "output format").choices([...PLAN_FORMATS]).default("table"))
    .action(async (flags: PlanFlags) => {
      const build = parseBuildFlag(flags.build);
      const machines = await loadInventory(flags.inventory);
      const waves = loadWaves(flags.waves);
      const plan = planRollout(machines, waves, build);
      process.stdout.write(renderPlan(plan, flags.format) + "\n");
    });
};
