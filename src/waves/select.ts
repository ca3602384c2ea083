import type { Machine } from "../inventory/schema";
import type { Matcher, Selector } from "./schema";

/** A compiled selector: `test` for matching, `explain` for the first field that excludes a machine. */
export interface CompiledSelector {
  test(m: Machine): boolean;
  /** `undefined` when the machine matches, else e.g. `environment prod` (field and value). */
  explain(m: Machine): string | undefined;
}

type FieldTest = { field: string; get: (m: Machine) => string | undefined; test: (v: string | undefined) => boolean };

const FIELDS = ["environment", "region", "cluster", "role", "name"] as const;

/** Compiles a selector once; matching a 10,000-machine fleet must not re-parse globs. */
export function compileSelector(sel: Selector | undefined): CompiledSelector {
  const tests: FieldTest[] = [];
  if (sel) {
    for (const f of FIELDS) {
      const m = sel[f];
      if (m !== undefined) tests.push({ field: f, get: (x) => x[f], test: compileMatcher(m) });
    }
    for (const [key, m] of Object.entries(sel.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      tests.push({ field: `label ${key}`, get: (x) => x.labels?.[key], test: compileMatcher(m) });
    }
  }
  return {
    test: (m) => tests.every((t) => t.test(t.get(m))),
    explain: (m) => {
      for (const t of tests) {
        const v = t.get(m);
        if (!t.test(v)) return v === undefined ? `${t.field} (absent)` : `${t.field} ${v}`;
      }
      return undefined;
    },
  };
}

/**
 * A value matches a pattern list when it matches any of them. `{in, not}`: matches `in` (if
 * given) and none of `not`. An absent value (a label the machine lacks) matches only `not`-only
 * matchers: "not gold" holds for a machine with no tier label.
 */
export function compileMatcher(m: Matcher): (v: string | undefined) => boolean {
  if (typeof m === "string" || Array.isArray(m)) {
    const any = anyOf(m);
    return (v) => v !== undefined && any(v);
  }
  const inn = m.in !== undefined ? anyOf(m.in) : undefined;
  const not = m.not !== undefined ? anyOf(m.not) : undefined;
  return (v) => {
    if (v === undefined) return inn === undefined;
    if (inn && !inn(v)) return false;
    return !(not && not(v));
  };
}

function anyOf(p: string | string[]): (v: string) => boolean {
  const res = (Array.isArray(p) ? p : [p]).map(globToRegExp);
  return (v) => res.some((re) => re.test(v));
}

const globCache = new Map<string, RegExp>();

/** `*` any run, `?` one character, `[abc]`/`[a-z]`/`[!abc]` a class; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const cached = globCache.get(glob);
  if (cached) return cached;
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end === -1) {
        re += "\\[";
        continue;
      }
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith("!");
      if (negate) body = body.slice(1);
      re += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  const out = new RegExp(`^${re}$`);
  globCache.set(glob, out);
  return out;
}
