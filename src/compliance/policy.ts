import * as fs from "fs";
import { z } from "zod";
import { UserError } from "../errors";
import { parseYamlWithSchema } from "../inventory/yaml-parse";
import { SEVERITIES, Severity } from "./manifest";

/**
 * A patch policy: how many days after a fix first appeared upstream every machine must have it,
 * by the severity of the advisories it fixes (examples/policy.yaml).
 */
const Days = z.number().int().nonnegative();

export const PolicySchema = z
  .object({
    /** Days per severity. A severity left out has no deadline: machines lacking such a fix are reported "unknown". */
    deadlines: z.object(Object.fromEntries(SEVERITIES.map((s) => [s, Days.optional()])) as Record<Severity, z.ZodOptional<typeof Days>>).strict(),
    /** Days for a fix no advisory names (a plain upgrade); null: no deadline. Defaults to null. */
    withoutAdvisory: Days.nullable().default(null),
    /** "Due soon" window in days. Defaults to 7. */
    dueSoonDays: Days.default(7),
  })
  .strict();
export type Policy = z.infer<typeof PolicySchema>;

/** Used when no --policy is given; the same as examples/policy.yaml. */
export const DEFAULT_POLICY: Policy = {
  deadlines: { critical: 7, high: 14, medium: 30, low: 90, negligible: 180, unknown: 30 },
  withoutAdvisory: null,
  dueSoonDays: 7,
};

export function parsePolicy(text: string, source: string): Policy {
  return parseYamlWithSchema(text, source, PolicySchema) as Policy;
}

export function loadPolicy(file: string): Policy {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(`--policy ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parsePolicy(text, file);
}
