import * as fs from "fs";
import { decideWaves } from "../../components/fleet/gates";
import { defaultContext, parseStackFlag, ReportContext } from "../../src/audit/context";
import { GitHubComments, upsertComment } from "../../src/audit/github";
import { renderPrComment, StackPreview } from "../../src/audit/pr-comment";
import { PreviewJson, summarizePreview } from "../../src/audit/preview";
import { cliError } from "../../src/audit/pulumi-cli";
import { projectName } from "../../src/audit/source";
import { readStackSettings } from "../../src/audit/stack-settings";
import { UserError } from "../../src/errors";
import { loadInventory } from "../../src/inventory/load";
import { planRollout } from "../../src/plan/planner";
import { loadWaves } from "../../src/waves/load";
import type { RegisterCommand } from "./index";

interface PrCommentFlags {
  stack: string[];
  post?: boolean;
  repo?: string;
  pr?: string;
  apiUrl?: string;
  marker: string;
  output?: string;
}

/** A stack output as plain data, or undefined when the stack or output does not exist (yet). */
async function stackOutput(ctx: ReportContext, stack: string, name: string): Promise<unknown> {
  const r = await ctx.runner.run(["stack", "output", "--json", "-s", stack, name]);
  if (r.code !== 0) return undefined;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return undefined;
  }
}

/** Plan, gates and `pulumi preview` of one stack, as the PR comment shows them. */
export async function previewStack(ctx: ReportContext, stack: string, now = new Date(), keepJson?: (json: string) => void): Promise<StackPreview> {
  const config = await readStackSettings(ctx.runner, stack, ctx.projectDir);
  const plan = planRollout(await loadInventory(config.inventory), loadWaves(config.waves), config.build);
  const soakRollouts = new Map<string, unknown>();
  for (const w of plan.waves) if (w.gate?.soak && !soakRollouts.has(w.gate.soak.stack)) soakRollouts.set(w.gate.soak.stack, await stackOutput(ctx, w.gate.soak.stack, "rollout"));
  const gates = decideWaves(plan, { build: config.build, approvals: config.approvals, soakRollouts, now, stackOrg: config.stackOrg, project: projectName(ctx.projectDir) });
  const r = await ctx.runner.run(["preview", "--json", "--non-interactive", "-s", stack]);
  keepJson?.(r.stdout);
  let preview: StackPreview["preview"];
  try {
    const json = JSON.parse(r.stdout) as PreviewJson;
    preview = summarizePreview(json);
    if (r.code !== 0 && !preview.errors.length) preview.errors.push(cliError(r.stderr, ""));
  } catch {
    preview = { failed: cliError(r.stderr, r.stdout) };
  }
  return { stack, plan, gates, preview };
}

export const registerPrComment: RegisterCommand = (program) => {
  program
    .command("pr-comment")
    .description("One Markdown PR comment: each stack's plan (waves, clusters, gates open or closed, mermaid) and its `pulumi preview`; --post keeps one comment per PR up to date.")
    .requiredOption("--stack <name>", "stack (repeat for several)", parseStackFlag)
    .option("--output <file>", "also write the comment to this file")
    .option("--post", "create or update the PR comment on GitHub (token: GITHUB_TOKEN)")
    .option("--repo <owner/name>", "GitHub repository; default: GITHUB_REPOSITORY")
    .option("--pr <number>", "pull request number")
    .option("--api-url <url>", "GitHub API; default: GITHUB_API_URL or https://api.github.com")
    .option("--marker <id>", "tells apart several smith comments on one PR", "plan")
    .action(async (flags: PrCommentFlags) => {
      const post = flags.post ? githubFromFlags(flags) : undefined; // bad flags fail before any preview runs
      const ctx = defaultContext();
      const stacks = [];
      for (const s of [...new Set(flags.stack)]) stacks.push(await previewStack(ctx, s));
      const body = renderPrComment(stacks, `smith pr-comment, ${new Date().toISOString()}`);
      if (flags.output) fs.writeFileSync(flags.output, body);
      process.stdout.write(body);
      if (post) {
        const r = await upsertComment(post, body, flags.marker);
        process.stderr.write(`smith: PR comment ${r.comment.id} ${r.action}\n`);
      }
    });
};

export function githubFromFlags(flags: PrCommentFlags, env: NodeJS.ProcessEnv = process.env): GitHubComments {
  const repo = flags.repo ?? env.GITHUB_REPOSITORY;
  if (!repo || !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repo)) throw new UserError(`flag --repo: must be owner/name (got ${JSON.stringify(repo ?? "")})`);
  if (!flags.pr || !/^[1-9][0-9]*$/.test(flags.pr)) throw new UserError(`flag --pr: must be a pull request number (got ${JSON.stringify(flags.pr ?? "")})`);
  const token = env.GITHUB_TOKEN;
  if (!token) throw new UserError("--post: GITHUB_TOKEN is not set");
  return new GitHubComments({ apiUrl: flags.apiUrl ?? env.GITHUB_API_URL ?? "https://api.github.com", repo, issue: Number(flags.pr), token });
}
