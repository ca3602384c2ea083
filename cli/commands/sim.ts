import { Option } from "commander";
import Table from "cli-table3";
import { UserError } from "../../src/errors";
import { labNetwork } from "../../src/lab/lab";
import { downSim, serveSim, statusSim, summarize, upSim } from "../../src/sim/control";
import { simPaths } from "../../src/sim/files";
import type { SimLayoutKind } from "../../src/sim/layout";
import type { HostKeyMode } from "../../src/sim/sim";
import { parseBuildFlag } from "./flags";
import type { RegisterCommand } from "./index";

function intFlag(flag: string) {
  return (v: string): number => {
    if (!/^[0-9]+$/.test(v)) throw new UserError(`flag --${flag}: must be a non-negative integer (got ${JSON.stringify(v)})`);
    return Number(v);
  };
}

function numFlag(flag: string, max = Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^[0-9]*\.?[0-9]+$/.test(v) || n > max) throw new UserError(`flag --${flag}: must be a number from 0 to ${max} (got ${JSON.stringify(v)})`);
    return n;
  };
}

interface UpFlags {
  machines: number;
  clusters?: number;
  regions: number;
  layout: SimLayoutKind;
  patchSeconds: number;
  noopSeconds: number;
  rebootSeconds: number;
  jitter: number;
  patchFailureRate: number;
  unhealthyRate: number;
  unreachableRate: number;
  rebootRate: number;
  initialBuild: string;
  seed: number;
  hostKeys: HostKeyMode;
  stack: string;
  build: string;
  waves?: string;
  network?: string;
  dir?: string;
}

/** `smith sim up|status|down|serve`: a simulated fleet of thousands of machines in one process. */
export const registerSim: RegisterCommand = (program) => {
  const sim = program.command("sim").description("A simulated fleet (one process, in-memory machines speaking the agent contract over SSH): up, status, down.");

  sim
    .command("up")
    .description("Start the sim (or report the running one); writes .smith/sim/inventory.yaml, waves.yaml and Pulumi.<stack>.yaml.")
    .requiredOption("--machines <n>", "machines", intFlag("machines"))
    .option("--clusters <n>", "clusters (default: machines / 5, the production shape)", intFlag("clusters"))
    .option("--regions <n>", "regions (1-4; ap-south, the canary region, is the 2nd)", intFlag("regions"), 4)
    .addOption(new Option("--layout <kind>", "fleet: production clusters; lab: the lab's machines and names").choices(["fleet", "lab"]).default("fleet"))
    .option("--patch-seconds <s>", "mean time of a patch that installs something", numFlag("patch-seconds"), 5)
    .option("--noop-seconds <s>", "time of a no-op patch", numFlag("noop-seconds"), 0.2)
    .option("--reboot-seconds <s>", "downtime of a reboot (endpoint closed)", numFlag("reboot-seconds"), 3)
    .option("--jitter <f>", "each duration × uniform [1-f, 1+f]", numFlag("jitter", 1), 0.2)
    .option("--patch-failure-rate <p>", "share of machines whose patch fails (exit 5)", numFlag("patch-failure-rate", 1), 0)
    .option("--unhealthy-rate <p>", "share of machines whose health fails (exit 6)", numFlag("unhealthy-rate", 1), 0)
    .option("--unreachable-rate <p>", "share of machines that never accept connections", numFlag("unreachable-rate", 1), 0)
    .option("--reboot-rate <p>", "share of patches that need a reboot", numFlag("reboot-rate", 1), 1)
    .option("--initial-build <n>", "build every machine starts at", parseBuildFlag, "1")
    .option("--seed <n>", "seed of faults and jitter", intFlag("seed"), 1)
    .addOption(new Option("--host-keys <mode>", "a host key per machine, or one shared by the sim (the inventory says so)").choices(["machine", "shared"]).default("machine"))
    .option("--stack <name>", "lab stack whose config is written (lab or lab-*)", "lab-sim")
    .option("--build <n>", "smith:build of a new stack config", parseBuildFlag, "2")
    .option("--waves <file>", "wave file for the stack (default: production's, or the lab's with --layout lab, gates removed)")
    .option("--network <127.X.Y>", "loopback /24 (default: SMITH_LAB_NETWORK, else 127.0.1); ports from 10022")
    .option("--dir <dir>", "sim directory (default .smith/sim or SMITH_SIM_DIR)")
    .action(async (f: UpFlags) => {
      if (!/^lab(-[A-Za-z0-9._-]+)?$/.test(f.stack)) throw new UserError(`flag --stack: must be a lab stack, lab or lab-* (got ${JSON.stringify(f.stack)})`);
      const p = simPaths(undefined, f.dir);
      const r = await upSim(p, {
        shape: { machines: f.machines, clusters: f.clusters ?? Math.max(1, Math.round(f.machines / 5)), regions: f.regions, layout: f.layout },
        network: f.network ?? labNetwork(),
        behaviour: {
          patchSeconds: f.patchSeconds,
          noopSeconds: f.noopSeconds,
          rebootSeconds: f.rebootSeconds,
          jitter: f.jitter,
          patchFailureRate: f.patchFailureRate,
          unhealthyRate: f.unhealthyRate,
          unreachableRate: f.unreachableRate,
          rebootRate: f.rebootRate,
          initialBuild: f.initialBuild,
          seed: f.seed,
        },
        hostKeys: f.hostKeys,
        stack: f.stack,
        build: f.build,
        waves: f.waves ?? null,
      });
      const s = summarize(r.state);
      if (r.alreadyRunning) {
        process.stdout.write(`sim already running: pid ${r.state.pid}, ${s.machines} machines ('smith sim down' to stop it)\n`);
        return;
      }
      process.stdout.write(`sim up: ${s.machines} machines in ${r.seconds.toFixed(1)} s, pid ${r.state.pid}\ninventory ${r.state.inventory}  config Pulumi.${f.stack}.yaml\n`);
    });

  sim
    .command("serve")
    .description("Run the sim in the foreground (what `sim up` starts detached).")
    .option("--dir <dir>", "sim directory")
    .action(async (f: { dir?: string }) => {
      await serveSim(simPaths(undefined, f.dir), (l) => process.stderr.write(`sim: ${l}\n`));
    });

  sim
    .command("status")
    .description("Machines up/down, builds, faults, SSH sessions served.")
    .option("--json", "print the whole state (every machine with its history) as JSON")
    .option("--dir <dir>", "sim directory")
    .action(async (f: { json?: boolean; dir?: string }) => {
      const st = await statusSim(simPaths(undefined, f.dir));
      if (f.json) {
        process.stdout.write(JSON.stringify(st) + "\n");
        return;
      }
      const s = summarize(st);
      const t = new Table({ head: ["pid", "machines", "up", "down", "faulty", "sessions", "builds"], style: { head: [], border: [] } });
      t.push([st.pid, s.machines, s.up, s.down, s.faulty, s.sessions, Object.entries(s.byBuild).map(([b, n]) => `${b}: ${n}`).join(", ")]);
      process.stdout.write(t.toString() + "\n");
    });

  sim
    .command("down")
    .description("Stop the sim; removes its inventory and state (the stack config stays).")
    .option("--dir <dir>", "sim directory")
    .action(async (f: { dir?: string }) => {
      const r = await downSim(simPaths(undefined, f.dir));
      process.stdout.write(r.wasRunning ? `sim down: ${r.machines} machines stopped\n` : "sim down: no sim was running\n");
    });
};
