import { Option } from "commander";
import { UserError } from "../../src/errors";
import { SAFE_TOKEN } from "../../src/inventory/schema";
import { BarrierError, passBarrier } from "../../src/shard/barrier";
import type { ShardBy } from "../../src/shard/shard";
import { parseBuildFlag } from "./flags";
import type { RegisterCommand } from "./index";

/** Exit codes of `smith shard barrier`, beside 0 passed and 2 usage. */
export const BARRIER_EXIT = { aborted: 3, timeout: 4 } as const;

const WAVE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/phase-[1-9][0-9]*)?$/;

function positiveInt(flag: string) {
  return (v: string): number => {
    if (!/^[1-9][0-9]*$/.test(v)) throw new UserError(`flag --${flag}: must be a positive whole number (got ${JSON.stringify(v)})`);
    return Number(v);
  };
}

function shardName(flag: string, v: string): string {
  if (!SAFE_TOKEN.test(v)) throw new UserError(`flag --${flag}: not a shard name: ${JSON.stringify(v)}`);
  return v;
}

interface BarrierFlags {
  dir: string;
  build: string;
  wave: string;
  shard: string;
  shards: string;
  timeoutMinutes: number;
}

interface ListFlags {
  inventory: string[];
  size: number;
  by: ShardBy;
  format: "table" | "json";
}

/** `smith shard list|barrier`: the shards of a fleet, and the wave barrier shard stacks run between waves. */
export const registerShard: RegisterCommand = (program) => {
  const shard = program.command("shard").description("Shard stacks of a large fleet (docs/scale.md): list them; the wave barrier between them.");

  shard
    .command("list")
    .description("The shards an inventory splits into (smith:shardSize, smith:shardBy): name, group, clusters, machines.")
    .requiredOption("--inventory <file>", "inventory YAML file (repeat for several)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--size <n>", "machines per shard (smith:shardSize)", positiveInt("size"), 1000)
    .addOption(new Option("--by <what>", "group by (smith:shardBy)").choices(["region", "cell"]).default("region"))
    .addOption(new Option("--format <format>", "output format").choices(["table", "json"]).default("table"))
    .action(async (f: ListFlags) => {
      // Loaded here: `smith shard barrier` runs once per wave per shard and needs none of it.
      const [{ loadInventory }, { shardFleet }, { default: Table }] = await Promise.all([import("../../src/inventory/load"), import("../../src/shard/shard"), import("cli-table3")]);
      const shards = shardFleet(await loadInventory(f.inventory), { size: f.size, by: f.by });
      const rows = shards.map((s) => ({ shard: s.name, group: s.group, clusters: s.clusters.length, machines: s.machines.length }));
      if (f.format === "json") {
        process.stdout.write(JSON.stringify(rows) + "\n");
        return;
      }
      const t = new Table({ head: ["shard", "group", "clusters", "machines"], style: { head: [], border: [] } });
      for (const r of rows) t.push([r.shard, r.group, r.clusters, r.machines]);
      process.stdout.write(t.toString() + "\n");
    });

  shard
    .command("barrier")
    .description(
      "Mark that this shard finished a wave of a build, then wait until every shard has: the `lockstep-<wave>` step of a shard stack. Prints one JSON line.",
    )
    .requiredOption("--dir <path>", "the marker directory all shards share (smith:lockstepDir)")
    .requiredOption("--build <n>", "build number")
    .requiredOption("--wave <name>", "the wave that must be finished in every shard (a phase: <wave>/phase-<i>)")
    .requiredOption("--shard <name>", "this shard")
    .requiredOption("--shards <a,b,…>", "every shard of the fleet")
    .option("--timeout-minutes <m>", "give up waiting after this long", positiveInt("timeout-minutes"), 360)
    .action(async (f: BarrierFlags) => {
      const build = parseBuildFlag(f.build);
      if (!WAVE.test(f.wave)) throw new UserError(`flag --wave: not a wave name: ${JSON.stringify(f.wave)}`);
      const shards = f.shards.split(",").map((s) => shardName("shards", s));
      const self = shardName("shard", f.shard);
      if (!shards.includes(self)) throw new UserError(`flag --shards: does not list this shard ${JSON.stringify(self)}`);
      const spec = { dir: f.dir, build, wave: f.wave, shard: self, shards };
      try {
        const r = await passBarrier(spec, {
          timeoutMs: f.timeoutMinutes * 60_000,
          onWaiting: (missing) => process.stderr.write(`smith shard: ${self} finished ${f.wave}; waiting for ${missing.join(", ")}\n`),
        });
        process.stdout.write(JSON.stringify({ wave: f.wave, shard: self, shards: shards.length, waitedMs: r.waitedMs }) + "\n");
      } catch (err) {
        if (!(err instanceof BarrierError)) throw err;
        const exitCode = BARRIER_EXIT[err.kind];
        process.stdout.write(JSON.stringify({ error: err.message, missing: err.missing, exitCode }) + "\n");
        process.stderr.write(`smith shard: ${err.message}\n`);
        process.exitCode = exitCode;
      }
    });
};
