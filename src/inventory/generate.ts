import { createHash } from "crypto";
import type { Machine } from "./schema";

/** A site (data centre) and the region it is in; names use the site, e.g. `prod-syd01-carrier2-…`. */
export interface Site {
  region: string;
  site: string;
}

export const DEFAULT_SITES: readonly Site[] = [
  { region: "ap-southeast", site: "syd01" },
  { region: "ap-south", site: "bom01" },
  { region: "eu-west", site: "dub01" },
  { region: "us-east", site: "iad01" },
  { region: "ap-southeast", site: "mel01" },
  { region: "ap-south", site: "maa01" },
  { region: "eu-west", site: "ams01" },
  { region: "us-east", site: "nyc01" },
];

export const DEFAULT_ENVIRONMENTS: readonly string[] = ["dev", "prestage", "stgiks", "prod"];

export interface FleetOptions {
  /** Total machines, exactly (test machine included). */
  machines: number;
  /** Carrier clusters, spread round-robin over environments, then sites. Required unless `clustersPerEnvironment` is given. */
  clusters?: number;
  /** Defaults to dev, prestage, stgiks, prod. Ignored when `clustersPerEnvironment` is given. */
  environments?: readonly string[];
  /** Carrier clusters of each environment (its keys are the environments, in order), spread over sites in order. */
  clustersPerEnvironment?: Record<string, number>;
  /** Defaults to `DEFAULT_SITES` (four regions, including ap-south). */
  sites?: readonly Site[];
  /** Masters per cluster. Defaults to 3. */
  masters?: number;
  /** Give every cluster a `<cluster>-haproxy01`/`-haproxy02` pair (role haproxy). Defaults to true. */
  haproxy?: boolean;
  /** Add one dev machine with role `test` (its own cluster). Defaults to true when dev is an environment. */
  testMachine?: boolean;
  /** Seed for the spread of workers over clusters. Defaults to 1. */
  seed?: number;
  /** Address of the i-th machine. Defaults to 10.x.y.z from the index. */
  host?: (name: string, index: number) => string;
  /** Add a (synthetic, deterministic) ed25519 host key per machine. Defaults to true. */
  hostKeys?: boolean;
}

/**
 * A deterministic synthetic fleet for tests, benchmarks and examples: the same options always
 * give the same machines. Clusters are `<env>-<site>-carrier<k>` with masters, workers and
 * (by default) a haproxy pair; names look like `prod-syd01-carrier2-worker-06`.
 */
export function generateFleet(opts: FleetOptions): Machine[] {
  const sites = opts.sites ?? DEFAULT_SITES;
  const layout = clusterLayout(opts, sites);
  const envs = [...new Set(layout.map((l) => l.env))];
  const masters = opts.masters ?? 3;
  const haproxy = opts.haproxy ?? true;
  const withTest = (opts.testMachine ?? envs.includes("dev")) && envs.includes("dev");
  const hostOf = opts.host ?? defaultHost;
  const hostKeys = opts.hostKeys ?? true;
  const rand = mulberry32(opts.seed ?? 1);

  const fixed = layout.length * (masters + (haproxy ? 2 : 0)) + (withTest ? 1 : 0);
  const workers = opts.machines - fixed;
  if (layout.length < 1 || workers < 0) {
    throw new Error(`generateFleet: ${opts.machines} machines cannot hold ${layout.length} clusters (${fixed} fixed nodes)`);
  }
  const perCluster = spreadWorkers(workers, layout.length, rand);

  const out: Machine[] = [];
  const add = (m: Omit<Machine, "host" | "hostKey">) => {
    // Fields in the documented order, and a labels object of its own per machine: shared objects
    // would alias each other (and come out as YAML anchors when written).
    const machine: Machine = { name: m.name, host: hostOf(m.name, out.length), environment: m.environment, region: m.region, cluster: m.cluster, role: m.role };
    if (m.labels) machine.labels = { ...m.labels };
    if (hostKeys) machine.hostKey = syntheticHostKey(m.name);
    out.push(machine);
  };
  if (withTest) {
    const s = sites[0];
    const cluster = `dev-${s.site}-test`;
    add({ name: `${cluster}-01`, environment: "dev", region: s.region, cluster, role: "test", labels: { site: s.site } });
  }
  const carriers = new Map<string, number>();
  for (let c = 0; c < layout.length; c++) {
    const { env, site: s } = layout[c];
    const key = `${env}-${s.site}`;
    const k = (carriers.get(key) ?? 0) + 1;
    carriers.set(key, k);
    const cluster = `${key}-carrier${k}`;
    const base = { environment: env, region: s.region, cluster, labels: { site: s.site, carrier: `carrier${k}` } };
    const width = perCluster[c] > 99 || masters > 99 ? 3 : 2;
    for (let i = 1; i <= masters; i++) add({ ...base, name: `${cluster}-master-${pad(i, width)}`, role: "master" });
    for (let i = 1; i <= perCluster[c]; i++) add({ ...base, name: `${cluster}-worker-${pad(i, width)}`, role: "worker" });
    if (haproxy) {
      add({ ...base, name: `${cluster}-haproxy01`, role: "haproxy" });
      add({ ...base, name: `${cluster}-haproxy02`, role: "haproxy" });
    }
  }
  return out;
}

/** Environment and site of each carrier cluster, in the order they are generated. */
function clusterLayout(opts: FleetOptions, sites: readonly Site[]): { env: string; site: Site }[] {
  const out: { env: string; site: Site }[] = [];
  if (opts.clustersPerEnvironment) {
    for (const [env, n] of Object.entries(opts.clustersPerEnvironment)) {
      for (let j = 0; j < n; j++) out.push({ env, site: sites[j % sites.length] });
    }
    return out;
  }
  const envs = opts.environments ?? DEFAULT_ENVIRONMENTS;
  for (let c = 0; c < (opts.clusters ?? 0); c++) {
    out.push({ env: envs[c % envs.length], site: sites[Math.floor(c / envs.length) % sites.length] });
  }
  return out;
}

/** Workers per cluster: an even share, then seeded shifts between neighbours so sizes vary. */
function spreadWorkers(total: number, clusters: number, rand: () => number): number[] {
  const base = Math.floor(total / clusters);
  const sizes = Array.from({ length: clusters }, (_, i) => base + (i < total % clusters ? 1 : 0));
  for (let i = 0; i + 1 < clusters; i += 2) {
    const shift = Math.floor(rand() * Math.floor(sizes[i] / 2 + 1));
    sizes[i] -= shift;
    sizes[i + 1] += shift;
  }
  return sizes;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function defaultHost(_name: string, index: number): string {
  const i = index + 1;
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/** A well-formed `ssh-ed25519` line whose key bytes derive from the name (not a real key). */
export function syntheticHostKey(name: string): string {
  const prefix = Buffer.from([0, 0, 0, 11, ...Buffer.from("ssh-ed25519"), 0, 0, 0, 32]);
  const key = createHash("sha256").update(`smith-synthetic:${name}`).digest();
  return `ssh-ed25519 ${Buffer.concat([prefix, key]).toString("base64")}`;
}

/** A small seeded PRNG: the same seed gives the same sequence (tests use it for kill points too; the sim for faults and jitter). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
