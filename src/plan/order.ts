import type { Machine } from "../inventory/schema";

/**
 * Natural order: digit runs compare as numbers, so `worker-2` comes before `worker-10`.
 * Written out instead of `Intl.Collator` so the order never depends on the ICU build.
 */
export function naturalCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (isDigit(ca) && isDigit(cb)) {
      let ei = i;
      while (ei < a.length && isDigit(a.charCodeAt(ei))) ei++;
      let ej = j;
      while (ej < b.length && isDigit(b.charCodeAt(ej))) ej++;
      const na = a.slice(i, ei).replace(/^0+(?=\d)/, "");
      const nb = b.slice(j, ej).replace(/^0+(?=\d)/, "");
      if (na.length !== nb.length) return na.length - nb.length;
      if (na !== nb) return na < nb ? -1 : 1;
      i = ei;
      j = ej;
    } else {
      if (ca !== cb) return ca - cb;
      i++;
      j++;
    }
  }
  if (a.length - i !== b.length - j) return a.length - i - (b.length - j);
  // Equal under natural order (e.g. `n01` vs `n1`): fall back to plain order so the sort is total.
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Roles patched last within a cluster. Workers go first: a bad patch shows up on one of many
 * interchangeable workers, and the control plane (which keeps the cluster schedulable while
 * workers drain and reboot) is touched only after the cluster's workers came back healthy.
 */
export const LAST_ROLES: readonly string[] = ["master", "control-plane"];

function roleRank(role: string): number {
  return LAST_ROLES.includes(role) ? 1 : 0;
}

/** The order nodes of one cluster are patched in: other roles first, masters last, then by name. */
export function compareNodes(a: Machine, b: Machine): number {
  return roleRank(a.role) - roleRank(b.role) || naturalCompare(a.name, b.name);
}

/**
 * Seeded 32-bit hash of build and machine name (FNV-1a, then a murmur3 finaliser so nearby
 * names spread out). Samples sort by it: exact at preview time, different for every build.
 */
export function sampleKey(build: string, name: string): number {
  let h = 0x811c9dc5;
  const s = `${build}\u0000${name}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
