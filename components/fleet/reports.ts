import { parsePatchReport, parseRebootReport } from "../../src/agent/report";
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

export function rebootOutcome(rebootStdout: string): RebootOutcome {
  const r = parseRebootReport(rebootStdout);
  return { rebooting: r.rebooting, bootId: r.bootId };
}
