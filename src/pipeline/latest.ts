import { buildPrefix, labelFor, SUITE } from "../packages/layout";

/** `<repoUrl>/builds/<N>/dists/smith/Release`: where a published build says who it is (contract 1). */
export function releaseUrl(repoUrl: string, build: string | number): string {
  return `${repoUrl.replace(/\/+$/, "")}/${buildPrefix(build)}/dists/${SUITE}/Release`;
}

/** Whether the Release text is labelled as build N. */
export function releaseIsBuild(text: string, build: string | number): boolean {
  return /^Label:\s*(.+?)\s*$/m.exec(text)?.[1] === labelFor(build);
}

/**
 * `--build latest`: the newest build the mirror serves, found by asking for the builds after
 * `from` (the build the stack is at) one by one until one is missing. Null when none is newer.
 * Builds are numbered without gaps (`smith build`), so the first missing one ends the search.
 */
export async function latestPublishedBuild(repoUrl: string, from: number, fetchText: (url: string) => Promise<{ status: number; text: string }>, limit = 1000): Promise<number | null> {
  let found: number | null = null;
  for (let n = from + 1; n <= from + limit; n++) {
    const r = await fetchText(releaseUrl(repoUrl, n)).catch(() => ({ status: 0, text: "" }));
    if (r.status !== 200 || !releaseIsBuild(r.text, n)) break;
    found = n;
  }
  return found;
}
