import { CORE_SCHEMA, load as fastLoad } from "js-yaml";
import { LineCounter, parseDocument, isNode } from "yaml";
import type { z } from "zod";
import { Problem, problemsError } from "../errors";

/**
 * Parses YAML text and validates it against a zod schema, turning every YAML and schema problem
 * into a `Problem` that names the file (with line), the field path (`machines[3].host`) and the
 * offending value. Shared by inventory and wave files so both report errors the same way.
 */
export function parseYamlWithSchema<S extends z.ZodTypeAny>(text: string, source: string, schema: S): z.infer<S> {
  const fast = fastPath(text, schema);
  if (fast.ok) return fast.value;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw problemsError(
      doc.errors.map((e) => ({
        source: e.linePos ? `${source}:${e.linePos[0].line}` : source,
        field: "",
        reason: `invalid YAML: ${firstLine(e.message)}`,
      })),
    );
  }
  let data: unknown;
  try {
    // Aliases are fine (`labels: *common` on every machine); the cap only stops "billion laughs".
    data = doc.toJS({ maxAliasCount: 100_000 });
  } catch (err) {
    throw problemsError([{ source, field: "", reason: `invalid YAML: ${firstLine(String((err as Error).message ?? err))}` }]);
  }
  const result = schema.safeParse(data);
  if (result.success) return result.data;

  const lineOf = (path: PropertyKey[]): number | undefined => {
    // A missing field has no node of its own: fall back to the nearest enclosing one.
    for (let p = path; ; p = p.slice(0, -1)) {
      const node = p.length === 0 ? doc.contents : doc.getIn(p as unknown[], true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
      if (p.length === 0) return undefined;
    }
  };
  const problems: Problem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path as PropertyKey[];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        problems.push(at(source, lineOf([...path, key]) ?? lineOf(path), formatPath([...path, key]), "unknown key"));
      }
      continue;
    }
    const value = getPath(data, path);
    const reason =
      value === undefined
        ? issue.code === "invalid_type"
          ? "is required"
          : `${issue.message} (missing)`
        : `${cleanMessage(issue.message)} (got ${showValue(value)})`;
    problems.push(at(source, lineOf(path), formatPath(path), reason));
  }
  throw problemsError(problems);
}

/**
 * The fast path for files that are fine, which is nearly all of them: js-yaml (core schema, the
 * same YAML 1.2 types as `yaml`'s default, duplicate keys refused) parses a 10,000-machine
 * inventory ~10× faster than `yaml`'s Document API. Any problem (a YAML error, a schema error)
 * falls back to the Document path, which knows lines and reports exactly as before. Files with
 * anchors always take the Document path: its alias cap is the "billion laughs" guard.
 */
function fastPath<S extends z.ZodTypeAny>(text: string, schema: S): { ok: true; value: z.infer<S> } | { ok: false } {
  if (ANCHOR.test(text)) return { ok: false };
  let data: unknown;
  try {
    data = fastLoad(text, { schema: CORE_SCHEMA });
  } catch {
    return { ok: false };
  }
  const result = schema.safeParse(data);
  return result.success ? { ok: true, value: result.data } : { ok: false };
}

/** An anchor (`&name`) where YAML allows one: after start of line, space, `-`, `:`, `,`, `[` or `{`. */
const ANCHOR = /(^|[\s\-:,[{])&[^\s,[\]{}]/m;

function at(source: string, line: number | undefined, field: string, reason: string): Problem {
  return { source: line ? `${source}:${line}` : source, field, reason };
}

/** yaml's message without its " at line L, column C:" suffix and source excerpt (the line is in `source`). */
function firstLine(s: string): string {
  return s.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "").trim();
}

function cleanMessage(m: string): string {
  return m.replace(/^Invalid input: /, "");
}

/** `["machines", 3, "host"]` → `machines[3].host`; the whole file → empty string. */
export function formatPath(path: PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else if (!/^[A-Za-z0-9_-]+$/.test(String(p))) out += `[${JSON.stringify(String(p))}]`; // keeps odd keys on one line
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function getPath(data: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/** Short, single-line rendering of an offending value for an error message. */
export function showValue(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
