import type { StackUpdate, StateResource } from "./types";
import { whoRan } from "./who";

/**
 * What Pulumi writes per update, whatever the backend: the history entry (apitype.UpdateInfo:
 * `pulumi stack history --json`, or a DIY backend's `<stack>-<ns>.history.json`) and the
 * checkpoint it left (`stack export`, or the `.checkpoint.json` beside the entry), reduced to
 * what audit reads.
 */

/** A history entry as the backend writes it (apitype.UpdateInfo). */
export interface HistoryJson {
  version?: number;
  kind?: string;
  startTime?: number | string;
  endTime?: number | string;
  message?: string;
  result?: string;
  environment?: Record<string, string>;
  config?: Record<string, unknown>;
  requestedBy?: { name?: string; githubLogin?: string };
}

/** Unix seconds or an ISO string → ISO string; null when absent. */
export function isoTime(t: number | string | undefined): string | null {
  if (t === undefined || t === null || t === 0) return null;
  if (typeof t === "number") return new Date(t * 1000).toISOString();
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** A config value as history records it: a plain string, `{value}` (CLI JSON) or `{secure}`. */
function plainConfig(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { value?: unknown }).value === "string" && !(v as { secret?: boolean }).secret) {
    return (v as { value: string }).value;
  }
  return null;
}

/** A list config value as history records it: an array, JSON text, or the CLI's `{objectValue}`/`{value}`. */
function listConfig(v: unknown): string[] {
  let x: unknown = v;
  if (x && typeof x === "object" && !Array.isArray(x)) x = (x as { objectValue?: unknown; value?: unknown }).objectValue ?? (x as { value?: unknown }).value;
  if (typeof x === "string") {
    try {
      x = x.trim().startsWith("[") ? JSON.parse(x) : [x];
    } catch {
      return [];
    }
  }
  return Array.isArray(x) ? x.filter((e): e is string => typeof e === "string") : [];
}

/** Approvals recorded in a run's config for `build` (see StackUpdate.approvals). */
export function approvalsFor(config: Record<string, unknown> | undefined, build: string | null): string[] {
  if (build === null) return [];
  // `<wave>@<build>`, alone or followed by ` by <who> at <time>`.
  const forBuild = (e: string) => {
    const target = e.split(/\s+/)[0] ?? "";
    return target.indexOf("@") > 0 && target.slice(target.lastIndexOf("@") + 1) === build;
  };
  const by = listConfig(config?.["smith:approvedBy"]).filter(forBuild);
  return by.length ? by : listConfig(config?.["smith:approvals"]).filter(forBuild);
}

export function updateFromHistory(stack: string, id: string, h: HistoryJson, resources: StateResource[] | null): StackUpdate {
  const who = h.requestedBy ? (h.requestedBy.githubLogin ?? h.requestedBy.name) : undefined;
  const build = plainConfig(h.config?.["smith:build"]);
  return {
    stack,
    id,
    kind: h.kind ?? "update",
    result: h.result ?? "unknown",
    startTime: isoTime(h.startTime) ?? new Date(0).toISOString(),
    endTime: isoTime(h.endTime),
    build,
    ranBy: whoRan(who, h.environment),
    approvals: approvalsFor(h.config, build),
    message: h.message ?? "",
    resources,
  };
}

/**
 * Resources of a checkpoint in any of the shapes Pulumi writes: a versioned checkpoint
 * (`{checkpoint: {latest: {resources}}}`), an export (`{deployment: {resources}}`), or a bare
 * deployment. Null when there is none (a stack never updated).
 */
export function checkpointResources(doc: unknown): StateResource[] | null {
  const d = doc as { checkpoint?: { latest?: { resources?: unknown } }; deployment?: { resources?: unknown }; resources?: unknown } | null;
  const r = d?.checkpoint?.latest?.resources ?? d?.deployment?.resources ?? d?.resources;
  if (r === undefined || r === null) return d?.checkpoint || d?.deployment ? [] : null;
  return Array.isArray(r) ? (r as StateResource[]) : null;
}
