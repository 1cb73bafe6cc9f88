/**
 * The kernel proper from a bzImage's payload, for a loader that does the work of the kernel's
 * 32-bit decompressor (arch/x86/boot/compressed: extract_kernel, parse_elf) at native speed:
 * unpack the payload, an ELF vmlinux, and say where its PT_LOAD segments go and where to enter.
 * Only XZ payloads are unpacked (Debian's kernels; the decoder is workers/boot/xz.ts).
 */
import { decompressXz, matchesXz } from "./xz";

/** A payload this module does not unpack, or one that is not a sound ELF kernel. */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PayloadError";
  }
}

/** A PT_LOAD segment: file bytes placed at a physical address, then zeros up to `memSize`. */
export interface VmlinuxSegment {
  address: number;
  bytes: Uint8Array;
  memSize: number;
}

/** An unpacked kernel: its segments and its physical entry point (startup_32 of head_32.S). */
export interface Vmlinux {
  entry: number;
  segments: VmlinuxSegment[];
  /** Bytes the payload unpacked to (the ELF and, for a relocatable kernel, its relocations). */
  unpackedSize: number;
  /** Whether a copy unpacked ahead of time was used rather than the payload decoded. */
  cached: boolean;
}

/** The compressions a kernel may be built with, by the magic that starts the payload. */
const COMPRESSIONS: readonly [name: string, magic: readonly number[]][] = [
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["gzip", [0x1f, 0x8b]],
  ["bzip2", [0x42, 0x5a, 0x68]],
  ["lzma", [0x5d, 0x00, 0x00]],
  ["lzo", [0x89, 0x4c, 0x5a, 0x4f]],
  ["lz4", [0x02, 0x21, 0x4c, 0x18]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
];

/** The payload's compression by its magic, or "unknown". */
export function payloadCompression(payload: Uint8Array): string {
  const match = COMPRESSIONS.find(([, magic]) => magic.every((byte, i) => payload[i] === byte));
  return match ? match[0] : "unknown";
}

/** Larger than any 32-bit kernel; a payload claiming more is corrupt. */
const MAX_UNPACKED = 256 << 20;

const u16 = (data: Uint8Array, at: number): number => data[at] | (data[at + 1] << 8);
const u32 = (data: Uint8Array, at: number): number => (data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)) >>> 0;
const hex = (value: number): string => `0x${value.toString(16)}`;

/**
 * The XZ stream in a payload and the size it unpacks to: the kernel's build appends that size as
 * a 32-bit little-endian number after the stream (arch/x86/boot/compressed/Makefile, size_append).
 */
function xzStream(payload: Uint8Array): { stream: Uint8Array; size: number } {
  const compression = payloadCompression(payload);
  if (compression !== "xz") throw new PayloadError(`the payload is ${compression}-compressed; the loader unpacks only XZ`);
  const size = u32(payload, payload.length - 4);
  if (size > MAX_UNPACKED) throw new PayloadError(`the payload claims to unpack to ${size} bytes`);
  return { stream: payload.subarray(0, payload.length - 4), size };
}

/** Unpacks an XZ payload: the ELF vmlinux (and, for a relocatable kernel, its relocations after it). */
export function unpackPayload(payload: Uint8Array): Uint8Array {
  const { stream, size } = xzStream(payload);
  const unpacked = decompressXz(stream, { sizeHint: size, maxOutput: size });
  if (unpacked.length !== size) throw new PayloadError(`the payload unpacked to ${unpacked.length} bytes, not the ${size} its trailer states`);
  return unpacked;
}

/**
 * The vmlinux in an XZ payload. `cached` is the payload unpacked ahead of time (guest:fetch
 * stores it); it is used when the stream's own index and CRCs say it is the stream's content.
 */
export function unpackVmlinux(payload: Uint8Array, cached?: Uint8Array): Vmlinux {
  const { stream, size } = xzStream(payload);
  const useCached = cached !== undefined && cached.length === size && matchesXz(stream, cached);
  const elf = useCached ? cached : unpackPayload(payload);
  return { ...parseKernelElf(elf), unpackedSize: elf.length, cached: useCached };
}

/** ELF32 constants (System V ABI, i386 supplement). */
const ELF = { classOffset: 4, dataOffset: 5, versionOffset: 6, class32: 1, littleEndian: 1, typeExec: 2, machine386: 3, headerSize: 52, phSize: 32, ptLoad: 1 } as const;

/** The segments and entry of an i386 ELF executable (trailing data, such as relocations, is ignored). */
export function parseKernelElf(elf: Uint8Array): Pick<Vmlinux, "entry" | "segments"> {
  if (elf.length < ELF.headerSize || u32(elf, 0) !== 0x464c457f) throw new PayloadError("the unpacked kernel is not an ELF file");
  if (elf[ELF.classOffset] !== ELF.class32 || elf[ELF.dataOffset] !== ELF.littleEndian || elf[ELF.versionOffset] !== 1) {
    throw new PayloadError("the unpacked kernel is not a 32-bit little-endian ELF file");
  }
  if (u16(elf, 16) !== ELF.typeExec || u16(elf, 18) !== ELF.machine386) throw new PayloadError("the unpacked kernel is not an i386 executable");
  const entry = u32(elf, 24);
  const phOffset = u32(elf, 28);
  const phCount = u16(elf, 44);
  if (u16(elf, 42) !== ELF.phSize || phOffset + phCount * ELF.phSize > elf.length) throw new PayloadError("the kernel's ELF program headers lie outside the file");

  const segments: VmlinuxSegment[] = [];
  for (let i = 0; i < phCount; i++) {
    const at = phOffset + i * ELF.phSize;
    if (u32(elf, at) !== ELF.ptLoad) continue;
    const offset = u32(elf, at + 4);
    const address = u32(elf, at + 12);
    const fileSize = u32(elf, at + 16);
    const memSize = u32(elf, at + 20);
    if (offset + fileSize > elf.length) throw new PayloadError(`the kernel's segment ${i} lies outside the file`);
    if (fileSize > memSize || address + memSize > 2 ** 32) throw new PayloadError(`the kernel's segment ${i} has impossible sizes`);
    const overlapped = segments.find((other) => address < other.address + other.memSize && other.address < address + memSize);
    if (overlapped) throw new PayloadError(`the kernel's segments at ${hex(overlapped.address)} and ${hex(address)} overlap`);
    segments.push({ address, bytes: elf.subarray(offset, offset + fileSize), memSize });
  }
  if (segments.length === 0) throw new PayloadError("the kernel has no loadable segment");
  if (!segments.some((segment) => segment.address <= entry && entry < segment.address + segment.bytes.length)) {
    throw new PayloadError(`the kernel's entry point ${hex(entry)} is not in a loaded segment`);
  }
  return { entry, segments };
}
