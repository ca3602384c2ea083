import { Option } from "commander";
import { defaultContext, parseStackFlag, readRecords, ReportContext } from "../../src/audit/context";
import { readStackSettings } from "../../src/audit/stack-settings";
import { fleetStatus, FleetStatus } from "../../src/audit/status";
import { renderStatus, STATUS_FORMATS, StatusFormat } from "../../src/audit/status-render";
import { liveStatus, stackPrivateKey } from "../../src/compliance/live";
import { loadInventory } from "../../src/inventory/load";
import { planRollout } from "../../src/plan/planner";
import { loadWaves } from "../../src/waves/load";
import type { RegisterCommand } from "./index";

interface StatusFlags {
  stack: string[];
  live?: boolean;
  format: StatusFormat;
}

export async function statusCommand(ctx: ReportContext, flags: StatusFlags): Promise<FleetStatus[]> {
  const out: FleetStatus[] = [];
  for (const record of await readRecords(ctx.history, flags.stack)) {
    const config = await readStackSettings(ctx.runner, record.stack, ctx.projectDir);
    const machines = await loadInventory(config.inventory);
    const plan = planRollout(machines, loadWaves(config.waves), config.build);
    let live;
    if (flags.live) {
      const statuses = await liveStatus(machines, config, await stackPrivateKey(ctx.runner, record.stack, config), 16);
      live = new Map([...statuses].map(([n, s]) => [n, s.ok ? { build: s.status!.build } : { error: s.error ?? "status failed" }]));
    }
    out.push(fleetStatus(record, plan, live));
  }
  return out;
}

/** `smith status`: per wave and cluster, machines per build, held waves and why, failures. */
export const registerStatus: RegisterCommand = (program) => {
  program
    .command("status")
    .description("The fleet at a glance: per wave/cluster how many machines at which build, what is held and why, what failed.")
    .requiredOption("--stack <name>", "stack (repeat for several)", parseStackFlag)
    .option("--live", "also ask every machine's agent for its build over SSH and show drift")
    .addOption(new Option("--format <format>", "output format").choices([...STATUS_FORMATS]).default("table"))
    .action(async (flags: StatusFlags) => {
      process.stdout.write(renderStatus(await statusCommand(defaultContext(), flags), flags.format) + "\n");
    });
};
