import * as sinon from "sinon";
import { main } from "../../cli/main";

/**
 * Runs `smith ARGS…` in-process, capturing what it writes; `env` is applied for the call only.
 * Resets process.exitCode, which report commands set.
 */
export async function runSmith(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const o = sinon.stub(process.stdout, "write").callsFake((s: string | Uint8Array) => ((out += String(s)), true));
  const e = sinon.stub(process.stderr, "write").callsFake((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    const code = await main(["node", "smith", ...args]);
    return { code, out, err };
  } finally {
    o.restore();
    e.restore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    process.exitCode = undefined;
  }
}
