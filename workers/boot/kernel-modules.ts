/**
 * Kernel modules picked by name from an unpacked kernel package, with their dependencies.
 *
 * Debian's linux-image packages ship no modules.dep (depmod writes it when the package is
 * installed), so dependencies are read where depmod reads them: the `depends=` string in each
 * module's ELF `.modinfo` section. The package's modules.order lists every module it holds,
 * modules.builtin those compiled into the kernel. Pure: the package is reached through `read`,
 * so this runs in a page as well as in Node.
 */

/** An unpacked kernel package. */
export interface KernelTree {
  /** The kernel release (`uname -r`), e.g. "6.1.0-50-686": modules live in lib/modules/<release>/. */
  release: string;
  /** A file by its path inside the package ("boot/config-…", "lib/modules/…"); undefined when absent. */
  read(path: string): Promise<Uint8Array | undefined>;
}

/** A module to put into the initramfs. */
export interface KernelModule {
  /** Module name with underscores ("virtio_blk"). */
  name: string;
  /** Path below lib/modules/<release>/, as modules.dep writes it. */
  path: string;
  data: Uint8Array;
  /** Names of the modules it needs loaded first (its own `depends=`). */
  depends: string[];
}

export interface ResolvedModules {
  /** Every module needed, each after the modules it depends on: the order to load them in. */
  modules: KernelModule[];
  /** Names asked for that are compiled into the kernel, so nothing needs loading. */
  builtin: string[];
}

export class KernelModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KernelModuleError";
  }
}

/** "virtio-blk", "virtio_blk" and "kernel/…/virtio_blk.ko" all name the module virtio_blk. */
export function moduleName(nameOrPath: string): string {
  return nameOrPath.slice(nameOrPath.lastIndexOf("/") + 1).replace(/\.ko$/, "").replaceAll("-", "_");
}

const text = new TextDecoder();

/** Resolves `names` and everything they depend on, reading the modules from `tree`. */
export async function resolveModules(tree: KernelTree, names: readonly string[]): Promise<ResolvedModules> {
  const base = `lib/modules/${tree.release}`;
  const readText = async (path: string): Promise<string> => {
    const bytes = await tree.read(path);
    if (!bytes) throw new KernelModuleError(`the kernel package has no ${path}`);
    return text.decode(bytes);
  };
  refuseCompressedModules(await readText(`boot/config-${tree.release}`));
  const paths = new Map<string, string>();
  for (const path of lines(await readText(`${base}/modules.order`))) paths.set(moduleName(path), path);
  const builtinNames = new Set(lines(await readText(`${base}/modules.builtin`)).map(moduleName));

  const modules: KernelModule[] = [];
  const done = new Set<string>();
  const visiting: string[] = [];
  const visit = async (name: string): Promise<void> => {
    if (done.has(name) || builtinNames.has(name)) return;
    if (visiting.includes(name)) throw new KernelModuleError(`modules depend on each other in a cycle: ${[...visiting, name].join(" -> ")}`);
    const path = paths.get(name);
    if (path === undefined) {
      const via = visiting.length > 0 ? ` (needed by ${visiting[visiting.length - 1]})` : "";
      throw new KernelModuleError(`kernel ${tree.release} has no module ${name}${via}`);
    }
    const data = await tree.read(`${base}/${path}`);
    if (!data) throw new KernelModuleError(`${base}/${path} is listed in modules.order but missing from the package`);
    const info = readModinfo(data, path);
    const vermagic = info.get("vermagic")?.split(" ")[0];
    if (vermagic !== tree.release) throw new KernelModuleError(`${path} was built for kernel ${vermagic ?? "(unknown)"}, not ${tree.release}`);
    const depends = (info.get("depends") ?? "").split(",").filter((d) => d !== "").map(moduleName);
    visiting.push(name);
    for (const dep of depends) await visit(dep);
    visiting.pop();
    done.add(name);
    modules.push({ name, path, data, depends });
  };
  const requested = names.map(moduleName);
  for (const name of requested) await visit(name);
  return { modules, builtin: requested.filter((n) => builtinNames.has(n)) };
}

/**
 * modules.dep for `modules` (each line lists all of a module's dependencies, the ones to load
 * first last, as kmod's depmod writes it), so modprobe in the guest finds them too.
 */
export function modulesDep(modules: readonly KernelModule[]): string {
  const byName = new Map(modules.map((m) => [m.name, m]));
  const order = new Map(modules.map((m, i) => [m.name, i]));
  return modules.map((m) => {
    const all = new Set<string>();
    const collect = (name: string): void => {
      for (const dep of byName.get(name)?.depends ?? []) {
        if (!all.has(dep)) {
          all.add(dep);
          collect(dep);
        }
      }
    };
    collect(m.name);
    const deps = [...all].sort((a, b) => order.get(b)! - order.get(a)!).map((d) => byName.get(d)!.path);
    return `${m.path}:${deps.map((d) => ` ${d}`).join("")}\n`;
  }).join("");
}

/**
 * A module compressed by the build (.ko.xz, .ko.zst, .ko.gz) has no readable .modinfo until it is
 * unpacked, and busybox's insmod would hand it to the kernel as it is; Debian 12 builds
 * uncompressed modules (CONFIG_MODULE_COMPRESS_NONE), which is all this reader supports.
 */
function refuseCompressedModules(config: string): void {
  const compression = /^CONFIG_MODULE_COMPRESS_(GZIP|XZ|ZSTD)=y$/m.exec(config)?.[1];
  if (compression) {
    throw new KernelModuleError(`this kernel's modules are ${compression}-compressed (CONFIG_MODULE_COMPRESS_${compression}); only uncompressed modules (Debian 12's) are supported`);
  }
}

function lines(body: string): string[] {
  return body.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

/** The key=value strings of an ELF module's .modinfo section (little-endian ELF32 or ELF64). */
export function readModinfo(elf: Uint8Array, label: string): Map<string, string> {
  const fail = (why: string): never => { throw new KernelModuleError(`${label}: ${why}`); };
  if (elf.length < 64 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46) fail("not an ELF file");
  if (elf[5] !== 1) fail("not a little-endian ELF file");
  const is64 = elf[4] === 2;
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const word = (at: number): number => (is64 ? Number(view.getBigUint64(at, true)) : view.getUint32(at, true));
  const shoff = word(is64 ? 0x28 : 0x20);
  const shentsize = view.getUint16(is64 ? 0x3a : 0x2e, true);
  const shnum = view.getUint16(is64 ? 0x3c : 0x30, true);
  const shstrndx = view.getUint16(is64 ? 0x3e : 0x32, true);
  if (shoff + shnum * shentsize > elf.length || shstrndx >= shnum) fail("section headers lie outside the file");
  const section = (i: number): { name: number; offset: number; size: number } => {
    const at = shoff + i * shentsize;
    const s = { name: view.getUint32(at, true), offset: word(at + (is64 ? 0x18 : 0x10)), size: word(at + (is64 ? 0x20 : 0x14)) };
    if (s.offset + s.size > elf.length) fail(`section ${i} lies outside the file`);
    return s;
  };
  const names = section(shstrndx);
  const nameAt = (offset: number): string => {
    const start = names.offset + offset;
    const end = elf.indexOf(0, start);
    return text.decode(elf.subarray(start, end < 0 ? names.offset + names.size : end));
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (nameAt(s.name) !== ".modinfo") continue;
    const info = new Map<string, string>();
    for (const entry of text.decode(elf.subarray(s.offset, s.offset + s.size)).split("\0")) {
      const eq = entry.indexOf("=");
      if (eq > 0) info.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    return info;
  }
  return fail("has no .modinfo section");
}
