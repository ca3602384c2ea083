import { UserError } from "../errors";
import { DEFAULT_SITES, Site } from "../inventory/generate";
import type { Machine } from "../inventory/schema";

/** Pre-production environments; production machines come only with `prodClusters` (`lab up --with-prod`). */
export const LAB_ENVIRONMENTS = ["dev", "prestage", "stgiks"] as const;

/** Regions of the lab's production clusters, taken in turn: ap-south (the canary) first. */
export const PROD_SITES: readonly Site[] = [
  { region: "ap-south", site: "bom01" },
  { region: "eu-west", site: "dub01" },
];
/** Machines of a production cluster: a master, a worker and a haproxy pair. */
export const PROD_CLUSTER_SIZE = 4;

/** First address of the lab: 127.0.1.N, N from here up. Avoids 127.0.1.1 (Debian's own hostname entry). */
export const FIRST_HOST_OCTET = 10;
export const MAX_MACHINES = 255 - FIRST_HOST_OCTET;
/** The /24 of loopback the lab uses. A second lab (the integration test's own) takes another one. */
export const DEFAULT_NETWORK = "127.0.1";

export interface LabShape {
  /** Total machines, the test machine included. */
  machines: number;
  /** Carrier clusters, spread over environments first, then regions. */
  clusters: number;
  /** Regions (one site each), taken in order from the inventory generator's sites. */
  regions: number;
  /**
   * Production clusters (environment prod), alternating over ap-south and eu-west, each a
   * master, a worker and a haproxy01/haproxy02 pair; in addition to `machines`. Defaults to 0.
   */
  prodClusters?: number;
}

export const DEFAULT_SHAPE: LabShape = { machines: 24, clusters: 6, regions: 2 };

/** A lab machine before it exists: everything the inventory needs except its host key. */
export type LabMachine = Omit<Machine, "hostKey"> & { host: string; port: number; user: string };

/** NETWORK.N for the i-th machine (0-based), N from FIRST_HOST_OCTET. */
export function labAddress(index: number, network = DEFAULT_NETWORK): string {
  if (!/^127\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)$/.test(network)) {
    throw new RangeError(`lab network must be 127.X.Y (got ${network})`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= MAX_MACHINES) {
    throw new RangeError(`lab machine index out of range: ${index}`);
  }
  return `${network}.${FIRST_HOST_OCTET + index}`;
}

/** One site per region, in the generator's order, so names match generated fleets. */
function labSites(regions: number): Site[] {
  const out: Site[] = [];
  for (const s of DEFAULT_SITES) {
    if (out.length < regions && !out.some((o) => o.region === s.region)) out.push(s);
  }
  return out;
}

export function maxRegions(): number {
  return labSites(Number.MAX_SAFE_INTEGER).length;
}

/** Minimum machines for a shape: the test machine plus a master and a worker per cluster. */
export function minMachines(clusters: number): number {
  return 1 + 2 * clusters;
}

function checkShape(s: LabShape): void {
  const int = (flag: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new UserError(`flag --${flag}: must be an integer from ${lo} to ${hi} (got ${v})`);
    }
  };
  int("regions", s.regions, 1, maxRegions());
  int("clusters", s.clusters, s.regions, 60);
  int("machines", s.machines, minMachines(s.clusters), MAX_MACHINES);
  int("prod-clusters", s.prodClusters ?? 0, 0, Math.floor((MAX_MACHINES - s.machines) / PROD_CLUSTER_SIZE));
}

/**
 * The lab fleet for a shape, deterministic. Names follow the inventory generator's scheme:
 * `dev-<site>-test-01` (role test), and per cluster `<env>-<site>-carrier<k>-master-01`,
 * `-worker-NN`, plus `-haproxy01`/`-haproxy02` on the first two clusters when machines allow.
 * Clusters go round-robin over dev/prestage/stgiks, then over regions.
 */
export function layoutLab(shape: LabShape, network = DEFAULT_NETWORK): LabMachine[] {
  checkShape(shape);
  const sites = labSites(shape.regions);
  const spare = shape.machines - minMachines(shape.clusters);
  const haproxyClusters = Math.min(2, shape.clusters, Math.floor(spare / 2));
  const workers = Array.from({ length: shape.clusters }, () => 1);
  const extra = spare - 2 * haproxyClusters;
  for (let i = 0; i < extra; i++) workers[i % shape.clusters]++;

  const out: LabMachine[] = [];
  const add = (m: Omit<LabMachine, "host" | "port" | "user">) =>
    out.push({ ...m, host: labAddress(out.length, network), port: 22, user: "root" });

  const first = sites[0];
  add({
    name: `dev-${first.site}-test-01`,
    environment: "dev",
    region: first.region,
    cluster: `dev-${first.site}-test`,
    role: "test",
    labels: { site: first.site },
  });
  const carriers = new Map<string, number>();
  for (let c = 0; c < shape.clusters; c++) {
    const env = LAB_ENVIRONMENTS[c % LAB_ENVIRONMENTS.length];
    const s = sites[Math.floor(c / LAB_ENVIRONMENTS.length) % sites.length];
    const key = `${env}-${s.site}`;
    const k = (carriers.get(key) ?? 0) + 1;
    carriers.set(key, k);
    const cluster = `${key}-carrier${k}`;
    const base = { environment: env, region: s.region, cluster, labels: { site: s.site, carrier: `carrier${k}` } };
    add({ ...base, name: `${cluster}-master-01`, role: "master" });
    for (let w = 1; w <= workers[c]; w++) add({ ...base, name: `${cluster}-worker-${String(w).padStart(2, "0")}`, role: "worker" });
    if (c < haproxyClusters) {
      add({ ...base, name: `${cluster}-haproxy01`, role: "haproxy" });
      add({ ...base, name: `${cluster}-haproxy02`, role: "haproxy" });
    }
  }
  for (let c = 0; c < (shape.prodClusters ?? 0); c++) {
    const s = PROD_SITES[c % PROD_SITES.length]!;
    const cluster = `prod-${s.site}-carrier${Math.floor(c / PROD_SITES.length) + 1}`;
    const base = { environment: "prod", region: s.region, cluster, labels: { site: s.site, carrier: cluster.split("-").pop()! } };
    add({ ...base, name: `${cluster}-master-01`, role: "master" });
    add({ ...base, name: `${cluster}-worker-01`, role: "worker" });
    add({ ...base, name: `${cluster}-haproxy01`, role: "haproxy" });
    add({ ...base, name: `${cluster}-haproxy02`, role: "haproxy" });
  }
  return out;
}
