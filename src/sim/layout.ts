import { UserError } from "../errors";
import { DEFAULT_SITES, generateFleet, Site } from "../inventory/generate";
import type { Machine } from "../inventory/schema";
import { layoutLab } from "../lab/layout";

/**
 * Where the sim's machines live and what they are called. Addresses come from one loopback /24
 * (the checkout's lab network, so parallel checkouts never meet), hosts `.10`–`.254`, and ports
 * from SIM_BASE_PORT up: machine i is host `10 + i mod 245`, port `SIM_BASE_PORT + ⌊i / 245⌋`.
 * The lab uses port 22 of the same /24, so a lab and a sim can run side by side.
 */

export const SIM_BASE_PORT = 10022;
const FIRST_OCTET = 10;
const HOSTS = 255 - FIRST_OCTET;
export const MAX_SIM_MACHINES = HOSTS * 1000;

export function simAddress(index: number, network: string): { host: string; port: number } {
  if (!/^127\.\d{1,3}\.\d{1,3}$/.test(network)) throw new UserError(`sim network must be 127.X.Y (got ${network})`);
  return { host: `${network}.${FIRST_OCTET + (index % HOSTS)}`, port: SIM_BASE_PORT + Math.floor(index / HOSTS) };
}

export type SimLayoutKind = "fleet" | "lab";

export interface SimShape {
  machines: number;
  clusters: number;
  regions: number;
  /** `fleet`: production clusters of 3 masters + workers + a haproxy pair (waves/production.yaml);
   *  `lab`: the lab's machines and names exactly (waves/lab.yaml), for lab-vs-sim comparisons. */
  layout: SimLayoutKind;
}

export type SimMachineEntry = Machine & { host: string; port: number; user: string };

/** One site per region, in the generator's order (ap-south, the canary region, is second). */
function sites(regions: number): Site[] {
  const out: Site[] = [];
  for (const s of DEFAULT_SITES) if (out.length < regions && !out.some((o) => o.region === s.region)) out.push(s);
  if (out.length < regions) throw new UserError(`flag --regions: at most ${out.length} regions (got ${regions})`);
  return out;
}

export function layoutSim(shape: SimShape, network: string): SimMachineEntry[] {
  const int = (flag: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new UserError(`flag --${flag}: must be an integer from ${lo} to ${hi} (got ${v})`);
  };
  int("machines", shape.machines, 1, MAX_SIM_MACHINES);
  int("regions", shape.regions, 1, 4);
  let base: Omit<Machine, "hostKey" | "host" | "port" | "user">[];
  if (shape.layout === "lab") {
    base = layoutLab({ machines: shape.machines, clusters: shape.clusters, regions: shape.regions }).map(({ host: _h, port: _p, user: _u, ...m }) => m);
  } else {
    int("clusters", shape.clusters, 1, shape.machines);
    // Clusters of 5 (3 masters + haproxy pair) and up; fewer machines per cluster drop the pair, then masters.
    const per = shape.machines / shape.clusters;
    const haproxy = per >= 5;
    const masters = Math.max(1, Math.min(3, Math.floor(per) - (haproxy ? 2 : 0)));
    try {
      base = generateFleet({
        machines: shape.machines,
        clusters: shape.clusters,
        environments: ["prod"],
        sites: sites(shape.regions),
        masters,
        haproxy,
        testMachine: false,
        hostKeys: false,
      });
    } catch (e) {
      throw new UserError(`flags --machines ${shape.machines} --clusters ${shape.clusters}: ${(e as Error).message.replace(/^generateFleet: /, "")}`);
    }
  }
  return base.map((m, i) => ({ ...m, ...simAddress(i, network), user: "root" }));
}
