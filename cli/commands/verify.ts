import Table from "cli-table3";
import { loadBuildsConfig, parseBuildNumber } from "../../src/packages/config";
import { verifyBuild } from "../../src/packages/verify";
import { progress } from "./build";
import type { RegisterCommand } from "./index";

/** `smith verify`: every mirror's copy of a build against the source, by sha256. Exit 1 naming each bad file. */
export const registerVerify: RegisterCommand = (program) => {
  program
    .command("verify")
    .description("Check every mirror's Release/InRelease and every index it lists against the published build (sha256); exit 1 naming bad mirrors and files.")
    .requiredOption("--config <file>", "builds config, e.g. examples/builds.yaml")
    .requiredOption("--build <n>", "build number")
    .option("--mirror <name>", "only this mirror (repeat for several)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--pool", "also check every package in the pool (slower)")
    .action(async (f: { config: string; build: string; mirror?: string[]; pool?: boolean }) => {
      const n = parseBuildNumber(f.build, "flag --build");
      const c = loadBuildsConfig(f.config);
      const results = await verifyBuild(c, n, { log: progress("verify"), only: f.mirror, pool: f.pool });
      const table = new Table({ head: ["mirror", "where", "files", "bad", "result"], style: { head: [], border: [] } });
      for (const r of results) table.push([r.mirror, r.where, r.checked, r.bad.length, r.bad.length ? "FAILED" : "ok"]);
      process.stdout.write(`${table.toString()}\n`);
      const bad = results.flatMap((r) => r.bad);
      for (const b of bad) process.stderr.write(`smith: verify: mirror ${b.mirror}: ${b.file}: ${b.problem}\n`);
      if (bad.length) {
        process.stderr.write(`smith: verify: build ${n} is bad on ${results.filter((r) => r.bad.length).map((r) => r.mirror).join(", ")}\n`);
        process.exitCode = 1;
      }
    });
};
