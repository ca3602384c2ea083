import { z } from "zod";

/**
 * Characters allowed in names and labels that end up in resource names, logs and remote command
 * arguments. Remote commands quote every value anyway; this keeps inventories boring on purpose.
 */
export const SAFE_TOKEN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** A DNS name, IPv4 or IPv6 address: no spaces, quotes or shell metacharacters. */
export const SAFE_HOST = /^[A-Za-z0-9][A-Za-z0-9.:-]*$/;

const token = (what: string) =>
  z.string().regex(SAFE_TOKEN, { message: `${what} must be letters, digits, '.', '_' or '-'` });

export const MachineSchema = z
  .object({
    name: token("name"),
    host: z.string().regex(SAFE_HOST, { message: "host must be a DNS name or IP address" }),
    environment: token("environment"),
    region: token("region"),
    cluster: token("cluster"),
    role: token("role"),
    port: z.number().int().min(1).max(65535).optional(),
    user: token("user").optional(),
    /** The machine's SSH host key, one authorized_keys-format line (`ssh-ed25519 AAAA…`). */
    hostKey: z
      .string()
      .regex(/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( [^\n]*)?$/, {
        message: "hostKey must be one authorized_keys-format line, e.g. 'ssh-ed25519 AAAA…'",
      })
      .optional(),
    labels: z.record(token("label key"), z.string().regex(SAFE_TOKEN, { message: "label value must be letters, digits, '.', '_' or '-'" })).optional(),
  })
  .strict();

export const InventoryFileSchema = z.object({ machines: z.array(MachineSchema) }).strict();

export type Machine = z.infer<typeof MachineSchema>;
