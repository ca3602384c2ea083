import * as pulumi from "@pulumi/pulumi";
import { readInputFileSync } from "../src/inventory/read-file";
import { CONFIG_NAMESPACE, parseStackConfig, StackConfig } from "../src/config/stack-config";

export interface LoadedConfig {
  config: StackConfig;
  /**
   * The SSH private key, always a secret Output (never plain text in state or logs). A function:
   * the key file is read only after the stack passed its safety checks.
   */
  privateKey: () => pulumi.Output<string>;
}

/**
 * Reads and validates the `smith:` stack config. Secret values are replaced by a placeholder
 * before validation, so no error message can ever contain one.
 */
export function readStackConfig(projectDir: string = process.cwd()): LoadedConfig {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const values: Record<string, string> = {};
  const secret = new Set<string>();
  for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    const isSecret = isConfigSecret(fullKey);
    if (isSecret) secret.add(key);
    values[key] = isSecret ? "<secret>" : value;
  }
  const config = parseStackConfig({ values, secret }, projectDir);
  const privateKey = () =>
    config.privateKeySource === "secret"
      ? new pulumi.Config(CONFIG_NAMESPACE).requireSecret("sshPrivateKey")
      : pulumi.secret(readKeyFile(config.sshPrivateKeyPath!));
  return { config, privateKey };
}

/** The runtime knows which keys the stack file stores encrypted; the SDK marks the function internal. */
function isConfigSecret(key: string): boolean {
  const rt = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
  return rt.isConfigSecret?.(key) ?? false;
}

function readKeyFile(file: string): string {
  return readInputFileSync(file, { what: `${CONFIG_NAMESPACE}:sshPrivateKeyPath key file`, maxBytes: 64 * 1024 });
}
