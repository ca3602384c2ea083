import { Argument } from "commander";
import { UserError } from "../../src/errors";
import { FAULT_KINDS } from "../../src/lab/files";
import { DEFAULT_REBOOT_DELAY, labDown, labFault, labStatus, labUp, parseFaultKind } from "../../src/lab/lab";
import { DEFAULT_SHAPE } from "../../src/lab/layout";
import { renderStatus } from "../../src/lab/status";
import type { RegisterCommand } from "./index";

function intFlag(flag: string) {
  return (v: string): number => {
    if (!/^[0-9]+$/.test(v)) throw new UserError(`flag --${flag}: must be a non-negative integer (got ${JSON.stringify(v)})`);
    return Number(v);
  };
}

interface UpFlags {
  machines: number;
  clusters: number;
  regions: number;
  rebootDelay: number;
  withProd?: boolean;
  prodClusters: number;
}

/** `smith lab up|status|down|fault`: a fleet of real Debian machines on this host (root only). */
export const registerLab: RegisterCommand = (program) => {
  const lab = program.command("lab").description("A lab fleet of real Debian machines on this host (root only): up, status, fault, down.");

  lab
    .command("up")
    .description("Start the lab (or report the running one); writes .smith/lab/inventory.yaml, lab.json and Pulumi.lab.yaml.")
    .option("--machines <n>", "machines, the test machine included", intFlag("machines"), DEFAULT_SHAPE.machines)
    .option("--clusters <n>", "carrier clusters", intFlag("clusters"), DEFAULT_SHAPE.clusters)
    .option("--regions <n>", "regions", intFlag("regions"), DEFAULT_SHAPE.regions)
    .option("--with-prod", "add production machines (ap-south and eu-west clusters with haproxy pairs) and write Pulumi.lab-dev.yaml / Pulumi.lab-prod.yaml for waves/pipeline.lab.yaml")
    .option("--prod-clusters <n>", "production clusters with --with-prod", intFlag("prod-clusters"), 2)
    .option("--reboot-delay <s>", "seconds a machine stays down when it reboots", intFlag("reboot-delay"), DEFAULT_REBOOT_DELAY)
    .action(async (f: UpFlags) => {
      const log = (l: string) => process.stderr.write(`lab: ${l}\n`);
      const r = await labUp({ shape: { machines: f.machines, clusters: f.clusters, regions: f.regions, ...(f.withProd ? { prodClusters: f.prodClusters } : {}) }, rebootDelaySeconds: f.rebootDelay, log });
      const s = r.state;
      if (r.alreadyRunning) {
        process.stdout.write(`lab already running: ${s.machines.length} machines, mirror ${s.repoUrl} ('smith lab down' to stop it)\n`);
        return;
      }
      process.stdout.write(
        `lab up: ${s.machines.length} machines reachable in ${r.seconds.machines.toFixed(1)} s (${r.seconds.total.toFixed(1)} s in all)\n` +
          `mirror ${s.repoUrl}/builds/{1,2,3}/ (builds config .smith/lab/builds.yaml)  key ${s.keyPath}\ninventory ${s.inventoryPath}  config Pulumi.lab.yaml\n`,
      );
    });

  lab
    .command("status")
    .description("Machines, their state, boot id, smith build and faults.")
    .option("--json", "print JSON instead of a table")
    .action(async (f: { json?: boolean }) => {
      const st = await labStatus();
      if (f.json) process.stdout.write(JSON.stringify({ repoUrl: st.state.repoUrl, mirrorUp: st.mirrorUp, machines: st.rows }, null, 2) + "\n");
      else process.stdout.write(renderStatus({ repoUrl: st.state.repoUrl, mirrorUp: st.mirrorUp, rows: st.rows }) + "\n");
    });

  lab
    .command("fault")
    .description(`Inject a fault into a machine (${FAULT_KINDS.join(", ")}); --off removes it.`)
    .argument("<machine>", "machine name")
    .addArgument(new Argument("<kind>", "fault kind").choices([...FAULT_KINDS]))
    .option("--off", "remove the fault")
    .option("--seconds <s>", "dpkg-lock: how long the lock is held (default 120); slow: extra seconds (default 10)", intFlag("seconds"))
    .action(async (machine: string, kind: string, f: { off?: boolean; seconds?: number }) => {
      const m = await labFault(machine, parseFaultKind(kind), !f.off, f.seconds);
      process.stdout.write(`${m.name}: faults ${Object.keys(m.faults).join(", ") || "none"}\n`);
    });

  lab
    .command("down")
    .description("Stop every machine and the mirror, unmount everything, delete machine state.")
    .action(async () => {
      const r = await labDown();
      const { mounts, processes } = r.leftovers;
      if (mounts.length || processes.length) {
        process.stderr.write(`smith: lab down left ${mounts.length} mounts and ${processes.length} processes: ${[...mounts, ...processes.map((x) => `pid ${x.pid} ${x.cmd}`)].join("; ")}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`lab down: ${r.machines} machines stopped; no mounts or processes left\n`);
    });
};
