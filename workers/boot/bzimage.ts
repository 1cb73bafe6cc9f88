/**
 * The bzImage format: the real-mode setup sectors (whose header the boot protocol defines) followed
 * by the protected-mode kernel. Offsets and rules are from the Linux/x86 boot protocol
 * (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header" and "Details of Header Fields").
 * Everything in the header comes from a file the user chose, so every field is checked before use.
 */

/** A file that is not a bzImage we can boot, with what is wrong in words a user can act on. */
export class KernelImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KernelImageError";
  }
}

/** Header offsets within the image (and within boot_params, which embeds the same header). */
export const HDR = {
  setupSects: 0x1f1,
  syssize: 0x1f4,
  bootFlag: 0x1fe,
  jump: 0x200,
  magic: 0x202,
  version: 0x206,
  typeOfLoader: 0x210,
  loadflags: 0x211,
  code32Start: 0x214,
  ramdiskImage: 0x218,
  ramdiskSize: 0x21c,
  cmdLinePtr: 0x228,
  initrdAddrMax: 0x22c,
  kernelAlignment: 0x230,
  relocatableKernel: 0x234,
  cmdlineSize: 0x238,
  payloadOffset: 0x248,
  payloadLength: 0x24c,
  prefAddress: 0x258,
  initSize: 0x260,
} as const;

/** "HdrS", the header signature at 0x202. */
const HEADER_MAGIC = 0x53726448;
const BOOT_FLAG = 0xaa55;
/** loadflags bit 0: the protected-mode kernel is loaded at 0x100000 (a bzImage, not a zImage). */
export const LOADED_HIGH = 0x01;
/**
 * Oldest protocol we boot: 2.06 is the first with cmdline_size (2.06+), and everything before
 * it is pre-2.6.22 kernels whose limits (initrd_addr_max, 255-byte command line) we would have
 * to guess.
 */
export const MIN_PROTOCOL = 0x0206;

/** What the loader needs from a bzImage's header, checked. */
export interface BzImage {
  /** The boot protocol version, e.g. 0x020f for 2.15. */
  protocol: number;
  /** The setup sectors: the header is copied from here into boot_params. */
  setup: Uint8Array;
  /** The protected-mode kernel, loaded at `code32Start`. */
  kernel: Uint8Array;
  /** Where the 32-bit entry expects the protected-mode kernel (0x100000 by default). */
  code32Start: number;
  /** Highest address the initrd may occupy (inclusive). */
  initrdAddrMax: number;
  /** Longest command line, in bytes without the terminating NUL. */
  cmdlineSize: number;
  /** Whether the kernel may run from another address than its preferred one. */
  relocatable: boolean;
  /** The alignment a relocatable kernel needs. */
  kernelAlignment: number;
  /** Where the kernel prefers to run, and how much memory it needs from there to start. */
  prefAddress: number;
  initSize: number;
  /**
   * The compressed kernel inside the protected-mode code (protocol 2.08+: payload_offset and
   * payload_length), for a loader that unpacks it itself; absent when older or out of bounds.
   */
  payload?: Uint8Array;
}

function u16(data: Uint8Array, at: number): number {
  return data[at] | (data[at + 1] << 8);
}

function u32(data: Uint8Array, at: number): number {
  return (data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)) >>> 0;
}

const hex = (value: number): string => `0x${value.toString(16)}`;

/** Parses and checks a bzImage. Throws KernelImageError naming the first problem. */
export function parseBzImage(image: Uint8Array): BzImage {
  if (image.length < 0x264) throw new KernelImageError(`the kernel image is ${image.length} bytes: too short to hold a Linux boot header`);
  if (u32(image, HDR.magic) !== HEADER_MAGIC || u16(image, HDR.bootFlag) !== BOOT_FLAG) {
    throw new KernelImageError("the kernel image is not a Linux bzImage: no \"HdrS\" boot header at offset 0x202 (an ELF vmlinux or a compressed file?)");
  }
  const protocol = u16(image, HDR.version);
  const version = `${protocol >> 8}.${(protocol & 0xff).toString().padStart(2, "0")}`;
  if (protocol < MIN_PROTOCOL) throw new KernelImageError(`the kernel uses boot protocol ${version}; at least 2.06 (Linux 2.6.22) is needed`);
  if ((image[HDR.loadflags] & LOADED_HIGH) === 0) throw new KernelImageError("the kernel image is a zImage (loaded below 1 MiB); only bzImages are supported");
  // A setup_sects of 0 means 4 (boot.rst).
  const setupSects = image[HDR.setupSects] === 0 ? 4 : image[HDR.setupSects];
  const setupBytes = (setupSects + 1) * 512;
  if (setupBytes >= image.length) {
    throw new KernelImageError(`the kernel image is truncated: its ${setupSects} setup sectors leave no protected-mode kernel in ${image.length} bytes`);
  }
  const kernel = image.subarray(setupBytes);
  const syssize = u32(image, HDR.syssize) * 16;
  if (syssize > kernel.length) {
    throw new KernelImageError(`the kernel image is truncated: the header promises ${syssize} bytes of protected-mode kernel, the file has ${kernel.length}`);
  }
  const code32Start = u32(image, HDR.code32Start);
  if (code32Start < 0x100000) throw new KernelImageError(`the kernel's code32_start ${hex(code32Start)} is below 1 MiB`);
  const cmdlineSize = u32(image, HDR.cmdlineSize);
  const prefAddress = protocol >= 0x020a ? u32(image, HDR.prefAddress) : code32Start;
  const payloadOffset = u32(image, HDR.payloadOffset);
  const payloadLength = u32(image, HDR.payloadLength);
  const payload = protocol >= 0x0208 && payloadLength > 0 && payloadOffset + payloadLength <= kernel.length
    ? kernel.subarray(payloadOffset, payloadOffset + payloadLength)
    : undefined;
  return {
    protocol,
    setup: image.subarray(0, setupBytes),
    kernel,
    code32Start,
    initrdAddrMax: u32(image, HDR.initrdAddrMax),
    cmdlineSize,
    relocatable: protocol >= 0x0205 && image[HDR.relocatableKernel] !== 0,
    kernelAlignment: u32(image, HDR.kernelAlignment),
    prefAddress,
    // Before 2.10 there is no init_size; the kernel then needs about three times its size (boot.rst).
    initSize: protocol >= 0x020a ? u32(image, HDR.initSize) : kernel.length * 3,
    payload,
  };
}
