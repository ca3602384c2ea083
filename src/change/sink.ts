import type { ChangeRecord } from "./record";

/**
 * Where a rollout's change record goes besides the local files: a change-management system.
 * `open` is called once per rollout (its reference is kept in the rollout journal, so a resumed
 * run updates the same change request), `note` for every stage that ends, `close` at the end.
 */
export interface ChangeSink {
  readonly name: string;
  open(record: ChangeRecord): Promise<string>;
  note(ref: string, text: string): Promise<void>;
  close(ref: string, record: ChangeRecord): Promise<void>;
}
