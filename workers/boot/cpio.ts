/**
 * A writer for cpio "newc" archives, the format the Linux kernel unpacks as an initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst). Pure: no I/O, runs in a page,
 * a worker or Node.
 *
 * Each entry is a 110-byte header of ASCII fields (the magic "070701", then thirteen 8-digit
 * hexadecimal numbers), the NUL-terminated name padded to a multiple of 4 bytes, and the data
 * padded likewise; the archive ends with an entry named "TRAILER!!!".
 */

export const NEWC_MAGIC = "070701";
export const NEWC_HEADER_SIZE = 110;
export const NEWC_TRAILER = "TRAILER!!!";

/** The file-type bits of st_mode, as the kernel reads them from c_mode. */
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

/** Linux's PATH_MAX counts the terminating NUL; NAME_MAX bounds one component. */
const PATH_MAX = 4096;
const NAME_MAX = 255;
/** dev_t as the kernel splits it: 12 bits of major, 20 of minor. */
const MAJOR_MAX = 0xfff;
const MINOR_MAX = 0xfffff;

/** An entry was refused; `path` names it as the caller wrote it. */
export class CpioError extends Error {
  constructor(readonly path: string, message: string) {
    super(`cpio entry ${JSON.stringify(path)}: ${message}`);
    this.name = "CpioError";
  }
}

type Entry =
  | { kind: "directory"; name: string; mode: number }
  | { kind: "file"; name: string; mode: number; data: Uint8Array }
  | { kind: "symlink"; name: string; target: Uint8Array }
  | { kind: "charDevice"; name: string; mode: number; major: number; minor: number };

const utf8 = new TextEncoder();

/**
 * Builds an archive entry by entry. Paths are absolute ("/bin/sh"); every parent directory must
 * have been added first (the root exists already), so the kernel never has to invent one and a
 * typo in a path is caught here rather than at boot. Names are stored without the leading "/",
 * as the kernel's own gen_init_cpio writes them.
 */
export class CpioArchive {
  private readonly entries: Entry[] = [];
  /** Every path added, and whether it is a directory. */
  private readonly kinds = new Map<string, Entry["kind"]>();

  /** `mtime` (seconds since the epoch) is stamped on every entry; 0 keeps builds reproducible. */
  constructor(private readonly mtime = 0) {
    if (!Number.isInteger(mtime) || mtime < 0 || mtime > 0xffffffff) throw new RangeError(`mtime ${mtime} does not fit 32 bits`);
  }

  directory(path: string, mode = 0o755): this {
    return this.add(path, { kind: "directory", name: this.name(path), mode: this.permissions(path, mode) });
  }

  file(path: string, data: Uint8Array, mode = 0o644): this {
    if (data.length > 0xffffffff) throw new CpioError(path, `${data.length} bytes do not fit newc's 32-bit size field`);
    return this.add(path, { kind: "file", name: this.name(path), mode: this.permissions(path, mode), data });
  }

  symlink(path: string, target: string): this {
    const bytes = utf8.encode(target);
    if (bytes.length === 0 || bytes.length >= PATH_MAX || target.includes("\0")) {
      throw new CpioError(path, `symlink target must be 1..${PATH_MAX - 1} bytes without NUL`);
    }
    return this.add(path, { kind: "symlink", name: this.name(path), target: bytes });
  }

  charDevice(path: string, major: number, minor: number, mode = 0o600): this {
    if (!Number.isInteger(major) || major < 0 || major > MAJOR_MAX || !Number.isInteger(minor) || minor < 0 || minor > MINOR_MAX) {
      throw new CpioError(path, `device ${major}:${minor} outside 0..${MAJOR_MAX}:0..${MINOR_MAX}`);
    }
    return this.add(path, { kind: "charDevice", name: this.name(path), mode: this.permissions(path, mode), major, minor });
  }

  has(path: string): boolean {
    return this.kinds.has(path);
  }

  /** The archive, trailer included. */
  toBytes(): Uint8Array<ArrayBuffer> {
    const parts: Uint8Array[] = [];
    let size = 0;
    const push = (bytes: Uint8Array): void => {
      parts.push(bytes);
      size += bytes.length;
    };
    this.entries.forEach((entry, i) => {
      const ino = i + 1;
      const [mode, nlink, data, major, minor] =
        entry.kind === "directory" ? [S_IFDIR | entry.mode, 2, EMPTY, 0, 0]
        : entry.kind === "file" ? [S_IFREG | entry.mode, 1, entry.data, 0, 0]
        : entry.kind === "symlink" ? [S_IFLNK | 0o777, 1, entry.target, 0, 0]
        : [S_IFCHR | entry.mode, 1, EMPTY, entry.major, entry.minor];
      push(this.header(entry.name, { ino, mode, nlink, size: data.length, rdevMajor: major, rdevMinor: minor }));
      push(data);
      push(padding(data.length));
    });
    push(this.header(NEWC_TRAILER, { ino: 0, mode: 0, nlink: 1, size: 0, rdevMajor: 0, rdevMinor: 0 }));
    const out = new Uint8Array(size);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  private add(path: string, entry: Entry): this {
    this.kinds.set(path, entry.kind);
    this.entries.push(entry);
    return this;
  }

  /** Checks a path and its parent, and returns the stored name. */
  private name(path: string): string {
    if (!path.startsWith("/") || path === "/") throw new CpioError(path, "must be an absolute path below /");
    if (path.includes("\0")) throw new CpioError(path, "contains NUL");
    const parts = path.slice(1).split("/");
    for (const part of parts) {
      if (part === "" || part === "." || part === "..") throw new CpioError(path, "empty, '.' and '..' components are not allowed");
      if (utf8.encode(part).length > NAME_MAX) throw new CpioError(path, `a component is longer than ${NAME_MAX} bytes`);
    }
    const name = parts.join("/");
    if (utf8.encode(name).length + 1 > PATH_MAX) throw new CpioError(path, `longer than PATH_MAX (${PATH_MAX} bytes with its NUL)`);
    if (this.kinds.has(path)) throw new CpioError(path, "added twice");
    const parent = path.slice(0, path.lastIndexOf("/"));
    if (parent !== "") {
      const kind = this.kinds.get(parent);
      if (kind === undefined) throw new CpioError(path, `parent directory ${parent} has not been added`);
      if (kind !== "directory") throw new CpioError(path, `parent ${parent} is a ${kind}, not a directory`);
    }
    return name;
  }

  private permissions(path: string, mode: number): number {
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new CpioError(path, `mode 0o${mode.toString(8)} is not a permission mask (0..0o7777)`);
    return mode;
  }

  private header(name: string, f: { ino: number; mode: number; nlink: number; size: number; rdevMajor: number; rdevMinor: number }): Uint8Array {
    const nameBytes = utf8.encode(name);
    const fields = [f.ino, f.mode, 0, 0, f.nlink, this.mtime, f.size, 0, 0, f.rdevMajor, f.rdevMinor, nameBytes.length + 1, 0];
    const text = NEWC_MAGIC + fields.map((v) => v.toString(16).padStart(8, "0")).join("");
    // Header and name together are padded to 4 bytes; the zero fill supplies the NUL.
    const total = NEWC_HEADER_SIZE + nameBytes.length + 1;
    const out = new Uint8Array(total + ((4 - (total % 4)) % 4));
    out.set(utf8.encode(text), 0);
    out.set(nameBytes, NEWC_HEADER_SIZE);
    return out;
  }
}

const EMPTY = new Uint8Array(0);

function padding(length: number): Uint8Array {
  return new Uint8Array((4 - (length % 4)) % 4);
}

/** gzip through the standard CompressionStream (pages, workers and Node 20 alike). */
export async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
