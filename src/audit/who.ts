/**
 * Who ran an update, from what the backend records. Pulumi Cloud records the requesting user; the
 * DIY backends record only the update's `environment` bag: CI system and build, and the git
 * HEAD's author/committer (the person whose commit was deployed, not necessarily who ran it).
 */
export function whoRan(requestedBy: string | undefined, env: Record<string, string> | undefined): string {
  if (requestedBy) return requestedBy;
  const e = env ?? {};
  if (e["ci.system"]) {
    const build = e["ci.build.id"] ?? e["ci.build.number"];
    return `${e["ci.system"]}${build ? ` build ${build}` : ""}${e["git.author"] ? ` (commit by ${e["git.author"]})` : ""}`;
  }
  const person = e["git.committer"] ?? e["git.author"];
  if (person) {
    const email = e["git.committer.email"] ?? e["git.author.email"];
    return `${person}${email ? ` <${email}>` : ""} (git HEAD)`;
  }
  return e["exec.kind"] ? `unknown (${e["exec.kind"]})` : "unknown";
}
