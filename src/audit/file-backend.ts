import * as fs from "fs";
import * as path from "path";
import { UserError } from "../errors";
import { DiyHistory, ObjectStore, StoredObject } from "./diy-history";

/** Pulumi's local file backend (`file://DIR`): the directory as an ObjectStore. */
export class FileStore implements ObjectStore {
  constructor(
    /** The backend directory (what follows `file://`). */
    private readonly dir: string,
  ) {}

  describe(): string {
    return `file://${this.dir}`;
  }

  where(key: string): string {
    return path.join(this.dir, key);
  }

  async list(dir: string): Promise<StoredObject[]> {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(this.where(dir), { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") return [];
      throw new UserError(`${this.where(dir)}: cannot list (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return entries.filter((e) => e.isFile()).map((e) => ({ key: `${dir}/${e.name}`, modified: fs.statSync(this.where(`${dir}/${e.name}`)).mtime }));
  }

  async read(key: string): Promise<Buffer> {
    try {
      return fs.readFileSync(this.where(key));
    } catch (e) {
      throw new UserError(`${this.where(key)}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
}

/** The file backend's history (DiyHistory over a FileStore). */
export class FileBackendHistory extends DiyHistory {
  constructor(dir: string, project: string) {
    super(new FileStore(dir), project);
  }
}
