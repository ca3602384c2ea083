import Table from "cli-table3";
import { loadBuildsConfig, parseBuildNumber } from "../../src/packages/config";
import { syncBuild } from "../../src/packages/sync";
import { progress } from "./build";
import type { RegisterCommand } from "./index";

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `smith sync`: a published build to every mirror, in parallel, Release files last. */
export const registerSync: RegisterCommand = (program) => {
  program
    .command("sync")
    .description("Copy a published build to every configured mirror (directory, S3): pool and indexes first, Release/InRelease last.")
    .requiredOption("--config <file>", "builds config, e.g. examples/builds.yaml")
    .requiredOption("--build <n>", "build number")
    .option("--mirror <name>", "only this mirror (repeat for several)", collect)
    .action(async (f: { config: string; build: string; mirror?: string[] }) => {
      const n = parseBuildNumber(f.build, "flag --build");
      const c = loadBuildsConfig(f.config);
      // Test hook (documented in docs/packages.md): slow every upload so a test can kill a sync half-way.
      const delay = Number(process.env.SMITH_SYNC_TEST_DELAY_MS ?? 0) || undefined;
      const results = await syncBuild(c, n, { log: progress("sync"), only: f.mirror, delayPerFileMs: delay });
      const table = new Table({ head: ["mirror", "where", "result", "sent", "skipped", "MB", "attempts", "seconds"], style: { head: [], border: [] } });
      for (const r of results) {
        table.push([r.mirror, r.where, r.ok ? "ok" : "FAILED", r.uploaded, r.skipped, (r.bytes / 1e6).toFixed(2), r.attempts, r.seconds.toFixed(1)]);
      }
      process.stdout.write(`${table.toString()}\n`);
      const failed = results.filter((r) => !r.ok);
      // A mirror that failed is not a usage error: exit 1, one line per mirror, like verify.
      for (const r of failed) process.stderr.write(`smith: sync: build ${n} failed on mirror ${r.mirror} (${r.where}) after ${r.attempts} attempts: ${r.error}\n`);
      if (failed.length) process.exitCode = 1;
    });
};
