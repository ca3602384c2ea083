import * as path from "path";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { UserError } from "../errors";
import { findPulumi, pulumiEnv } from "../pulumi/env";
import type { StepRunner } from "./lockstep";

/**
 * A lockstep step through the Automation API: select the shard's stack in this project, set
 * `smith:untilWave` (removed when there is no step), `pulumi up` (continue-on-error: independent clusters go on; the update
 * still fails when any node failed, and that fails the step).
 */
export function automationStepRunner(o: {
  workDir: string;
  env?: NodeJS.ProcessEnv;
  /** Engine events of every stack (for event logs and the one-machine-per-cluster check). */
  onEvent?: (stack: string, e: EngineEvent) => void;
  onOutput?: (stack: string, line: string) => void;
}): StepRunner {
  let command: Promise<PulumiCommand> | null = null;
  return async (stack, step) => {
    const envVars = pulumiEnv(o.workDir, o.env ?? process.env, stack) as Record<string, string>;
    // The checkout's own CLI (.smith/tools), whatever PATH the caller has.
    command ??= (async () => {
      const bin = findPulumi(o.workDir);
      if (!bin) throw new UserError("pulumi CLI not installed in .smith/tools: run scripts/install-pulumi.sh");
      return PulumiCommand.get({ root: path.dirname(path.dirname(bin)), skipVersionCheck: true });
    })();
    const pulumiCommand = await command;
    const s = await LocalWorkspace.selectStack({ stackName: stack, workDir: o.workDir }, { envVars, pulumiCommand });
    // No step: every wave in one update (lockstep through the stack's wave barriers).
    if (step === undefined) await s.removeConfig("smith:untilWave");
    else await s.setConfig("smith:untilWave", { value: step });
    try {
      const r = await s.up({
        continueOnError: true,
        onEvent: o.onEvent ? (e) => o.onEvent!(stack, e) : undefined,
        onOutput: o.onOutput ? (l) => o.onOutput!(stack, l) : undefined,
      });
      const changes = Object.entries(r.summary.resourceChanges ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
      return { ok: r.summary.result === "succeeded", summary: `${stack}: ${r.summary.result} (${changes || "no changes"})` };
    } catch (e) {
      const msg = (e as Error).message;
      const line = msg.split("\n").find((l) => /error:/.test(l)) ?? msg.split("\n")[0]!;
      return { ok: false, summary: `${stack}: ${line.trim()}` };
    }
  };
}
