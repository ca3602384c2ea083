import type { PatchEvent } from "../audit/events";
import { nodeSteps } from "../audit/events";
import type { StackRecord } from "../audit/types";
import type { MachineFacts } from "./evaluate";

/**
 * Where each machine of a stack is, from its history: every machine of the inventory, the
 * current state and any past patch event. The build is the latest event's; `since` is when the
 * machine first finished a patch to that build after last being at another one.
 */
export function machineFacts(record: StackRecord, events: readonly PatchEvent[], inventory: readonly string[]): MachineFacts[] {
  const names = new Set<string>([...inventory, ...nodeSteps(record.current).keys(), ...events.filter((e) => e.stack === record.stack).map((e) => e.machine)]);
  const inInventory = new Set(inventory);
  const byMachine = new Map<string, PatchEvent[]>();
  for (const e of events) {
    if (e.stack !== record.stack) continue;
    const list = byMachine.get(e.machine) ?? [];
    list.push(e);
    byMachine.set(e.machine, list);
  }
  return [...names].sort().map((machine) => {
    const list = (byMachine.get(machine) ?? []).sort((a, b) => Date.parse(a.finishedAt) - Date.parse(b.finishedAt));
    const last = list[list.length - 1];
    let since: string | null = null;
    for (let i = list.length - 1; i >= 0 && list[i]!.build === last?.build; i--) since = list[i]!.finishedAt;
    return { stack: record.stack, machine, build: last?.build ?? null, since, inInventory: inInventory.has(machine) };
  });
}
