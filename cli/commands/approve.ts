import * as os from "os";
import * as path from "path";
import { decodeList } from "../../src/config/stack-config";
import { UserError } from "../../src/errors";
import { SAFE_TOKEN } from "../../src/inventory/schema";
import { automationDriver } from "../../src/pipeline/automation";
import { PROJECT_DIR_ENV, resolveProjectDir } from "../../src/pipeline/project-dir";
import type { RegisterCommand } from "./index";

interface Flags {
  stack: string;
  wave: string;
  build: string;
  by?: string;
  projectDir?: string;
}

/** Who is approving: --by, else the user behind sudo, else the login user. */
function approver(f: Flags): string {
  const who = f.by ?? process.env.SUDO_USER ?? process.env.USER ?? os.userInfo().username;
  if (!SAFE_TOKEN.test(who) && !/^[^\s@]+@[^\s@]+$/.test(who)) throw new UserError(`flag --by: must be a user name or e-mail (got ${JSON.stringify(who)})`);
  return who;
}

/**
 * `smith approve`: opens a decision for one build, the way a reviewed PR would: adds
 * `<wave>@<build>` to the stack's `smith:approvals` and `<wave>@<build> by <who> at <time>` to
 * `smith:approvedBy`. Both are stack config, so every later update's history records them.
 */
export const registerApprove: RegisterCommand = (program) => {
  program
    .command("approve")
    .description("Approve a wave (or a review stage) of a stack for one build: recorded with who and when in the stack config.")
    .requiredOption("--stack <stack>", "the stack")
    .requiredOption("--wave <wave>", "the wave (or the pipeline's review stage) to open")
    .requiredOption("--build <n>", "the build the approval is for")
    .option("--by <user>", "who approves (default: $SUDO_USER, $USER)")
    .option("--project-dir <dir>", `the Pulumi project whose stack file records it (default $${PROJECT_DIR_ENV}, else the checkout): the rollout's`)
    .action(async (f: Flags) => {
      if (!/^[1-9][0-9]*$/.test(f.build)) throw new UserError(`flag --build: must be a positive integer (got ${JSON.stringify(f.build)})`);
      if (!SAFE_TOKEN.test(f.wave)) throw new UserError(`flag --wave: must be a wave name (got ${JSON.stringify(f.wave)})`);
      const who = approver(f);
      const repoRoot = path.resolve(__dirname, "..", "..");
      const d = await automationDriver(repoRoot, f.stack, process.env, resolveProjectDir(f.projectDir, process.env, repoRoot));
      const raw = await d.config();
      const entry = `${f.wave}@${f.build}`;
      const approvals = decodeList(raw.approvals?.value ?? "[]") ?? [];
      if (approvals.includes(entry)) {
        process.stdout.write(`${f.stack}: ${entry} was already approved\n`);
        return;
      }
      const at = new Date().toISOString();
      await d.setList("approvals", [...approvals, entry]);
      await d.setList("approvedBy", [...(decodeList(raw.approvedBy?.value ?? "[]") ?? []), `${entry} by ${who} at ${at}`]);
      process.stdout.write(`${f.stack}: approved ${entry} by ${who} at ${at} (smith:approvals, smith:approvedBy); run the same smith rollout again to continue\n`);
    });
};
