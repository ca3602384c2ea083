import { LocalWorkspace } from "@pulumi/pulumi/automation";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { pulumiEnv } from "../pulumi/env";
import type { StepRunner } from "./lockstep";

/**
 * A lockstep step through the Automation API: select the shard's stack in this project, set
 * `smith:untilWave`, `pulumi up` (continue-on-error: independent clusters go on; the update
 * still fails when any node failed, and that fails the step).
 */
export function automationStepRunner(o: {
  workDir: string;
  env?: NodeJS.ProcessEnv;
  /** Engine events of every stack (for event logs and the one-machine-per-cluster check). */
  onEvent?: (stack: string, e: EngineEvent) => void;
  onOutput?: (stack: string, line: string) => void;
}): StepRunner {
  return async (stack, step) => {
    const envVars = pulumiEnv(o.workDir, o.env ?? process.env, stack) as Record<string, string>;
    const s = await LocalWorkspace.selectStack({ stackName: stack, workDir: o.workDir }, { envVars });
    await s.setConfig("smith:untilWave", { value: step });
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
