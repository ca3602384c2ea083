/**
 * One PR comment that smith keeps up to date: found by a hidden marker line and edited, created
 * only when there is none, so a PR shows one comment however often it is pushed to.
 */

export interface IssueComment {
  id: number;
  body: string;
}

/** The three calls it takes; GitHubComments is the real one, tests use a local HTTP receiver. */
export interface CommentApi {
  list(): Promise<IssueComment[]>;
  create(body: string): Promise<IssueComment>;
  update(id: number, body: string): Promise<IssueComment>;
}

export const MARKER_PREFIX = "<!-- smith:pr-comment";

/** `<!-- smith:pr-comment id -->`: `id` tells apart several smith comments on one PR (default "plan"). */
export function marker(id = "plan"): string {
  return `${MARKER_PREFIX} ${id} -->`;
}

export async function upsertComment(api: CommentApi, body: string, id = "plan"): Promise<{ action: "created" | "updated" | "unchanged"; comment: IssueComment }> {
  const mark = marker(id);
  const full = body.startsWith(mark) ? body : `${mark}\n${body}`;
  const mine = (await api.list()).filter((c) => c.body.startsWith(mark));
  const existing = mine[0];
  if (!existing) return { action: "created", comment: await api.create(full) };
  if (existing.body === full) return { action: "unchanged", comment: existing };
  return { action: "updated", comment: await api.update(existing.id, full) };
}

export interface GitHubOptions {
  /** `https://api.github.com`, or GITHUB_API_URL on GitHub Enterprise / in Actions. */
  apiUrl: string;
  /** `owner/name`. */
  repo: string;
  /** Pull request (issue) number. */
  issue: number;
  token: string;
  fetchImpl?: typeof fetch;
}

/** GitHub's REST issue-comments API (a PR is an issue for comments). */
export class GitHubComments implements CommentApi {
  private readonly fetch: typeof fetch;
  constructor(private readonly o: GitHubOptions) {
    this.fetch = o.fetchImpl ?? fetch;
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = `${this.o.apiUrl.replace(/\/+$/, "")}${path}`;
    const res = await this.fetch(url, {
      method,
      headers: {
        accept: "application/vnd.github+json",
        authorization: `Bearer ${this.o.token}`,
        "x-github-api-version": "2022-11-28",
        "user-agent": "smith-pr-comment",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`GitHub ${method} ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return res.json();
  }

  async list(): Promise<IssueComment[]> {
    const out: IssueComment[] = [];
    for (let page = 1; page < 100; page++) {
      const batch = (await this.call("GET", `/repos/${this.o.repo}/issues/${this.o.issue}/comments?per_page=100&page=${page}`)) as IssueComment[];
      out.push(...batch.map((c) => ({ id: c.id, body: c.body ?? "" })));
      if (batch.length < 100) break;
    }
    return out;
  }

  async create(body: string): Promise<IssueComment> {
    const c = (await this.call("POST", `/repos/${this.o.repo}/issues/${this.o.issue}/comments`, { body })) as IssueComment;
    return { id: c.id, body: c.body };
  }

  async update(id: number, body: string): Promise<IssueComment> {
    const c = (await this.call("PATCH", `/repos/${this.o.repo}/issues/comments/${id}`, { body })) as IssueComment;
    return { id: c.id, body: c.body };
  }
}
