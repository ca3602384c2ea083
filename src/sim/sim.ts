import type { Machine } from "../inventory/schema";
import { AGENT_REMOTE_PATH } from "../agent/command";
import { ed25519KeyPair, parsePublicKey, SimEndpoint } from "./endpoint";
import type { SimMachineEntry } from "./layout";
import { HistoryEntry, realSleep, SimMachine, Sleep } from "./machine";
import { SimBehaviour } from "./options";

/**
 * A simulated fleet in this process: one SimMachine + SimEndpoint per inventory entry, all
 * served by one event loop. `start` returns when every reachable machine listens.
 */

export type HostKeyMode = "machine" | "shared";

export interface SimSpec {
  machines: SimMachineEntry[];
  behaviour: SimBehaviour;
  /** The public key (authorized_keys line) the deployer logs in with. */
  authorizedKey: string;
  /** One host key per machine (default) or one for the whole sim (each inventory entry names it). */
  hostKeys?: HostKeyMode;
  sleep?: Sleep;
}

export interface SimMachineStatus {
  name: string;
  host: string;
  port: number;
  cluster: string;
  up: boolean;
  listening: boolean;
  bootId: string;
  boots: number;
  build: string | null;
  agent: string | null;
  faults: string[];
  sessions: number;
  history: HistoryEntry[];
}

export class Sim {
  readonly machines: SimMachine[] = [];
  readonly endpoints: SimEndpoint[] = [];
  /** The inventory, each machine with the host key its endpoint presents. */
  readonly inventory: Machine[] = [];
  private readonly entries: SimMachineEntry[];
  onChange: () => void = () => {};

  private constructor(spec: SimSpec) {
    this.entries = spec.machines;
    const authorized = parsePublicKey(spec.authorizedKey);
    const shared = spec.hostKeys === "shared" ? ed25519KeyPair() : null;
    for (const e of spec.machines) {
      const keys = shared ?? ed25519KeyPair();
      const m = new SimMachine({ name: e.name, role: e.role, host: e.host, port: e.port }, spec.behaviour, spec.sleep ?? realSleep);
      const ep = new SimEndpoint(m, keys.private, authorized);
      m.onPower = (up) => {
        (up ? ep.open() : ep.close()).catch((err: Error) => process.stderr.write(`smith sim: ${m.name}: ${up ? "listen" : "close"} failed: ${err.message}\n`));
      };
      m.onChange = () => this.onChange();
      this.machines.push(m);
      this.endpoints.push(ep);
      const [type, key] = keys.public.split(" ");
      this.inventory.push({ ...e, hostKey: `${type} ${key}` });
    }
  }

  static async start(spec: SimSpec): Promise<Sim> {
    const sim = new Sim(spec);
    try {
      for (const m of sim.machines) m.onPower = wrapFirstBoot(m.onPower);
      await Promise.all(sim.endpoints.map((ep) => (ep.machine.faults.unreachable ? Promise.resolve() : ep.open())));
      for (const m of sim.machines) m.boot();
    } catch (e) {
      await sim.stop();
      throw e;
    }
    return sim;
  }

  async stop(): Promise<void> {
    for (const m of this.machines) m.dispose();
    await Promise.all(this.endpoints.map((ep) => ep.close()));
  }

  machine(name: string): SimMachine | undefined {
    return this.machines.find((m) => m.name === name);
  }

  status(): SimMachineStatus[] {
    return this.machines.map((m, i) => ({
      name: m.name,
      host: m.host,
      port: m.port,
      cluster: this.entries[i]!.cluster,
      up: m.up,
      listening: this.endpoints[i]!.listening,
      bootId: m.bootId,
      boots: m.boots,
      build: m.build,
      agent: m.files.get(AGENT_REMOTE_PATH)?.sha256 ?? null,
      faults: Object.entries(m.faults).filter(([, v]) => v).map(([k]) => k),
      sessions: this.endpoints[i]!.sessions,
      history: m.history,
    }));
  }
}

/** The first boot opens the endpoint itself (awaited in `start`); later boots go through onPower. */
function wrapFirstBoot(onPower: (up: boolean) => void): (up: boolean) => void {
  let first = true;
  return (up) => {
    if (first && up) {
      first = false;
      return;
    }
    onPower(up);
  };
}
