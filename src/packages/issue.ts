/** One zod issue as smith says it: `<source>: <field>: <reason> (got <value>)`, on one line. */
import type { z } from "zod";

export function issueField(p: readonly PropertyKey[]): string {
  return p.map((x) => (typeof x === "number" ? `[${x}]` : `.${String(x)}`)).join("").replace(/^\./, "");
}

export function valueAt(raw: unknown, p: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const k of p) v = (v as Record<PropertyKey, unknown> | undefined)?.[k];
  return v;
}

/** The reason part: zod's message plus the offending value (or "missing"; unknown keys named). */
export function issueReason(issue: z.core.$ZodIssue, raw: unknown): string {
  if (issue.code === "unrecognized_keys") return `unknown field(s) ${issue.keys.join(", ")}`;
  const v = valueAt(raw, issue.path as PropertyKey[]);
  return `${issue.message} (${v === undefined ? "missing" : `got ${JSON.stringify(v)}`})`;
}

export function issueLine(source: string, issue: z.core.$ZodIssue, raw: unknown): string {
  const field = issueField(issue.path as PropertyKey[]);
  return `${source}: ${field ? `${field}: ` : ""}${issueReason(issue, raw)}`;
}
