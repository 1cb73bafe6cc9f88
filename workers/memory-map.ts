/**
 * The guest physical memory map: validation and encoding of a whole map into one of the two
 * table slots the core reads (assembly/memory-map.ts). Publication and the grace period live in
 * workers/vm.ts; this module is pure and has no notion of time.
 */
import {
  MAP_COUNT_U32, MAP_ENTRY_BASE, MAP_ENTRY_END_U64, MAP_ENTRY_FLAGS_U32, MAP_ENTRY_KIND_U32,
  MAP_ENTRY_SIZE, MAP_ENTRY_START_U64, MAP_ENTRY_TAG_U32, MAP_ENTRY_TARGET_U32, MAP_MAX_ENTRIES,
  MAP_TABLE_SIZE, PAGE_SIZE, REGION_FLAG_POSTED, REGION_MMIO, REGION_PIO, REGION_RAM, REGION_ROM,
  MAP_ENTRY_RINGS_U32, MAP_ENTRY_SHADOW_U32, SHADOW_SLOT_SIZE, SOCKET_HEADER_SIZE, SOCKET_SHADOW_BASE, SOCKET_SHADOW_SLOTS,
} from "../assembly/abi/layout";
import type { Gpa, Port, RamOffset } from "./addresses";
import { socketBlockBase, type VmLayout } from "./vm-layout";

/** Guest RAM mapped read-write at `gpa`, backed by guest RAM from `ramOffset`. */
export interface RamRegion { kind: "ram"; gpa: Gpa; size: number; ramOffset: RamOffset }
/** Guest RAM mapped read-only (guest writes are dropped, as on a ROM). */
export interface RomRegion { kind: "rom"; gpa: Gpa; size: number; ramOffset: RamOffset }
/**
 * MMIO range carried to a socket. `tag` tells the device which of its regions was hit. `shadow`:
 * the first of `size` register-file slots of the socket (one per offset) from which the vCPU
 * serves the byte reads the device marks readable (workers/register-file.ts).
 */
export interface MmioRegion { kind: "mmio"; gpa: Gpa; size: number; socket: number; tag?: number; posted?: boolean; shadow?: number }
/** Port range carried to a socket (fields as for MmioRegion). */
export interface PioRegion { kind: "pio"; port: Port; size: number; socket: number; tag?: number; posted?: boolean; shadow?: number }
/** One region of a guest physical memory map. */
export type Region = RamRegion | RomRegion | MmioRegion | PioRegion;

/** A memory map was refused; `index` names the offending region. */
export class MemoryMapError extends Error {
  constructor(message: string, readonly index: number) {
    super(`memory map region ${index}: ${message}`);
    this.name = "MemoryMapError";
  }
}

/** The physical address space the core models (i686 without PAE). */
export const PHYS_LIMIT = 2 ** 32;
export const PORT_LIMIT = 0x10000;

interface Entry { start: number; end: number; target: number; tag: number; kind: number; flags: number; rings: number; shadow: number; index: number }

const describe = (r: Region): string => (r.kind === "pio" ? `port ${r.port}` : `gpa 0x${r.gpa.toString(16)}`);

/** Checks a region against the VM and turns it into a table entry. */
function toEntry(r: Region, index: number, layout: VmLayout, sockets: ReadonlySet<number>): Entry {
  const fail = (why: string): never => { throw new MemoryMapError(`${r.kind} at ${describe(r)}: ${why}`, index); };
  if (!Number.isSafeInteger(r.size) || r.size <= 0) fail(`size must be a positive integer, got ${r.size}`);
  if (r.kind === "pio") {
    if (!Number.isInteger(r.port) || r.port < 0 || r.port + r.size > PORT_LIMIT) fail("ports must lie in 0..0xffff");
  } else if (!Number.isSafeInteger(r.gpa) || r.gpa < 0 || r.gpa + r.size > PHYS_LIMIT) {
    fail("must lie below 4 GiB");
  }
  switch (r.kind) {
    case "ram":
    case "rom": {
      if (r.gpa % PAGE_SIZE !== 0 || r.size % PAGE_SIZE !== 0 || r.ramOffset % PAGE_SIZE !== 0) fail("gpa, size and ramOffset must be 4 KiB aligned");
      if (!Number.isSafeInteger(r.ramOffset) || r.ramOffset < 0 || r.ramOffset + r.size > layout.ramBytes) {
        fail(`ramOffset ${r.ramOffset} + size ${r.size} lies outside the VM's ${layout.ramBytes} bytes of RAM`);
      }
      const kind = r.kind === "ram" ? REGION_RAM : REGION_ROM;
      return { start: r.gpa, end: r.gpa + r.size, target: layout.ramBase + r.ramOffset, tag: 0, kind, flags: 0, rings: 0, shadow: 0, index };
    }
    case "mmio":
    case "pio": {
      if (!sockets.has(r.socket)) fail(`socket ${r.socket} does not exist`);
      const tag = r.tag ?? 0;
      if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffffff) fail(`tag must be a 32-bit unsigned integer, got ${tag}`);
      const socketBase = socketBlockBase(layout, r.socket);
      let shadow = 0;
      if (r.shadow !== undefined) {
        if (!Number.isInteger(r.shadow) || r.shadow < 0 || r.shadow + r.size > SOCKET_SHADOW_SLOTS) {
          fail(`a register file of ${r.size} slots from slot ${r.shadow} does not fit the socket's ${SOCKET_SHADOW_SLOTS}`);
        }
        shadow = socketBase + SOCKET_SHADOW_BASE + r.shadow * SHADOW_SLOT_SIZE;
      }
      const start = r.kind === "pio" ? r.port : r.gpa;
      const kind = r.kind === "pio" ? REGION_PIO : REGION_MMIO;
      const flags = r.posted ? REGION_FLAG_POSTED : 0;
      return { start, end: start + r.size, target: r.socket, tag, kind, flags, rings: socketBase + SOCKET_HEADER_SIZE, shadow, index };
    }
    default:
      return fail(`unknown region kind ${(r as { kind: unknown }).kind}`);
  }
}

/**
 * Validates a whole map (sizes, alignment, RAM bounds, existing sockets, no overlap within the
 * memory space or the port space) and returns its entries sorted by space and address.
 */
export function validateMemoryMap(regions: readonly Region[], layout: VmLayout, sockets: ReadonlySet<number>): Entry[] {
  if (regions.length > MAP_MAX_ENTRIES) throw new MemoryMapError(`a map holds at most ${MAP_MAX_ENTRIES} regions`, MAP_MAX_ENTRIES);
  const entries = regions.map((r, i) => toEntry(r, i, layout, sockets));
  const isPort = (e: Entry): number => (e.kind === REGION_PIO ? 1 : 0);
  entries.sort((a, b) => isPort(a) - isPort(b) || a.start - b.start);
  for (let i = 1; i < entries.length; i++) {
    const [prev, cur] = [entries[i - 1], entries[i]];
    if (isPort(prev) === isPort(cur) && cur.start < prev.end) {
      throw new MemoryMapError(`overlaps region ${prev.index}`, Math.max(prev.index, cur.index));
    }
  }
  return entries;
}

/** Writes validated entries into the table at byte address `table` (not yet published). */
export function encodeMemoryMap(buffer: ArrayBufferLike, table: number, entries: readonly Entry[]): void {
  const view = new DataView(buffer, table, MAP_TABLE_SIZE);
  view.setUint32(MAP_COUNT_U32, entries.length, true);
  entries.forEach((e, i) => {
    const at = MAP_ENTRY_BASE + i * MAP_ENTRY_SIZE;
    view.setBigUint64(at + MAP_ENTRY_START_U64, BigInt(e.start), true);
    view.setBigUint64(at + MAP_ENTRY_END_U64, BigInt(e.end), true);
    view.setUint32(at + MAP_ENTRY_TARGET_U32, e.target, true);
    view.setUint32(at + MAP_ENTRY_TAG_U32, e.tag, true);
    view.setUint32(at + MAP_ENTRY_KIND_U32, e.kind, true);
    view.setUint32(at + MAP_ENTRY_FLAGS_U32, e.flags, true);
    view.setUint32(at + MAP_ENTRY_RINGS_U32, e.rings, true);
    view.setUint32(at + MAP_ENTRY_SHADOW_U32, e.shadow, true);
  });
}
