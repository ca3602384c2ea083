/**
 * Build manifests (contract 2) for the lab's demo builds, for compliance tests: build N ships
 * version 1.(N-1) of each demo package (scripts/lab/pkgs.sh). Dates and advisories are chosen by
 * the test, so due dates are exact.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

export interface DemoFix {
  firstSeen: string;
  advisories: { id: string; severity: string; published: string }[];
}

const PACKAGES = ["smith-demo-conf", "smith-demo-kernel", "smith-demo-svc"];
const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

/** The manifest of demo build `n`; `fixes[pkg]` gives each upgraded package's date and advisories. */
export function demoManifest(n: number, createdAt: string, fixes: Record<string, DemoFix>): unknown {
  const v = (b: number) => `1.${b - 1}`;
  const packages = PACKAGES.map((name) => ({ name, version: v(n), architecture: "all", sha256: sha(`${name}${n}`), size: 1000, filename: `pool/main/s/${name}/${name}_${v(n)}_all.deb` }));
  const fix = (name: string): DemoFix => fixes[name] ?? { firstSeen: createdAt, advisories: [] };
  return {
    schema: "smith.build-manifest/v1",
    build: String(n),
    previous: n === 1 ? null : String(n - 1),
    createdAt,
    release: { origin: "smith", label: `smith-build-${n}`, suite: "smith", releaseSha256: sha(`release${n}`) },
    packages,
    diff: {
      added: n === 1 ? PACKAGES.map((name) => ({ name, version: v(1), ...fix(name) })) : [],
      upgraded: n === 1 ? [] : PACKAGES.map((name) => ({ name, from: v(n - 1), to: v(n), ...fix(name) })),
      removed: [],
    },
  };
}

/** Writes `<dir>/<n>/manifest.json` for each build; returns `dir`. */
export function writeManifests(dir: string, manifests: Record<number, unknown>): string {
  for (const [n, m] of Object.entries(manifests)) {
    fs.mkdirSync(path.join(dir, n), { recursive: true });
    fs.writeFileSync(path.join(dir, n, "manifest.json"), JSON.stringify(m, null, 2));
  }
  return dir;
}

/** The manifests the audit tests use: build 2 fixes a medium advisory, build 3 a high one. */
export function auditTestManifests(): Record<number, unknown> {
  const adv = (id: string, severity: string, published: string) => ({ id, severity, published });
  return {
    1: demoManifest(1, "2026-10-01T00:00:00Z", {}),
    2: demoManifest(2, "2026-11-02T00:00:00Z", {
      "smith-demo-kernel": { firstSeen: "2026-11-01T00:00:00Z", advisories: [adv("DSA-LAB-2", "medium", "2026-11-01T00:00:00Z")] },
    }),
    3: demoManifest(3, "2026-11-21T00:00:00Z", {
      "smith-demo-kernel": { firstSeen: "2026-11-20T00:00:00Z", advisories: [adv("DSA-LAB-3", "high", "2026-11-20T00:00:00Z")] },
      "smith-demo-svc": { firstSeen: "2026-11-20T00:00:00Z", advisories: [adv("DLA-LAB-3", "low", "2026-11-20T00:00:00Z")] },
    }),
  };
}
