import { renderChangeMarkdown } from "./markdown";
import { ChangeRecord, countResults } from "./record";
import type { ChangeSink } from "./sink";

export interface ServiceNowOptions {
  /** Instance base URL, e.g. https://example.service-now.com. */
  instance: string;
  user: string;
  password: string;
  /** Per request. Defaults to 15 s. */
  timeoutMs?: number;
}

/**
 * ServiceNow Table API: a `change_request` per rollout (POST /api/now/table/change_request),
 * stage results as `work_notes` (PATCH), closed with close_code/close_notes at the end.
 */
export class ServiceNowSink implements ChangeSink {
  readonly name = "servicenow";
  constructor(private readonly o: ServiceNowOptions) {}

  async open(r: ChangeRecord): Promise<string> {
    const res = await this.request("POST", "/api/now/table/change_request", {
      short_description: `smith: OS patch build ${r.build} (${r.pipeline})`,
      description: `Fleet OS patching to build ${r.build} through pipeline ${r.pipeline}, started ${r.startedAt}.`,
      type: "standard",
      category: "Software",
      start_date: r.startedAt,
    });
    const sysId = (res as { result?: { sys_id?: unknown } }).result?.sys_id;
    if (typeof sysId !== "string" || !sysId) throw new Error("servicenow: change_request created without a sys_id in the answer");
    return sysId;
  }

  async note(ref: string, text: string): Promise<void> {
    await this.request("PATCH", `/api/now/table/change_request/${encodeURIComponent(ref)}`, { work_notes: text });
  }

  async close(ref: string, r: ChangeRecord): Promise<void> {
    const c = countResults(r.machines);
    const ok = r.result === "completed" && c.failed === 0 && c.halted === 0;
    await this.request("PATCH", `/api/now/table/change_request/${encodeURIComponent(ref)}`, {
      work_notes: renderChangeMarkdown(r),
      close_code: ok ? "successful" : "successful_issues",
      close_notes: `build ${r.build}: ${r.result}; patched ${c.patched}, unchanged ${c.unchanged}, failed ${c.failed}, halted ${c.halted}`,
      end_date: r.updatedAt,
      state: "3",
    });
  }

  private async request(method: string, p: string, body: unknown): Promise<unknown> {
    const auth = Buffer.from(`${this.o.user}:${this.o.password}`).toString("base64");
    const res = await fetch(new URL(p, this.o.instance), {
      method,
      headers: { "content-type": "application/json", accept: "application/json", authorization: `Basic ${auth}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 15_000),
    }).catch((err: Error) => {
      throw new Error(`servicenow ${method} ${p}: ${err.name === "TimeoutError" ? "timed out" : err.message}`);
    });
    if (!res.ok) throw new Error(`servicenow ${method} ${p}: HTTP ${res.status}`);
    return res.json().catch(() => ({}));
  }
}
