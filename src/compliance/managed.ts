import type { Machine } from "../inventory/schema";
import { planRollout } from "../plan/planner";
import type { WaveFile } from "../waves/schema";

/**
 * The machines of an inventory that a stack's wave file puts in some wave: what that stack
 * answers for. Which wave a machine lands in can depend on the build (samples), but whether it
 * lands in one does not, so any build number serves.
 */
export function managedMachines(inventory: readonly Machine[], waves: WaveFile): Machine[] {
  const plan = planRollout([...inventory], waves, "1");
  const taken = new Set(plan.waves.flatMap((w) => w.clusters.flatMap((c) => c.nodes)));
  return inventory.filter((m) => taken.has(m.name));
}
