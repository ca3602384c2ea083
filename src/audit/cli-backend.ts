import { checkpointResources, HistoryJson, updateFromHistory } from "./checkpoint";
import { pulumiJson, PulumiRunner } from "./pulumi-cli";
import type { HistorySource, StackRecord, StackUpdate } from "./types";

/**
 * Any backend that numbers its updates (Pulumi Cloud, self-hosted service), through the CLI:
 * `pulumi stack history --json` for the updates and `pulumi stack export --version N` for the
 * state each left. DIY backends refuse `--version`; smith reads file:// and s3:// directly
 * (DiyHistory), and gs:// / azblob:// come here: entries without checkpoints, and only the
 * current state is read (`limitation` says so).
 */
export class CliHistory implements HistorySource {
  constructor(
    private readonly runner: PulumiRunner,
    private readonly backend: string,
    /** What this backend's record lacks, when the CLI cannot give every update's state. */
    readonly limitation?: string,
  ) {}

  describe(): string {
    return this.limitation ? `${this.backend} (${this.limitation.split(":")[0]})` : this.backend;
  }

  async read(stack: string): Promise<StackRecord> {
    // The CLI's own reason, with the backend it was asked about.
    const what = `--stack ${stack} (backend ${this.describe()})`;
    const list = (await pulumiJson(this.runner, ["stack", "history", "--json", "-s", stack], what)) as HistoryJson[] | null;
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
    const current = checkpointResources(await pulumiJson(this.runner, ["stack", "export", "-s", stack], what)) ?? [];
    return { stack, source: this.describe(), updates, current };
  }
}
