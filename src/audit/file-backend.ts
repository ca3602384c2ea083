import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { UserError } from "../errors";
import type { HistorySource, StackRecord, StackUpdate, StateResource } from "./types";
import { whoRan } from "./who";

/**
 * Pulumi's local file backend (`file://DIR`), read directly: `pulumi stack history` on a DIY
 * backend lists updates without version numbers and `pulumi stack export --version` is refused
 * there ("does not provide the ability to export previous deployments"), but the backend keeps a
 * checkpoint beside every history entry. Layout (project-scoped, and the older flat one):
 *   DIR/.pulumi/stacks/<project>/<stack>.json[.gz]
 *   DIR/.pulumi/history/<project>/<stack>/<stack>-<unix-nanos>.{history,checkpoint}.json[.gz]
 */
export class FileBackendHistory implements HistorySource {
  constructor(
    /** The backend directory (what follows `file://`). */
    private readonly dir: string,
    private readonly project: string,
  ) {}

  describe(): string {
    return `file://${this.dir}`;
  }

  private stackFile(stack: string): string | null {
    const base = path.join(this.dir, ".pulumi", "stacks");
    for (const f of [path.join(base, this.project, `${stack}.json`), path.join(base, `${stack}.json`)]) {
      for (const g of [f, `${f}.gz`]) if (fs.existsSync(g)) return g;
    }
    return null;
  }

  /** Stack names of this project, for the "no such stack" message. */
  stacks(): string[] {
    const dir = path.join(this.dir, ".pulumi", "stacks", this.project);
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .filter((f) => /\.json(\.gz)?$/.test(f) && !f.includes(".json.bak"))
      .map((f) => f.replace(/\.json(\.gz)?$/, ""))
      .sort();
  }

  async read(stack: string): Promise<StackRecord> {
    const file = this.stackFile(stack);
    if (!file) {
      const known = this.stacks();
      throw new UserError(`--stack ${stack}: no such stack of project ${this.project} in ${this.describe()} (stacks: ${known.length ? known.join(", ") : "none"})`);
    }
    const current = checkpointResources(readJson(file)) ?? [];
    const histDir = [path.join(this.dir, ".pulumi", "history", this.project, stack), path.join(this.dir, ".pulumi", "history", stack)].find((d) => fs.existsSync(d));
    const updates: StackUpdate[] = [];
    if (histDir) {
      const files = fs.readdirSync(histDir).filter((f) => /\.history\.json(\.gz)?$/.test(f));
      for (const f of files) {
        const id = f.replace(/\.history\.json(\.gz)?$/, "");
        const h = readJson(path.join(histDir, f)) as HistoryJson;
        const cp = [".checkpoint.json", ".checkpoint.json.gz"].map((s) => path.join(histDir, id + s)).find((p) => fs.existsSync(p));
        updates.push(updateFromHistory(stack, id, h, cp ? checkpointResources(readJson(cp)) : null));
      }
    }
    // File names carry the start time in nanoseconds; sort on it, not on the text.
    updates.sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime) || (a.id < b.id ? -1 : 1));
    return { stack, source: this.describe(), updates, current };
  }
}

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

function readJson(file: string): unknown {
  const raw = fs.readFileSync(file);
  const buf: Buffer = file.endsWith(".gz") ? zlib.gunzipSync(raw) : raw;
  try {
    return JSON.parse(buf.toString("utf8"));
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
  }
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
