/**
 * Azurite (npm `azurite`, installed by scripts/install-azure-server.sh under .smith/tools/azurite):
 * Microsoft's Azure Storage emulator, blob service only, on loopback, with its documented
 * development account.
 */
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { freePort, serve, Server } from "./builds";
import { REPO_ROOT } from "./pulumi";

/** The emulator's well-known account and key (public: every Azurite doc prints them). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** azurite-blob from scripts/install-azure-server.sh's prefix, else from PATH, else null. */
export function azuriteBlob(): string | null {
  const bin = path.join(REPO_ROOT, ".smith", "tools", "azurite", "node_modules", ".bin", "azurite-blob");
  if (fs.existsSync(bin)) return bin;
  return spawnSync("sh", ["-c", "command -v azurite-blob"]).status === 0 ? "azurite-blob" : null;
}

export interface AzuriteServer extends Server {
  /** The container's URL (`http://127.0.0.1:PORT/devstoreaccount1/<container>`). */
  containerUrl: string;
  container: ContainerClient;
}

/** azurite's blob service on a free loopback port with its data in `dir`, and one container. */
export async function azuriteServer(containerName: string, dir: string, log: string): Promise<AzuriteServer> {
  const port = await freePort();
  // --skipApiVersionCheck: the CLI's Go SDK may speak a newer REST version than this azurite knows.
  const s = await serve(azuriteBlob()!, ["--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", dir, "--skipApiVersionCheck", "--silent"], port, "/", log);
  const containerUrl = `${s.url}/${AZURITE_ACCOUNT}/${containerName}`;
  const container = new ContainerClient(containerUrl, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
  await container.create();
  return { ...s, containerUrl, container };
}
