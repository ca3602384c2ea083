/**
 * An in-memory stack for the runner's unit tests: it follows the program's rules (waves in
 * order, gates, one node per cluster, a failed node stops its cluster and later waves, halted
 * clusters held, outputs written only by a successful update, a cancelled update starts nothing
 * new) without Pulumi or machines.
 */
import { decodeList, haltedFor } from "../../src/config/stack-config";
import { loadInventory } from "../../src/inventory/load";
import { planRollout } from "../../src/plan/planner";
import { loadWaves } from "../../src/waves/load";
import type { ConfigValue, PreviewResult, StackDriver, StateResource, UpOptions, UpResult } from "../../src/pipeline/driver";

export class FakeStack implements StackDriver {
  readonly cfg: Record<string, ConfigValue> = {};
  out: Record<string, unknown> = {};
  readonly at = new Map<string, string>();
  /** Machines whose patch fails; a count fails that many attempts, then passes. */
  readonly failing = new Map<string, number>();
  readonly ups: { replace: string[] }[] = [];
  readonly patched: string[] = [];
  /** Another stack's `rollout` output, for soak gates. */
  soakOf: (stack: string) => unknown = () => undefined;
  now: () => Date = () => new Date();

  constructor(readonly stack: string, config: Record<string, string>) {
    for (const [k, v] of Object.entries(config)) this.cfg[k] = { value: v, secret: false };
  }

  async config() {
    return { ...this.cfg };
  }
  async setConfig(key: string, value: string, secret = false) {
    this.cfg[key] = { value, secret };
  }
  async setList(key: string, values: string[]) {
    this.cfg[key] = { value: JSON.stringify(values), secret: false };
  }
  async preview(): Promise<PreviewResult> {
    return { changes: { same: 1 }, messages: [] };
  }
  async outputs() {
    return this.out;
  }
  async resources(): Promise<StateResource[]> {
    return [...this.at].flatMap(([m, b]) =>
      ["patch", "reboot", "health"].map((step) => ({
        urn: `urn:pulumi:${this.stack}::smith::smith:fleet:NodePatch$command:remote:Command::${m}-${step}`,
        type: "command:remote:Command",
        outputs: {
          stdout:
            step === "patch"
              ? JSON.stringify({ build: b, previous: "1", noop: false, changed: [{ name: "p", from: "1.0", to: `1.${Number(b) - 1}` }], rebootRequired: true, attempts: 1, startedAt: "2026-12-02T03:00:00Z", finishedAt: "2026-12-02T03:00:01Z", durationMs: 1000 })
              : step === "reboot"
                ? JSON.stringify({ rebooting: true, bootId: "b" })
                : JSON.stringify({ healthy: true, bootId: "c", checks: [] }),
        },
      })),
    );
  }
  async pendingOperations() {
    return 0;
  }
  async settleLock() {
    return null;
  }

  async up(o: UpOptions): Promise<UpResult> {
    this.ups.push({ replace: o.replace ?? [] });
    const val = (k: string) => this.cfg[k]?.value;
    const build = val("build")!;
    const plan = planRollout(await loadInventory(decodeList(val("inventory")!)!), loadWaves(val("waves")!), build);
    const approvals = decodeList(val("approvals") ?? "[]")!;
    const halted = haltedFor(decodeList(val("halted") ?? "[]")!, build);
    const until = val("untilWave");
    const haltedClusters = new Set<string>();
    const waves: { name: string; held: boolean; reason?: string }[] = [];
    let blocked: string | undefined;
    let failedAny = false;
    let t = Date.parse("2026-12-02T03:00:00Z") / 1000;
    const ev = (kind: "start" | "done" | "failed", m: string, step: "patch" | "reboot" | "health") =>
      o.onEvent({ kind, machine: m, step, op: "create", urn: `urn::${m}-${step}`, at: (t += 1) * 1000 });
    for (const w of plan.waves) {
      const fileWave = w.phase?.wave ?? w.name;
      let reason = blocked;
      if (!reason && w.gate?.approval && !approvals.includes(`${fileWave}@${build}`) && !approvals.includes(`${w.name}@${build}`)) reason = `approval gate: smith:approvals has no ${w.name}@${build}`;
      if (!reason && w.gate?.soak) {
        const r = this.soakOf(w.gate.soak.stack) as { build?: string; complete?: boolean; finishedAt?: string } | undefined;
        if (!r || r.build !== build || !r.complete || this.now().getTime() - Date.parse(r.finishedAt!) < w.gate.soak.hours * 3_600_000) reason = "soak gate: not yet";
      }
      waves.push({ name: w.name, held: !!reason, ...(reason ? { reason } : {}) });
      if (reason) {
        blocked ??= `earlier wave ${w.name} is held`;
        continue;
      }
      for (const c of w.clusters) {
        for (const n of c.nodes) {
          if (halted.has(n)) haltedClusters.add(c.cluster);
          if (haltedClusters.has(c.cluster)) break;
          if (this.at.get(n) === build) continue;
          // A cancelled update (the signal: SIGINT to pulumi) starts nothing new.
          if (o.signal?.aborted) return { ok: false, engineError: "update canceled", changes: { create: 1 }, seconds: 1 };
          ev("start", n, "patch");
          const left = this.failing.get(n) ?? 0;
          if (left > 0) {
            this.failing.set(n, left - 1);
            o.onEvent({ kind: "error", machine: n, step: "patch", urn: `urn::${n}-patch`, message: `error: {"error":"apt failed on ${n}","exitCode":5}\ndpkg: error processing package`, at: t * 1000 });
            ev("failed", n, "patch");
            failedAny = true;
            haltedClusters.add(c.cluster); // the rest of this cluster waits for the failed node
            break;
          }
          this.patched.push(n);
          ev("done", n, "patch");
          ev("start", n, "reboot");
          ev("done", n, "reboot");
          ev("start", n, "health");
          ev("done", n, "health");
          this.at.set(n, build);
        }
      }
      if (failedAny) blocked ??= "earlier wave failed";
      if (until !== undefined && fileWave === until && w === plan.waves.filter((x) => (x.phase?.wave ?? x.name) === until).pop()) blocked ??= "untilWave";
    }
    if (failedAny) return { ok: false, changes: { create: 1 }, seconds: 1 };
    this.out = {
      build,
      rollout: { build, complete: waves.every((w) => !w.held), finishedAt: "2026-12-02T03:00:00Z", nodes: this.at.size, held: waves.filter((w) => w.held).map((w) => w.name) },
      nodes: Object.fromEntries([...this.at].map(([m, b]) => [m, { build: b, rebooted: true, finishedAt: "2026-12-02T03:00:01Z", changed: 1 }])),
      waves,
    };
    return { ok: true, changes: { create: 1 }, seconds: 1 };
  }
}
