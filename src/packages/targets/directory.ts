import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { DirectoryMirrorConfig } from "../config";
import { filesUnder } from "../layout";
import type { MirrorTarget } from "./target";

/** A directory served over HTTP (or rsync'd onwards): each file written beside and renamed in. */
export class DirectoryTarget implements MirrorTarget {
  readonly name: string;
  readonly where: string;

  constructor(private readonly cfg: DirectoryMirrorConfig) {
    this.name = cfg.name;
    this.where = `directory ${cfg.path}`;
  }

  private abs(rel: string): string {
    return path.join(this.cfg.path, rel);
  }

  async read(rel: string): Promise<Buffer | null> {
    try {
      return await fs.promises.readFile(this.abs(rel));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  }

  async storedHash(rel: string): Promise<string | null> {
    const b = await this.read(rel);
    return b === null ? null : createHash("sha256").update(b).digest("hex");
  }

  async write(rel: string, body: Buffer): Promise<void> {
    const file = this.abs(rel);
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.smith-${process.pid}`);
    await fs.promises.writeFile(tmp, body, { mode: 0o644 });
    await fs.promises.rename(tmp, file);
  }

  async list(prefix: string): Promise<string[]> {
    const dir = this.abs(prefix);
    if (!fs.existsSync(dir)) return [];
    return filesUnder(dir).map((f) => `${prefix.replace(/\/$/, "")}/${f}`);
  }

  async remove(rels: string[]): Promise<void> {
    for (const r of rels) await fs.promises.rm(this.abs(r), { force: true });
    // Drop directories left empty (deepest first), never the mirror root.
    const dirs = new Set<string>();
    for (const r of rels) for (let d = path.dirname(r); d !== "." && d !== "/"; d = path.dirname(d)) dirs.add(d);
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
      try {
        await fs.promises.rmdir(this.abs(d));
      } catch {
        // not empty, or gone
      }
    }
  }
}
