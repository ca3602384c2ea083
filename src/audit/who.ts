/**
 * Who ran an update, from what the backend records. Pulumi Cloud records the requesting user; the
 * DIY backends (file, s3, gs, azblob) record only the update's `environment` bag (CLI 3.248,
 * cmd/pulumi/metadata): the CI system and build when the CLI detected one, the git HEAD's
 * author/committer (the person whose commit was deployed, not necessarily who ran it), how the
 * engine was driven (`exec.kind`: cli, auto.local, auto.inline; `exec.agent`) — no OS user.
 * The OS user is only in a DIY stack's lock file, while an update runs or after one was killed
 * (StackRecord.lockedBy).
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
  const how = [e["exec.kind"], e["exec.agent"]].filter(Boolean).join(", ");
  return how ? `unknown (${how})` : "unknown";
}
