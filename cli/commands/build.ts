import Table from "cli-table3";
import { runBuild } from "../../src/packages/build";
import { loadBuildsConfig, parseBuildNumber } from "../../src/packages/config";
import type { RegisterCommand } from "./index";

export const progress = (cmd: string) => (line: string) => process.stderr.write(`${cmd}: ${line}\n`);

/** `smith build`: upstream mirrors → immutable snapshot → signed `builds/<N>/` + manifest. */
export const registerBuild: RegisterCommand = (program) => {
  program
    .command("build")
    .description("Update the upstream mirrors, snapshot them and publish the next numbered build, signed, with its manifest.")
    .requiredOption("--config <file>", "builds config, e.g. examples/builds.yaml")
    .option("--number <n>", "build number (default: the next one); an existing build is never overwritten")
    .action(async (f: { config: string; number?: string }) => {
      const number = f.number === undefined ? undefined : parseBuildNumber(f.number, "flag --number");
      const c = loadBuildsConfig(f.config);
      const t = Date.now();
      const r = await runBuild(c, { number, log: progress("build") });
      const table = new Table({ head: ["step", "seconds", "detail"], style: { head: [], border: [] } });
      for (const s of r.steps) table.push([s.step, s.seconds.toFixed(1), s.detail]);
      const d = r.manifest.diff;
      process.stdout.write(
        `${table.toString()}\nbuild ${r.number}: ${r.dir} (${r.manifest.packages.length} packages; vs ${r.manifest.previous ?? "no previous build"}: ` +
          `${d.added.length} added, ${d.upgraded.length} upgraded, ${d.removed.length} removed) in ${((Date.now() - t) / 1000).toFixed(1)} s\n`,
      );
    });
};
