import { UserError } from "../errors";

/** A bucket backend URL (`s3://`, `azblob://`, `gs://`) opened for parsing, and how to refuse it. */
export interface BucketUrl {
  url: URL;
  /** Throws the one-line UserError `backend <url without query>: <message>`. */
  fail: (message: string) => never;
  /** `<scheme>://bucket/path` without the query: how messages name the backend. */
  name: string;
  /** The URL's path as Pulumi puts it under the bucket (pkg/backend/diy): `team/smith/`, or `""`. */
  path: string;
}

/**
 * Parses `raw` as a `<scheme>://bucket[/path][?query]` backend URL. `form` (`s3://bucket[/prefix]`)
 * is shown when the bucket is missing, `usage` (the form with its main parameters) when `raw` is
 * no URL at all; `kind` names the host part (bucket, container).
 */
export function openBucketUrl(raw: string, scheme: string, form: string, usage: string, kind = "bucket"): BucketUrl {
  const shown = raw.split("?")[0]!;
  const fail = (m: string): never => {
    throw new UserError(`backend ${shown}: ${m}`);
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail(`not a valid URL (${usage})`);
  }
  if (url.protocol !== `${scheme}:`) fail(`not an ${scheme}:// URL`);
  if (!url.hostname) fail(`no ${kind} name (${form})`);
  const p = decodeURIComponent(url.pathname).replace(/^\/+/, "");
  return {
    url,
    fail,
    name: `${scheme}://${url.hostname}${p ? `/${p.replace(/\/+$/, "")}` : ""}`,
    path: p && !p.endsWith("/") ? `${p}/` : p,
  };
}

/** Go's strconv.ParseBool, which gocloud uses for every boolean; undefined when `v` is none of its spellings. */
export function goBool(v: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  return undefined;
}

/**
 * gocloud's internal/escape.HexEscape: each rune `escape` picks becomes `__0x<hex>__`. The drivers
 * escape every key they write (azureblob, gcsblob: each with its own rule), so a prefix the user
 * wrote with such characters is stored escaped and must be looked up escaped.
 */
export function hexEscape(key: string, escape: (runes: string[], i: number) => boolean): string {
  const r = [...key];
  return r.map((c, i) => (escape(r, i) ? `__0x${c.codePointAt(0)!.toString(16)}__` : c)).join("");
}

/** The `/` of `../`, which both azureblob and gcsblob escape. */
export function dotDotSlash(r: string[], i: number): boolean {
  return i > 1 && r[i] === "/" && r[i - 1] === "." && r[i - 2] === ".";
}
