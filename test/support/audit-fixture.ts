/**
 * Copies one stack of a file backend (`<dir>/.pulumi`) into a small fixture for the audit unit
 * tests: history entries (secrets redacted) and checkpoints with only what audit reads (command
 * stdout, stack outputs). The integration test writes it when SMITH_AUDIT_FIXTURE_OUT is set.
 */
import * as fs from "fs";
import * as path from "path";

interface Res {
  urn: string;
  type: string;
  outputs?: Record<string, unknown>;
}

function slimCheckpoint(doc: { checkpoint?: { latest?: { resources?: Res[] } | null } }): unknown {
  const resources = (doc.checkpoint?.latest?.resources ?? [])
    .filter((r) => r.type === "command:remote:Command" || r.type === "pulumi:pulumi:Stack")
    .map((r) => ({ urn: r.urn, type: r.type, outputs: r.type === "pulumi:pulumi:Stack" ? r.outputs : { stdout: r.outputs?.stdout } }));
  return { version: 3, checkpoint: { latest: { resources } } };
}

function slimHistory(doc: Record<string, unknown>): unknown {
  const config = { ...(doc.config as Record<string, unknown>) };
  for (const [k, v] of Object.entries(config)) if (v && typeof v === "object" && "secure" in v) config[k] = { secure: "<redacted>" };
  // Paths of the test's temp dir would change on every run; the file name is what matters.
  for (const k of ["smith:inventory", "smith:waves"]) if (typeof config[k] === "string") config[k] = path.basename(config[k] as string);
  return { ...doc, config };
}

export function writeAuditFixture(from: string, to: string, project: string, stack: string): void {
  const hist = path.join(from, "history", project, stack);
  const outHist = path.join(to, ".pulumi", "history", project, stack);
  fs.mkdirSync(outHist, { recursive: true });
  for (const f of fs.readdirSync(hist).filter((x) => x.endsWith(".json"))) {
    const doc = JSON.parse(fs.readFileSync(path.join(hist, f), "utf8"));
    fs.writeFileSync(path.join(outHist, f), JSON.stringify(f.endsWith(".history.json") ? slimHistory(doc) : slimCheckpoint(doc), null, 1) + "\n");
  }
  const outStacks = path.join(to, ".pulumi", "stacks", project);
  fs.mkdirSync(outStacks, { recursive: true });
  const current = JSON.parse(fs.readFileSync(path.join(from, "stacks", project, `${stack}.json`), "utf8"));
  fs.writeFileSync(path.join(outStacks, `${stack}.json`), JSON.stringify(slimCheckpoint(current), null, 1) + "\n");
}
