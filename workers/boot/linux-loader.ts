/**
 * Direct kernel boot by the Linux/x86 32-bit boot protocol (Documentation/arch/x86/boot.rst,
 * "32-bit Boot Protocol"): no BIOS and no real-mode setup code run. The loader places the
 * protected-mode kernel, the initrd and the command line in guest RAM, fills the "zero page"
 * (struct boot_params: the copied setup header, the e820 map, the pointers), and returns the
 * register state the kernel's 32-bit entry expects: flat segments from a GDT with __BOOT_CS (0x10)
 * and __BOOT_DS (0x18), paging and interrupts off, ESI pointing at boot_params.
 *
 * The protected-mode kernel is mostly a decompressor, which under our interpreter takes far
 * longer than the rest of the boot. So when the payload is XZ and the kernel can run at its
 * pref_address, the loader does that decompressor's job itself (workers/boot/vmlinux.ts): it
 * places vmlinux's segments where the decompressor would put them with the kernel loaded at
 * LOAD_PHYSICAL_ADDR (= pref_address), where it applies no relocations and no KASLR, and enters
 * vmlinux at its ELF entry with the same registers. Otherwise the kernel unpacks itself.
 */
import { flatProtectedMode, REG, type RegisterEntry } from "../registers";
import { HDR, parseBzImage, type BzImage } from "./bzimage";
import { unpackVmlinux, type Vmlinux } from "./vmlinux";

/** An e820 range (boot_params.e820_table entry: u64 address, u64 size, u32 type). */
export interface E820Entry { address: number; size: number; type: E820Type }

/** e820 types Linux knows (arch/x86/include/asm/e820/types.h). */
export const E820 = { ram: 1, reserved: 2, acpi: 3 } as const;
export type E820Type = (typeof E820)[keyof typeof E820];

/** What to boot, and into what. */
export interface LinuxBootOptions {
  /** The bzImage file. */
  kernel: Uint8Array;
  /** The initramfs, if any. */
  initrd?: Uint8Array;
  /** The kernel command line (ASCII). */
  cmdline: string;
  /** Guest RAM, from guest physical 0 (the board maps RAM there). */
  ram: Uint8Array;
  /** The physical memory map the kernel is told about; RAM ranges must lie inside `ram`. */
  e820: readonly E820Entry[];
  /** RSDP address for boot_params.acpi_rsdp_addr, when the board wrote ACPI tables. */
  acpiRsdp?: number;
  /**
   * The kernel's payload unpacked ahead of time (guest:fetch caches it beside the image): used
   * instead of decoding the payload when the payload's own CRCs say it is its content, else ignored.
   */
  vmlinux?: Uint8Array;
  /** Let the kernel unpack itself even when the loader could (much slower here; keeps KASLR). */
  selfDecompress?: boolean;
}

/** Who unpacked the kernel: the loader (entered at vmlinux's ELF entry) or the kernel itself; and why. */
export interface KernelPath {
  unpackedBy: "loader" | "kernel";
  note: string;
}

/** Where things went, for logs and tests. */
export interface LinuxBootPlacement {
  bootParams: number;
  cmdline: number;
  kernel: { address: number; size: number };
  initrd?: { address: number; size: number };
  protocol: number;
  kernelPath: KernelPath;
  /** The 32-bit entry's register state, for the tag/value accessors. */
  registers: RegisterEntry[];
}

/** The fixed low-memory spots the loader uses, clear of the real-mode IVT and BIOS data area (0-0x4ff). */
const GDT_GPA = 0x500;
const BOOT_PARAMS_GPA = 0x7000;
const CMDLINE_GPA = 0x20000;
/** boot_params is one page. */
const BOOT_PARAMS_SIZE = 0x1000;
/** boot_params fields outside the setup header (arch/x86/include/uapi/asm/bootparam.h). */
const BP = { acpiRsdpAddr: 0x070, e820Entries: 0x1e8, sentinel: 0x1ef, e820Table: 0x2d0 } as const;
const E820_MAX_ENTRIES = 128;
const E820_ENTRY_SIZE = 20;
/** type_of_loader 0xff: "undefined" loader (boot.rst), as other VMMs report themselves. */
const LOADER_TYPE_UNDEFINED = 0xff;
/**
 * Highest end of the initrd: the 32-bit kernel reads it through its direct map, which covers
 * only low memory (896 MiB minus the vmalloc reserve); stay well below that.
 */
const LOWMEM_INITRD_LIMIT = 0x37000000;

/**
 * The boot GDT: null, null, then __BOOT_CS = 0x10 (flat 32-bit code, execute/read) and
 * __BOOT_DS = 0x18 (flat 32-bit data, read/write), both base 0 and limit 4 GiB.
 */
const BOOT_GDT = new Uint8Array([
  0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0,
  0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0,
  0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0,
]);

/** Where writeFirmwareTables puts the MP and ACPI tables (the BIOS area Linux scans). */
const FIRMWARE_START = 0xf0000;
const FIRMWARE_END = 0x100000;

const mib = (bytes: number): string => `${(bytes / (1 << 20)).toFixed(1)} MiB`;
const hex = (value: number): string => `0x${value.toString(16)}`;
const alignDown = (value: number, alignment: number): number => value - (value % alignment);

function setU32(data: Uint8Array, at: number, value: number): void {
  new DataView(data.buffer, data.byteOffset, data.byteLength).setUint32(at, value >>> 0, true);
}

function setU64(data: Uint8Array, at: number, value: number): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  view.setUint32(at, value >>> 0, true);
  view.setUint32(at + 4, Math.floor(value / 0x100000000), true);
}

/** The end of RAM the kernel may use from `address` on, per the e820 map (0 when not RAM). */
function ramEndFrom(e820: readonly E820Entry[], address: number): number {
  const range = e820.find((entry) => entry.type === E820.ram && entry.address <= address && address < entry.address + entry.size);
  return range ? range.address + range.size : 0;
}

function checkE820(e820: readonly E820Entry[], ramBytes: number): void {
  if (e820.length === 0 || e820.length > E820_MAX_ENTRIES) throw new RangeError(`an e820 map has 1 to ${E820_MAX_ENTRIES} entries, not ${e820.length}`);
  for (const entry of e820) {
    if (entry.type === E820.ram && entry.address + entry.size > ramBytes) {
      throw new RangeError(`e820 RAM range ${entry.address.toString(16)}+${entry.size.toString(16)} ends beyond the ${mib(ramBytes)} of guest RAM`);
    }
  }
}

/** From the lowest segment's start to the highest segment's end. */
function vmlinuxExtent(vmlinux: Vmlinux): { address: number; size: number } {
  const address = Math.min(...vmlinux.segments.map((segment) => segment.address));
  return { address, size: Math.max(...vmlinux.segments.map((segment) => segment.address + segment.memSize)) - address };
}

/** Where the kernel will unpack itself, and up to where it needs memory to do so (boot.rst, init_size). */
function kernelFootprint(image: BzImage): number {
  const runAddress = image.relocatable ? Math.max(image.prefAddress, image.code32Start) : image.prefAddress;
  return Math.max(runAddress + image.initSize, image.code32Start + image.kernel.length);
}

/** Low-memory areas the loader and the board fill, which kernel segments must not cover. */
function fixedAreas(image: BzImage): [start: number, end: number, what: string][] {
  return [
    [GDT_GPA, GDT_GPA + BOOT_GDT.length, "the boot GDT"],
    [BOOT_PARAMS_GPA, BOOT_PARAMS_GPA + BOOT_PARAMS_SIZE, "boot_params"],
    [CMDLINE_GPA, CMDLINE_GPA + image.cmdlineSize + 1, "the command line"],
    [FIRMWARE_START, FIRMWARE_END, "the firmware tables"],
  ];
}

/**
 * The kernel unpacked by the loader, or why the kernel must unpack itself. Nothing here writes
 * to RAM, and nothing here throws: every way this path can fail leaves the other one.
 */
function unpackForLoader(image: BzImage, e820: readonly E820Entry[], cached: Uint8Array | undefined): { vmlinux?: Vmlinux; note: string } {
  if (!image.payload) return { note: "the kernel unpacks itself: its header names no payload (payload_offset and payload_length, protocol 2.08+)" };
  if (ramEndFrom(e820, image.prefAddress) < image.prefAddress + image.initSize) {
    return { note: `the kernel unpacks itself: RAM is too small for it to run at ${hex(image.prefAddress)}` };
  }
  const started = performance.now();
  let vmlinux: Vmlinux;
  try {
    vmlinux = unpackVmlinux(image.payload, cached);
  } catch (error) {
    return { note: `the kernel unpacks itself: ${(error as Error).message}` };
  }
  for (const segment of vmlinux.segments) {
    const end = segment.address + segment.memSize;
    const range = `${hex(segment.address)}-${hex(end)}`;
    const area = fixedAreas(image).find(([start, areaEnd]) => segment.address < areaEnd && start < end);
    if (area) return { note: `the kernel unpacks itself: vmlinux's segment at ${range} would cover ${area[2]}` };
    if (ramEndFrom(e820, segment.address) < end) return { note: `the kernel unpacks itself: vmlinux's segment at ${range} is not in RAM` };
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  const how = vmlinux.cached
    ? `took the XZ payload's cached vmlinux (${mib(vmlinux.unpackedSize)}, checked in ${seconds} s)`
    : `unpacked the XZ payload (${mib(image.payload.length)} to ${mib(vmlinux.unpackedSize)} in ${seconds} s${cached ? "; the cached vmlinux is not this kernel's" : ""})`;
  return { vmlinux, note: `the loader ${how} and enters vmlinux at ${hex(vmlinux.entry)}` };
}

/** The initrd's address: as high as the kernel allows, page-aligned, above everything the kernel uses. */
function placeInitrd(image: BzImage, size: number, e820: readonly E820Entry[], kernelEnd: number): number {
  const highestRam = Math.max(...e820.filter((entry) => entry.type === E820.ram).map((entry) => entry.address + entry.size));
  const top = Math.min(highestRam, image.initrdAddrMax + 1, LOWMEM_INITRD_LIMIT);
  const address = alignDown(top - size, 0x1000);
  if (address < kernelEnd || ramEndFrom(e820, address) < address + size) {
    throw new RangeError(`the initrd (${mib(size)}) does not fit in guest RAM beside the kernel, which uses memory up to ${mib(kernelEnd)}: give the VM more memory`);
  }
  return address;
}

/** Loads a kernel (and initrd) into guest RAM and returns the entry state. Throws before writing anything when the inputs do not fit. */
export function loadLinux(options: LinuxBootOptions): LinuxBootPlacement {
  const { ram, e820 } = options;
  const image = parseBzImage(options.kernel);
  checkE820(e820, ram.length);
  if (!/^[\x20-\x7e]*$/.test(options.cmdline)) throw new RangeError("the kernel command line must be printable ASCII");
  if (options.cmdline.length > image.cmdlineSize) {
    throw new RangeError(`the kernel command line is ${options.cmdline.length} bytes; this kernel takes at most ${image.cmdlineSize}`);
  }
  const { vmlinux, note } = options.selfDecompress
    ? { vmlinux: undefined, note: "the kernel unpacks itself, as asked" }
    : unpackForLoader(image, e820, options.vmlinux);
  // vmlinux's footprint is init_size from pref_address (at least its segments), so an initrd placed above it never overlaps them.
  const kernelEnd = vmlinux
    ? Math.max(image.prefAddress + image.initSize, ...vmlinux.segments.map((segment) => segment.address + segment.memSize))
    : kernelFootprint(image);
  if (!vmlinux && ramEndFrom(e820, image.code32Start) < kernelEnd) {
    throw new RangeError(`the kernel needs RAM up to ${mib(kernelEnd)} to unpack and start; the VM has ${mib(ram.length)}`);
  }
  const initrd = options.initrd && options.initrd.length > 0
    ? { address: placeInitrd(image, options.initrd.length, e820, kernelEnd), size: options.initrd.length }
    : undefined;

  if (vmlinux) {
    for (const segment of vmlinux.segments) {
      ram.set(segment.bytes, segment.address);
      ram.fill(0, segment.address + segment.bytes.length, segment.address + segment.memSize);
    }
  } else {
    ram.set(image.kernel, image.code32Start);
  }
  if (initrd && options.initrd) ram.set(options.initrd, initrd.address);
  ram.fill(0, CMDLINE_GPA, CMDLINE_GPA + options.cmdline.length + 1);
  ram.set(new TextEncoder().encode(options.cmdline), CMDLINE_GPA);
  ram.set(BOOT_GDT, GDT_GPA);

  // boot_params: zeroed, then the image's setup header copied in where it sits in the image
  // (from 0x1f1 to the end given by the jump at 0x200), then the loader's fields.
  const params = ram.subarray(BOOT_PARAMS_GPA, BOOT_PARAMS_GPA + BOOT_PARAMS_SIZE);
  params.fill(0);
  const headerEnd = HDR.jump + 2 + image.setup[HDR.jump + 1];
  params.set(image.setup.subarray(HDR.setupSects, headerEnd), HDR.setupSects);
  params[BP.sentinel] = 0;
  params[HDR.typeOfLoader] = LOADER_TYPE_UNDEFINED;
  setU32(params, HDR.cmdLinePtr, CMDLINE_GPA);
  setU32(params, HDR.ramdiskImage, initrd?.address ?? 0);
  setU32(params, HDR.ramdiskSize, initrd?.size ?? 0);
  if (options.acpiRsdp !== undefined) setU64(params, BP.acpiRsdpAddr, options.acpiRsdp);
  params[BP.e820Entries] = e820.length;
  e820.forEach((entry, i) => {
    const at = BP.e820Table + i * E820_ENTRY_SIZE;
    setU64(params, at, entry.address);
    setU64(params, at + 8, entry.size);
    setU32(params, at + 16, entry.type);
  });

  return {
    bootParams: BOOT_PARAMS_GPA,
    cmdline: CMDLINE_GPA,
    kernel: vmlinux ? vmlinuxExtent(vmlinux) : { address: image.code32Start, size: image.kernel.length },
    initrd,
    protocol: image.protocol,
    kernelPath: { unpackedBy: vmlinux ? "loader" : "kernel", note },
    registers: [
      ...flatProtectedMode(vmlinux ? vmlinux.entry : image.code32Start),
      { tag: REG["gdtr.base"], value: BigInt(GDT_GPA) },
      { tag: REG["gdtr.limit"], value: BigInt(BOOT_GDT.length - 1) },
      { tag: REG.rsi, value: BigInt(BOOT_PARAMS_GPA) },
      { tag: REG.rflags, value: 2n },
    ],
  };
}

