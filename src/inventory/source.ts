import { loadInventory } from "./load";
import type { Machine } from "./schema";

/**
 * Where machines come from. The YAML files are the default; a future source (a Kubernetes API,
 * an HTTP CMDB) implements the same two methods and validates with the same `MachineSchema`.
 */
export interface InventorySource {
  /** One human-readable line naming the source, for logs and error messages. */
  describe(): string;
  /** Reads the machines fresh (never cached between runs); throws `UserError` on bad input. */
  load(): Promise<Machine[]>;
}

/** Machines merged from several YAML files; a name repeated across files is an error. */
export class YamlInventorySource implements InventorySource {
  constructor(private readonly paths: string[]) {}

  describe(): string {
    return `YAML inventory ${this.paths.join(", ")}`;
  }

  load(): Promise<Machine[]> {
    return loadInventory(this.paths);
  }
}
