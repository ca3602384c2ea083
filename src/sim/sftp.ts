import { createHash } from "crypto";
import * as path from "path";
import { utils, type SFTPWrapper } from "ssh2";
import type { SimMachine } from "./machine";

/**
 * The SFTP subset the command provider's CopyToRemote uses (stat, mkdir -p, create + write,
 * close, chmod, realpath) on a simulated machine. Written content is hashed on close and only
 * the hash is kept: the sim needs to know *which* agent was copied, not its bytes.
 */

const { STATUS_CODE } = utils.sftp;
const MAX_UPLOAD = 16 * 1024 * 1024;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

interface Upload {
  path: string;
  chunks: { offset: number; data: Buffer }[];
  size: number;
  mode: number;
}

function isDir(m: SimMachine, p: string, home: string): boolean {
  if (p === "/" || p === "/home" || p === home || m.dirs.has(p)) return true;
  const prefix = p.endsWith("/") ? p : `${p}/`;
  for (const f of m.files.keys()) if (f.startsWith(prefix)) return true;
  return false;
}

export function serveSftp(m: SimMachine, sftp: SFTPWrapper, user: string): void {
  const home = m.homeOf(user);
  const abs = (p: string) => path.posix.resolve(home, p || ".");
  const handles = new Map<number, Upload>();
  let next = 1;
  const now = () => Math.floor(Date.now() / 1000);
  const attrsOf = (p: string) => {
    const f = m.files.get(p);
    if (f) return { mode: S_IFREG | f.mode, uid: 0, gid: 0, size: f.size, atime: now(), mtime: now() };
    if (isDir(m, p, home)) return { mode: S_IFDIR | 0o755, uid: 0, gid: 0, size: 4096, atime: now(), mtime: now() };
    return null;
  };
  const handleOf = (b: Buffer) => (b.length === 4 ? b.readUInt32BE(0) : -1);

  // The client's EOF ends the subsystem: close the channel, or clients that wait for it (pkg/sftp's
  // Close, OpenSSH's sftp) hang.
  sftp.on("end", () => sftp.end());
  sftp.on("REALPATH", (id, p) => {
    const r = abs(p);
    sftp.name(id, [{ filename: r, longname: r, attrs: {} as never }]);
  });
  const stat = (id: number, p: string) => {
    const a = attrsOf(abs(p));
    if (a) sftp.attrs(id, a);
    else sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
  };
  sftp.on("STAT", stat);
  sftp.on("LSTAT", stat);
  sftp.on("MKDIR", (id, p) => {
    const d = abs(p);
    if (attrsOf(d)) return sftp.status(id, STATUS_CODE.FAILURE, "file exists");
    if (!isDir(m, path.posix.dirname(d), home)) return sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
    m.dirs.add(d);
    sftp.status(id, STATUS_CODE.OK);
  });
  sftp.on("OPEN", (id, filename, flags, attrs) => {
    const p = abs(filename);
    const WRITE = utils.sftp.OPEN_MODE.WRITE;
    if (!(flags & WRITE)) return sftp.status(id, STATUS_CODE.OP_UNSUPPORTED, "the sim stores file hashes only: reading is not supported");
    if (!isDir(m, path.posix.dirname(p), home)) return sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
    if (user !== "root" && !p.startsWith(`${home}/`)) return sftp.status(id, STATUS_CODE.PERMISSION_DENIED);
    const h = next++;
    handles.set(h, { path: p, chunks: [], size: 0, mode: typeof attrs?.mode === "number" ? attrs.mode & 0o7777 : 0o644 });
    const b = Buffer.alloc(4);
    b.writeUInt32BE(h, 0);
    sftp.handle(id, b);
  });
  sftp.on("WRITE", (id, handle, offset, data) => {
    const u = handles.get(handleOf(handle));
    if (!u) return sftp.status(id, STATUS_CODE.FAILURE, "bad handle");
    if (offset + data.length > MAX_UPLOAD) return sftp.status(id, STATUS_CODE.FAILURE, "file too large for the sim");
    u.chunks.push({ offset, data: Buffer.from(data) });
    u.size = Math.max(u.size, offset + data.length);
    sftp.status(id, STATUS_CODE.OK);
  });
  sftp.on("FSTAT", (id, handle) => {
    const u = handles.get(handleOf(handle));
    if (!u) return sftp.status(id, STATUS_CODE.FAILURE, "bad handle");
    sftp.attrs(id, { mode: S_IFREG | u.mode, uid: 0, gid: 0, size: u.size, atime: now(), mtime: now() });
  });
  const setMode = (p: string, mode: number | undefined) => {
    const f = m.files.get(p);
    if (f && typeof mode === "number") m.files.set(p, { ...f, mode: mode & 0o7777 });
  };
  sftp.on("SETSTAT", (id, p, attrs) => {
    const a = abs(p);
    if (!attrsOf(a)) return sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
    setMode(a, attrs.mode);
    sftp.status(id, STATUS_CODE.OK);
  });
  sftp.on("FSETSTAT", (id, handle, attrs) => {
    const u = handles.get(handleOf(handle));
    if (!u) return sftp.status(id, STATUS_CODE.FAILURE, "bad handle");
    if (typeof attrs.mode === "number") u.mode = attrs.mode & 0o7777;
    sftp.status(id, STATUS_CODE.OK);
  });
  sftp.on("CLOSE", (id, handle) => {
    const h = handleOf(handle);
    const u = handles.get(h);
    if (!u) return sftp.status(id, STATUS_CODE.FAILURE, "bad handle");
    handles.delete(h);
    const content = Buffer.alloc(u.size);
    for (const c of u.chunks) c.data.copy(content, c.offset);
    m.files.set(u.path, { sha256: createHash("sha256").update(content).digest("hex"), size: u.size, mode: u.mode });
    m.record("sftp-write", 0, u.path);
    sftp.status(id, STATUS_CODE.OK);
  });
  for (const op of ["READ", "OPENDIR", "READDIR", "REMOVE", "RMDIR", "READLINK", "RENAME", "SYMLINK"] as const) {
    sftp.on(op, (id: number) => sftp.status(id, STATUS_CODE.OP_UNSUPPORTED, `${op} is not supported by the sim`));
  }
}
