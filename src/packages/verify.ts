/**
 * `smith verify`: each mirror's copy of a build against the published source, by sha256: the
 * Release files byte for byte, every index the Release lists, the manifest, and (with `pool`)
 * every package. With a public keyring configured, each mirror's InRelease signature too.
 */
import { execFile } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UserError } from "../errors";
import type { Log } from "./aptly";
import type { BuildsConfig } from "./config";
import { parseRelease } from "./deb822";
import { buildDir, buildPrefix, labelFor, MANIFEST, RELEASE_FILES, SUITE } from "./layout";
import { parseManifest } from "./manifest";
import { MirrorTarget, selectTargets } from "./targets";

export interface BadFile {
  mirror: string;
  /** Path under the mirror root, e.g. `builds/2/dists/smith/main/binary-amd64/Packages.gz`. */
  file: string;
  problem: string;
}

export interface MirrorVerifyResult {
  mirror: string;
  where: string;
  checked: number;
  bad: BadFile[];
}

export interface Expected {
  rel: string;
  sha256: string;
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** What every mirror must hold for build `n`, with the hash the source says it has. */
export function expectedFiles(c: BuildsConfig, n: number, pool: boolean): Expected[] {
  const dir = buildDir(c.publishDir, n);
  const releaseFile = path.join(dir, "dists", SUITE, "Release");
  if (!fs.existsSync(releaseFile)) throw new UserError(`build ${n} is not published in ${c.publishDir} (no ${buildPrefix(n)}/dists/${SUITE}/Release)`);
  const release = parseRelease(fs.readFileSync(releaseFile, "utf8"));
  if (release.fields.Label !== labelFor(n)) throw new UserError(`${releaseFile}: Label is ${JSON.stringify(release.fields.Label)}, not ${labelFor(n)}`);
  const out: Expected[] = [];
  for (const f of [...RELEASE_FILES, MANIFEST]) {
    const file = path.join(dir, f);
    if (fs.existsSync(file)) out.push({ rel: f, sha256: sha(fs.readFileSync(file)) });
  }
  // Release lists some indexes aptly did not write (e.g. uncompressed Contents): only those present count.
  for (const e of release.sha256) if (fs.existsSync(path.join(dir, "dists", SUITE, e.path))) out.push({ rel: `dists/${SUITE}/${e.path}`, sha256: e.sha256 });
  if (pool) {
    const m = parseManifest(fs.readFileSync(path.join(dir, MANIFEST), "utf8"), path.join(dir, MANIFEST));
    for (const p of m.packages) out.push({ rel: p.filename, sha256: p.sha256 });
  }
  return out;
}

function gpgv(keyring: string, data: Buffer): Promise<string | null> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "smith-verify-"));
  const f = path.join(tmp, "InRelease");
  fs.writeFileSync(f, data);
  return new Promise((resolve) => {
    execFile("gpgv", ["--keyring", keyring, f], (err, _out, stderr) => {
      fs.rmSync(tmp, { recursive: true, force: true });
      resolve(err ? (stderr.split("\n").find((l) => /BAD|NO_PUBKEY|Can't check|not found|no valid/i.test(l)) ?? stderr.trim().split("\n").pop() ?? "gpgv failed").replace(/^gpgv: /, "") : null);
    });
  });
}

async function verifyOne(t: MirrorTarget, n: number, want: Expected[], keyring: string | undefined): Promise<MirrorVerifyResult> {
  const bad: BadFile[] = [];
  const prefix = buildPrefix(n);
  let i = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (i < want.length) {
        const e = want[i++]!;
        const key = `${prefix}/${e.rel}`;
        let body: Buffer | null;
        try {
          body = await t.read(key);
        } catch (err) {
          bad.push({ mirror: t.name, file: key, problem: `unreadable: ${(err as Error).message}` });
          continue;
        }
        if (body === null) bad.push({ mirror: t.name, file: key, problem: "missing" });
        else if (sha(body) !== e.sha256) bad.push({ mirror: t.name, file: key, problem: `sha256 ${sha(body).slice(0, 12)}… != ${e.sha256.slice(0, 12)}…` });
        else if (keyring && e.rel.endsWith("/InRelease")) {
          const why = await gpgv(keyring, body);
          if (why) bad.push({ mirror: t.name, file: key, problem: `signature: ${why}` });
        }
      }
    }),
  );
  bad.sort((a, b) => a.file.localeCompare(b.file));
  return { mirror: t.name, where: t.where, checked: want.length, bad };
}

export async function verifyBuild(c: BuildsConfig, n: number, o: { pool?: boolean; log?: Log; only?: string[]; targets?: (c: BuildsConfig) => MirrorTarget[] } = {}): Promise<MirrorVerifyResult[]> {
  const want = expectedFiles(c, n, o.pool ?? false);
  const targets = selectTargets(c, o.only, o.targets);
  return Promise.all(
    targets.map(async (t) => {
      o.log?.(`${t.name}: checking ${want.length} files at ${t.where}`);
      return verifyOne(t, n, want, c.signing.publicKeyring);
    }),
  );
}
