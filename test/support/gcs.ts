/**
 * fake-gcs-server (scripts/install-gcs-server.sh): a GCS JSON API emulator, in memory, on loopback.
 * The Pulumi CLI reaches it through STORAGE_EMULATOR_HOST (gocloud gcsblob), as smith's reader does.
 */
import * as fs from "fs";
import { freePort, serve, Server } from "./builds";
import { REPO_ROOT } from "./pulumi";

/** The installed fake-gcs-server, or null. */
export function fakeGcsServer(): string | null {
  const bin = `${REPO_ROOT}/.smith/tools/bin/fake-gcs-server`;
  return fs.existsSync(bin) ? bin : null;
}

export interface GcsServer extends Server {
  /** host:port, the STORAGE_EMULATOR_HOST value gocloud expects (no scheme). */
  host: string;
  /** The JSON API root (`http://host:port/storage/v1`), for the test's own requests. */
  api: string;
}

/** fake-gcs-server on a free loopback port, plain http, with one bucket. */
export async function gcsServer(bucket: string, log: string): Promise<GcsServer> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const s = await serve(fakeGcsServer()!, ["-scheme", "http", "-host", "127.0.0.1", "-port", String(port), "-backend", "memory", "-public-host", host, "-external-url", `http://${host}`], port, "/storage/v1/b", log);
  const api = `${s.url}/storage/v1`;
  const r = await fetch(`${api}/b?project=smith-test`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: bucket }) });
  if (r.status !== 200) throw new Error(`fake-gcs-server: creating bucket ${bucket}: HTTP ${r.status}`);
  return { ...s, host, api };
}
