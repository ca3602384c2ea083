import { checkpointResources, HistoryJson, updateFromHistory } from "./file-backend";
import { pulumiJson, PulumiRunner } from "./pulumi-cli";
import type { HistorySource, StackRecord, StackUpdate } from "./types";

/**
 * Any backend that numbers its updates (Pulumi Cloud, self-hosted service), through the CLI:
 * `pulumi stack history --json` for the updates and `pulumi stack export --version N` for the
 * state each left. DIY backends (file, S3, GCS, Azure Blob) refuse `--version`; on those the
 * entries come without checkpoints and only the current state is read (file:// is read
 * directly by FileBackendHistory instead, checkpoints included).
 */
export class CliHistory implements HistorySource {
  constructor(
    private readonly runner: PulumiRunner,
    private readonly backend: string,
  ) {}

  describe(): string {
    return this.backend;
  }

  async read(stack: string): Promise<StackRecord> {
    const list = (await pulumiJson(this.runner, ["stack", "history", "--json", "-s", stack], `--stack ${stack}`)) as HistoryJson[] | null;
    const updates: StackUpdate[] = [];
    for (const h of list ?? []) {
      let resources = null;
      if (typeof h.version === "number" && h.version > 0) {
        const r = await this.runner.run(["stack", "export", "-s", stack, "--version", String(h.version)]);
        if (r.code === 0) resources = checkpointResources(JSON.parse(r.stdout));
      }
      updates.push(updateFromHistory(stack, typeof h.version === "number" && h.version > 0 ? String(h.version) : `${stack}@${String(h.startTime)}`, h, resources));
    }
    updates.sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime));
    const current = checkpointResources(await pulumiJson(this.runner, ["stack", "export", "-s", stack], `--stack ${stack}`)) ?? [];
    return { stack, source: this.describe(), updates, current };
  }
}
