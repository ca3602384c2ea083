/**
 * Advisory feeds: which versions fix what, how severe, since when. Three formats, one shape:
 * - `smith`: YAML/JSON `advisories: [{id, severity, published, packages: [{name, fixed, release?}]}]`
 *   (the lab's synthetic feed, or anything a team curates);
 * - `dsa-list`: Debian's security tracker `data/DSA/list` or `data/DLA/list` text
 *   (`[20 Nov 2026] DSA-5800-1 openssl - security update` / `\t[bookworm] - openssl 3.0.15-1~deb12u1`);
 *   it carries no severity, so the feed's `defaultSeverity` applies;
 * - `usn-json`: Ubuntu's USN database JSON (`{"7000-1": {id, timestamp, releases: {noble: {sources|binaries: {pkg: {version}}}}, priority?}}`).
 */
import * as fs from "fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { UserError } from "../errors";
import type { AdvisoryFeedConfig } from "./config";
import { issueLine } from "./issue";
import { Severity, SEVERITIES } from "./manifest";

export interface AdvisoryFix {
  /** Source or binary package name. */
  name: string;
  /** First version that carries the fix. */
  fixed: string;
  release?: string;
}

export interface FeedAdvisory {
  id: string;
  severity: Severity;
  /** ISO 8601. */
  published: string;
  fixes: AdvisoryFix[];
}

const SmithFeed = z
  .object({
    advisories: z.array(
      z.object({
        id: z.string().min(1),
        severity: z.enum(SEVERITIES),
        published: z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: "must be an ISO 8601 date" }),
        packages: z.array(z.object({ name: z.string().min(1), fixed: z.union([z.string(), z.number()]).transform(String), release: z.string().optional() })).min(1),
      }),
    ),
  })
  .strict();

const MONTHS: Record<string, string> = { Jan: "01", Feb: "02", Mar: "03", Apr: "04", May: "05", Jun: "06", Jul: "07", Aug: "08", Sep: "09", Oct: "10", Nov: "11", Dec: "12" };

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function parseSmithFeed(text: string, source: string): FeedAdvisory[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new UserError(`${source}: not YAML/JSON (${(e as Error).message.split("\n")[0]})`);
  }
  const r = SmithFeed.safeParse(raw);
  if (!r.success) throw new UserError(issueLine(source, r.error.issues[0]!, raw));
  return r.data.advisories.map((a) => ({
    id: a.id,
    severity: a.severity,
    published: iso(new Date(a.published)),
    fixes: a.packages.map((p) => ({ name: p.name, fixed: p.fixed, ...(p.release ? { release: p.release } : {}) })),
  }));
}

/** Debian security tracker list (DSA or DLA). */
export function parseDsaList(text: string, source: string, severity: Severity): FeedAdvisory[] {
  const out: FeedAdvisory[] = [];
  let cur: FeedAdvisory | null = null;
  text.split("\n").forEach((line, i) => {
    const head = /^\[(\d{1,2}) ([A-Z][a-z]{2}) (\d{4})\] ((?:DSA|DLA|DTSA)-\d+(?:-\d+)?) /.exec(line);
    if (head) {
      const [, day, mon, year, id] = head;
      if (!MONTHS[mon!]) throw new UserError(`${source}: line ${i + 1}: unknown month ${JSON.stringify(mon)}`);
      cur = { id: id!, severity, published: `${year}-${MONTHS[mon!]}-${day!.padStart(2, "0")}T00:00:00Z`, fixes: [] };
      out.push(cur);
      return;
    }
    // "\t[bookworm] - openssl 3.0.15-1~deb12u1" (also "<not-affected>" and the like: no fix version)
    const fix = /^\s+\[([a-z]+)\] - (\S+) ([^<\s]\S*)/.exec(line);
    if (fix && cur) (cur as FeedAdvisory).fixes.push({ release: fix[1]!, name: fix[2]!, fixed: fix[3]! });
  });
  return out;
}

const PRIORITY: Record<string, Severity> = { critical: "critical", high: "high", medium: "medium", low: "low", negligible: "negligible", untriaged: "unknown" };

/** Ubuntu USN database JSON. */
export function parseUsnJson(text: string, source: string, severity: Severity): FeedAdvisory[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${source}: not JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new UserError(`${source}: must be a JSON object of USNs keyed by id (got ${Array.isArray(raw) ? "an array" : typeof raw})`);
  const out: FeedAdvisory[] = [];
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    const u = v as { id?: string; timestamp?: number; priority?: string; releases?: Record<string, { sources?: Record<string, { version?: string }>; binaries?: Record<string, { version?: string }> }> };
    if (typeof u?.timestamp !== "number") throw new UserError(`${source}: ${key}.timestamp: must be seconds since the epoch (got ${JSON.stringify(u?.timestamp)})`);
    const fixes: AdvisoryFix[] = [];
    for (const [release, r] of Object.entries(u.releases ?? {})) {
      for (const [name, p] of [...Object.entries(r.sources ?? {}), ...Object.entries(r.binaries ?? {})]) {
        if (p?.version) fixes.push({ name, fixed: p.version, release });
      }
    }
    const id = String(u.id ?? key);
    out.push({ id: id.startsWith("USN-") ? id : `USN-${id}`, severity: PRIORITY[u.priority ?? ""] ?? severity, published: iso(new Date(u.timestamp * 1000)), fixes });
  }
  return out;
}

/** Reads every configured feed; fixes of other releases than a feed's `release` are dropped. */
export function loadAdvisories(feeds: AdvisoryFeedConfig[]): FeedAdvisory[] {
  const out: FeedAdvisory[] = [];
  for (const f of feeds) {
    let text: string;
    try {
      text = fs.readFileSync(f.path, "utf8");
    } catch (e) {
      throw new UserError(`${f.path}: cannot read advisory feed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const list = f.format === "smith" ? parseSmithFeed(text, f.path) : f.format === "dsa-list" ? parseDsaList(text, f.path, f.defaultSeverity) : parseUsnJson(text, f.path, f.defaultSeverity);
    for (const a of list) {
      const fixes = f.release ? a.fixes.filter((x) => !x.release || x.release === f.release) : a.fixes;
      if (fixes.length) out.push({ ...a, fixes });
    }
  }
  return out;
}
