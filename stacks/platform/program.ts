import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { UserError } from "../../src/errors";
import { parsePlatformConfig, PLATFORM_SECRET_KEYS, PlatformConfig, PlatformSecretKey } from "../../src/platform/config";
import { Platform } from "../../components/platform/platform";

/**
 * The platform program: `smith:` stack config → a Kubernetes provider (a cluster, or manifests
 * rendered to `smith:renderDir` with no cluster at all) → the Platform component.
 */
export async function main(projectDir: string = process.cwd()): Promise<Record<string, unknown>> {
  try {
    return program(projectDir);
  } catch (err) {
    if (err instanceof UserError) {
      const runError = new pulumi.RunError(err.message);
      runError.stack = err.message; // see stacks/program.ts userRunError
      throw runError;
    }
    throw err;
  }
}

function program(projectDir: string): Record<string, unknown> {
  const config = readPlatformConfig(projectDir);
  const cfg = new pulumi.Config("smith");
  const secret = (k: PlatformSecretKey) => (config.secrets.has(k) ? cfg.requireSecret(k) : undefined);

  const provider = new k8s.Provider("kubernetes", {
    ...(config.renderDir ? { renderYamlToDirectory: config.renderDir } : {}),
    // A path, not the contents: the client key stays out of the state.
    ...(config.kubeconfig && !config.renderDir ? { kubeconfig: config.kubeconfig } : {}),
    ...(config.kubeContext ? { context: config.kubeContext } : {}),
  });
  const platform = new Platform(
    "smith",
    {
      config,
      secrets: {
        signingKey: secret("signingKey")!,
        escalationWebhook: secret("escalationWebhook")!,
        backendUrl: secret("backendUrl")!,
        configPassphrase: secret("configPassphrase"),
        sshPrivateKey: secret("sshPrivateKey"),
      },
      buildsFile: readFile(config.buildsFile, "buildsFile"),
    },
    { providers: { kubernetes: provider } },
  );
  return {
    namespace: platform.base.namespace.metadata.name,
    mirrorService: platform.mirror.service.metadata.name,
    builderSchedule: config.builderSchedule,
    rolloutJobs: pulumi.all(platform.rollouts.flatMap((r) => r.jobs.map((j) => j.metadata.name))),
    renderDir: config.renderDir ?? null,
  };
}

function readPlatformConfig(projectDir: string): PlatformConfig {
  const values: Record<string, string> = {};
  const secret = new Set<string>();
  const rt = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
  for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (!fullKey.startsWith("smith:")) continue;
    const key = fullKey.slice("smith:".length);
    const isSecret = rt.isConfigSecret?.(fullKey) ?? false;
    if (isSecret) secret.add(key);
    values[key] = isSecret || (PLATFORM_SECRET_KEYS as readonly string[]).includes(key) ? "<secret>" : value;
  }
  return parsePlatformConfig({ values, secret }, projectDir);
}

function readFile(file: string, key: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new UserError(`config: smith:${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}
