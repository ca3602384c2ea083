import Table from "cli-table3";
import * as path from "path";
import { loadBuildsConfig } from "../../src/packages/config";
import { runRetention } from "../../src/packages/retention";
import { progress } from "./build";
import type { RegisterCommand } from "./index";

/** `smith retention`: drop old builds, never one a stack still uses or one inside the rollout window. */
export const registerRetention: RegisterCommand = (program) => {
  program
    .command("retention")
    .description("Keep the newest K builds, builds any configured stack's state still references and builds inside the rollout window; drop the rest from mirrors and aptly.")
    .requiredOption("--config <file>", "builds config, e.g. examples/builds.yaml")
    .option("--dry-run", "show what would be dropped; change nothing")
    .action(async (f: { config: string; dryRun?: boolean }) => {
      const c = loadBuildsConfig(f.config);
      const repoRoot = path.resolve(__dirname, "..", "..");
      const decisions = await runRetention(c, { dryRun: f.dryRun, log: progress("retention"), repoRoot });
      const table = new Table({ head: ["build", "created", f.dryRun ? "would" : "action", "why"], style: { head: [], border: [] } });
      for (const d of decisions) table.push([d.build, d.createdAt ?? "?", d.keep ? "keep" : "drop", d.reasons.join("; ")]);
      process.stdout.write(`${table.toString()}\n`);
    });
};
