import { CONFIG_NAMESPACE, parseStackConfig, StackConfig } from "../config/stack-config";
import { pulumiJson, PulumiRunner } from "./pulumi-cli";

/**
 * A stack's validated `smith:` config as the CLI reports it (`pulumi config --json`), the same
 * validation the program applies. Secret values are never read here: they stay `<secret>`.
 */
export async function readStackSettings(runner: PulumiRunner, stack: string, projectDir: string): Promise<StackConfig> {
  const all = (await pulumiJson(runner, ["config", "--json", "-s", stack], `--stack ${stack}`)) as Record<string, { value?: string; secret?: boolean }>;
  const values: Record<string, string> = {};
  const secret = new Set<string>();
  const prefix = `${CONFIG_NAMESPACE}:`;
  for (const [k, v] of Object.entries(all ?? {})) {
    if (!k.startsWith(prefix)) continue;
    const key = k.slice(prefix.length);
    if (v.secret) secret.add(key);
    values[key] = v.secret ? "<secret>" : (v.value ?? "");
  }
  return parseStackConfig({ values, secret }, projectDir);
}
