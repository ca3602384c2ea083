import { UserError } from "../../src/errors";
import type { RegisterCommand } from "./index";

interface Flags {
  from: string;
  to: string;
}

/**
 * `smith project seed`: a writable project directory for read-only code (src/platform/project.ts);
 * the platform's rollout Job runs it as its init container (docs/platform.md).
 */
export const registerProject: RegisterCommand = (program) => {
  const project = program.command("project").description("The Pulumi project directory smith rollout/approve write stack config to.");
  project
    .command("seed")
    .description("Make or refresh a writable project dir for the code in --from: Pulumi.yaml (main: the code), stack files copied only when absent, the rest linked.")
    .requiredOption("--from <dir>", "the code's project directory (e.g. /opt/smith in the image)")
    .requiredOption("--to <dir>", "the writable project directory (e.g. on the rollout's volume)")
    .action(async (f: Flags) => {
      if (!f.from.trim() || !f.to.trim()) throw new UserError("flags --from/--to: must be directories");
      const { seedProject } = await import("../../src/platform/project");
      const r = seedProject(f.from, f.to);
      process.stdout.write(`${f.to}: wrote ${r.written.join(", ")}; copied ${r.copied.length ? r.copied.join(", ") : "nothing"}; kept ${r.kept.length ? r.kept.join(", ") : "nothing"}; linked ${r.linked.length}\n`);
    });
};
