import { expect } from "chai";
import * as http from "http";
import { GitHubComments, marker, upsertComment } from "../../src/audit/github";
import { changeLine, summarizePreview } from "../../src/audit/preview";

/** A local stand-in for GitHub's issue-comments API on 127.0.0.1 (never a real host). */
async function fakeGitHub(initial: { id: number; body: string }[], opts: { failPatch?: boolean } = {}) {
  const comments = [...initial];
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    let data = "";
    req.on("data", (d) => (data += d));
    req.on("end", () => {
      calls.push(`${req.method} ${req.url}`);
      res.setHeader("content-type", "application/json");
      const url = new URL(req.url!, "http://x");
      if (req.method === "GET") {
        const page = Number(url.searchParams.get("page"));
        const per = Number(url.searchParams.get("per_page"));
        return res.end(JSON.stringify(comments.slice((page - 1) * per, page * per)));
      }
      if (req.method === "PATCH" && opts.failPatch) {
        res.statusCode = 403;
        return res.end(JSON.stringify({ message: "Resource not accessible by integration" }));
      }
      const body = (JSON.parse(data) as { body: string }).body;
      if (req.method === "POST") {
        comments.push({ id: 1000 + comments.length, body });
        return res.end(JSON.stringify(comments[comments.length - 1]));
      }
      const c = comments.find((x) => x.id === Number(url.pathname.split("/").pop()))!;
      c.body = body;
      res.end(JSON.stringify(c));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const api = new GitHubComments({ apiUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, repo: "acme/fleet", issue: 12, token: "t" });
  return { api, comments, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("pr-comment: one comment per PR", () => {
  it("creates the comment once, then edits it; an identical body changes nothing", async () => {
    const gh = await fakeGitHub([{ id: 1, body: "LGTM" }]);
    try {
      expect((await upsertComment(gh.api, "plan v1")).action).to.equal("created");
      expect((await upsertComment(gh.api, "plan v2")).action).to.equal("updated");
      expect((await upsertComment(gh.api, "plan v2")).action).to.equal("unchanged");
      expect(gh.comments).to.deep.equal([{ id: 1, body: "LGTM" }, { id: 1001, body: `${marker()}\nplan v2` }]);
      expect(gh.calls.filter((c) => !c.startsWith("GET"))).to.deep.equal(["POST /repos/acme/fleet/issues/12/comments", "PATCH /repos/acme/fleet/issues/comments/1001"]);
    } finally {
      await gh.close();
    }
  });

  it("finds its comment on a later page, and markers keep several comments apart", async () => {
    const many = Array.from({ length: 130 }, (_, i) => ({ id: i + 1, body: `c${i}` }));
    many[120] = { id: 121, body: `${marker()}\nold` };
    const gh = await fakeGitHub(many);
    try {
      expect((await upsertComment(gh.api, "new")).comment.id).to.equal(121);
      expect((await upsertComment(gh.api, "other", "compliance")).action).to.equal("created");
      expect(gh.comments).to.have.length(131);
    } finally {
      await gh.close();
    }
  });

  it("an API error names the call and the status", async () => {
    const gh = await fakeGitHub([{ id: 5, body: `${marker()}\nold` }], { failPatch: true });
    try {
      await upsertComment(gh.api, "new").then(
        () => expect.fail("no error"),
        (e: Error) => expect(e.message).to.match(/^GitHub PATCH \/repos\/acme\/fleet\/issues\/comments\/5: HTTP 403 /),
      );
    } finally {
      await gh.close();
    }
  });
});

describe("pr-comment: the preview summary", () => {
  it("names the machines whose patch runs and those leaving the stack", () => {
    const urn = (n: string, step: string) => `urn:pulumi:dev::smith::smith:fleet:PatchWave$smith:fleet:ClusterRollout$smith:fleet:NodePatch$command:remote:Command::${n}-${step}`;
    const s = summarizePreview({
      steps: [
        { op: "replace", urn: urn("b", "patch") },
        { op: "create", urn: urn("a", "patch") },
        { op: "same", urn: urn("c", "patch") },
        { op: "delete", urn: urn("d", "patch") },
        { op: "delete", urn: urn("d", "health") },
        { op: "replace", urn: urn("b", "health") },
      ],
      changeSummary: { replace: 2, create: 1, same: 1, delete: 2 },
      diagnostics: [{ severity: "warning", message: "wave main is HELD: approval gate\n" }, { severity: "info", message: "x" }],
    });
    expect(s).to.deep.equal({ changes: { replace: 2, create: 1, same: 1, delete: 2 }, patched: ["a", "b"], dropped: ["d"], warnings: ["wave main is HELD: approval gate"], errors: [] });
    expect(changeLine(s.changes)).to.equal("1 to create, 2 to replace, 2 to delete, 1 unchanged");
    expect(changeLine({})).to.equal("no changes");
  });
});
