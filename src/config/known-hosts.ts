import { UserError } from "../errors";

/**
 * OpenSSH known_hosts files (`smith:knownHosts`): host keys for machines whose inventory has
 * none. @pulumi/command has no known_hosts support and takes exactly one authorized_keys-format
 * key per connection, so smith resolves one key per machine here.
 *
 * Supported: plain host patterns, `[host]:port`, comma lists, `*`/`?` wildcards and `!` negation,
 * `@revoked` (those keys are never chosen). Hashed host names (`|1|…`, `ssh-keygen -H`) cannot be
 * matched against a pattern list here and are refused with a clear error; `@cert-authority`
 * lines are skipped (certificates are not something a pinned key can express).
 */

export interface KnownHostLine {
  /** Host patterns of the line, e.g. `web-1`, `[10.0.0.5]:2222`, `*.lab`, `!bad.lab`. */
  patterns: string[];
  /** `<type> <base64>`: the form `connection.hostKey` takes. */
  key: string;
}

export interface KnownHosts {
  lines: KnownHostLine[];
  revoked: Set<string>;
}

const KEY_TYPE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+)$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses known_hosts text; `source` names the file in errors (`<file>:<line>: …`). */
export function parseKnownHosts(text: string, source: string): KnownHosts {
  const lines: KnownHostLine[] = [];
  const revoked = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const where = `${source}:${i + 1}`;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0].startsWith("@")) marker = fields.shift();
    if (marker !== undefined && marker !== "@revoked" && marker !== "@cert-authority") {
      throw new UserError(`${where}: unknown marker ${JSON.stringify(marker)} (expected @revoked or @cert-authority)`);
    }
    const [hosts, type, data] = fields;
    if (hosts === undefined || type === undefined || data === undefined) {
      throw new UserError(`${where}: expected "<hosts> <key-type> <base64-key>", got ${JSON.stringify(truncate(line))}`);
    }
    if (hosts.startsWith("|")) {
      throw new UserError(
        `${where}: hashed host names (${JSON.stringify(truncate(hosts, 20))}) are not supported; write plain host names (e.g. "ssh-keyscan HOST" without -H)`,
      );
    }
    if (!KEY_TYPE.test(type)) throw new UserError(`${where}: unsupported key type ${JSON.stringify(type)}`);
    if (!BASE64.test(data)) throw new UserError(`${where}: key is not base64 (got ${JSON.stringify(truncate(data, 20))})`);
    const key = `${type} ${data}`;
    if (marker === "@cert-authority") return;
    if (marker === "@revoked") {
      revoked.add(key);
      return;
    }
    lines.push({ patterns: hosts.split(","), key });
  });
  return { lines, revoked };
}

/** Preferred key types, most preferred first, when a host has several. */
const PREFERENCE = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"];

/**
 * The key to pin for `host:port`, or undefined when none matches. OpenSSH writes non-22 ports as
 * `[host]:port`; port 22 as the bare host.
 */
export function hostKeyFor(known: KnownHosts, host: string, port = 22): string | undefined {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const keys = known.lines.filter((l) => matchesPatterns(l.patterns, name)).map((l) => l.key).filter((k) => !known.revoked.has(k));
  if (keys.length === 0) return undefined;
  const rank = (k: string) => {
    const r = PREFERENCE.indexOf(k.split(" ")[0]);
    return r === -1 ? PREFERENCE.length : r;
  };
  return [...keys].sort((a, b) => rank(a) - rank(b))[0];
}

/** OpenSSH semantics: a negated match vetoes the line; otherwise any positive match accepts it. */
export function matchesPatterns(patterns: string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith("!")) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) {
      matched = true;
    }
  }
  return matched;
}

function globMatch(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === name.toLowerCase();
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i").test(name);
}

function truncate(s: string, n = 60): string {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}
