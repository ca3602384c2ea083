import { z } from "zod";
import { lastJsonLine, parsePatchReport } from "../../src/agent/report";
import type { RebootOutcome } from "./node-commands";

/** What a node reports in stack outputs: small on purpose (it is in every checkpoint write). */
export interface NodeSummary {
  build: string;
  startedAt: string | null;
  finishedAt: string | null;
  packagesChanged: number;
}

/**
 * The node's summary from the patch command's stdout (the agent's JSON line). `build` falls
 * back to the requested build when the agent says nothing (preview of a stored result).
 */
export function nodeSummary(patchStdout: string, build: string): NodeSummary {
  const r = parsePatchReport(patchStdout);
  return {
    build: r.build || build,
    startedAt: r.startedAt ?? null,
    finishedAt: r.finishedAt ?? null,
    packagesChanged: r.changedCount ?? r.changed.length,
  };
}

/** The two fields the patch step adds to the agent's patch line (`patch --reboot-if-required`). */
const RebootFieldsSchema = z.object({ rebooting: z.boolean().default(false), bootId: z.string().default("") });

/**
 * Whether the patch step scheduled a reboot, and the boot id before it. A line without the
 * fields (a patch that scheduled nothing, or an older state) is "no reboot".
 */
export function rebootOutcome(patchStdout: string): RebootOutcome {
  parsePatchReport(patchStdout); // an agent error line fails here, with the agent's message
  const r = RebootFieldsSchema.safeParse(lastJsonLine(patchStdout, "patch report"));
  return r.success ? r.data : { rebooting: false, bootId: "" };
}
