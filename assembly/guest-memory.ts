// Guest physical and port accesses through the memory map. RAM is a load or store in the shared
// memory; ROM ignores writes; MMIO and port regions call the host's `io` import, which carries
// the access to the region's socket or, when no socket claims it, to the vCPU's owner. An access
// that straddles two regions is split into byte accesses, as the bus would split it. The local
// APIC's page, when it claims one, comes before the map: the APIC answers in the core. A byte
// read of a region with a register file is served from it when the device allows
// (assembly/register-file.ts).

import {
  MAP_ENTRY_START_U64, MAP_ENTRY_END_U64, MAP_ENTRY_TARGET_U32, MAP_ENTRY_TAG_U32,
  MAP_ENTRY_KIND_U32, MAP_ENTRY_FLAGS_U32, REGION_RAM, REGION_ROM, REGION_FLAG_POSTED,
  RUN_IO_SPACE_U32, RUN_IO_ADDR_U64, RUN_IO_OFFSET_U64, RUN_IO_DATA_U64, RUN_IO_SIZE_U32,
  RUN_IO_WRITE_U32, RUN_IO_SOCKET_U32, RUN_IO_TAG_U32, RUN_IO_POSTED_U32, NO_SOCKET, SPACE_MMIO,
  SPACE_PIO, VMH_BASE, VMH_DIRTY_LOG_U32, VMH_DIRTY_BASE_U32, VMH_RAM_BASE_U32, PAGE_SHIFT, APIC_PAGE_U64,
  STAT_MMIO_SHADOW_F64, STAT_PIO_SHADOW_F64,
} from "./abi/layout";
import { readApicPage, writeApicPage } from "./apic/apic";
import { findRegion } from "./memory-map";
import { syncForExit } from "./cpu/sync";
import { afterDeviceIo } from "./cpu/blocks";
import { fencePostedWrite, readShadow } from "./register-file";

/** Host import: performs the access described in the run block; a read leaves its data there. */
@external("env", "io")
declare function hostIo(block: usize): void;

/**
 * Shared-memory address of the 4 KiB page holding guest physical `gpa` when that page is RAM
 * (or ROM, for reads), so the core may cache it; 0 otherwise. RAM and ROM regions are 4 KiB
 * aligned, so a page never straddles two regions.
 */
export function pageHost(block: usize, gpa: u64, write: bool): usize {
  if (apicPage(block, gpa)) return 0;
  const entry = findRegion(block, gpa, false);
  if (entry == 0) return 0;
  const kind = load<u32>(entry + MAP_ENTRY_KIND_U32);
  if (kind != REGION_RAM && (write || kind != REGION_ROM)) return 0;
  const page = (gpa & ~<u64>0xfff) - load<u64>(entry + MAP_ENTRY_START_U64);
  return <usize>load<u32>(entry + MAP_ENTRY_TARGET_U32) + <usize>page;
}

/** Whether `gpa` lies in the page the local APIC claims (APIC_PAGE_U64 holds it | 1, or 0). */
// @ts-ignore: decorator
@inline function apicPage(block: usize, gpa: u64): bool {
  return ((gpa & ~<u64>0xfff) | 1) == load<u64>(block + APIC_PAGE_U64);
}

function valueMask(size: i32): u64 {
  return size == 8 ? 0xffffffffffffffff : (<u64>1 << (<u64>size * 8)) - 1;
}

/** Hands one access to the host; returns the read data (0 for writes). `posted`: a write nobody waits for, whatever the region says. */
function exitIo(block: usize, entry: usize, space: u32, addr: u64, size: i32, write: bool, value: u64, posted: bool = false): u64 {
  const offset = entry != 0 ? addr - load<u64>(entry + MAP_ENTRY_START_U64) : addr;
  if (entry != 0 && !write && size == 1) {
    const shadowed = readShadow(block, entry, <u32>offset);
    if (shadowed >= 0) {
      const stat = block + (space == SPACE_PIO ? STAT_PIO_SHADOW_F64 : STAT_MMIO_SHADOW_F64);
      store<f64>(stat, load<f64>(stat) + 1);
      return <u64>shadowed;
    }
  }
  store<u32>(block + RUN_IO_SPACE_U32, space);
  store<u64>(block + RUN_IO_ADDR_U64, addr);
  store<u32>(block + RUN_IO_SIZE_U32, size);
  store<u32>(block + RUN_IO_WRITE_U32, write ? 1 : 0);
  store<u64>(block + RUN_IO_DATA_U64, write ? value : 0);
  store<u64>(block + RUN_IO_OFFSET_U64, offset);
  if (entry != 0) {
    const postedWrite = write && (posted || (load<u32>(entry + MAP_ENTRY_FLAGS_U32) & REGION_FLAG_POSTED) != 0);
    if (postedWrite) fencePostedWrite(block, entry, <u32>offset, size);
    store<u32>(block + RUN_IO_SOCKET_U32, load<u32>(entry + MAP_ENTRY_TARGET_U32));
    store<u32>(block + RUN_IO_TAG_U32, load<u32>(entry + MAP_ENTRY_TAG_U32));
    store<u32>(block + RUN_IO_POSTED_U32, postedWrite ? 1 : 0);
  } else {
    store<u32>(block + RUN_IO_SOCKET_U32, NO_SOCKET);
    store<u32>(block + RUN_IO_TAG_U32, 0);
    store<u32>(block + RUN_IO_POSTED_U32, 0);
  }
  // The owner may look at the registers during the exit: show them as before this instruction.
  syncForExit();
  hostIo(block);
  afterDeviceIo();
  return write ? 0 : load<u64>(block + RUN_IO_DATA_U64) & valueMask(size);
}

/** Marks the RAM pages under a write of `size` bytes at shared-memory address `ramAddr`. */
export function markDirty(ramAddr: usize, size: i32): void {
  const ramBase = load<u32>(VMH_BASE + VMH_RAM_BASE_U32);
  const bitmap: usize = load<u32>(VMH_BASE + VMH_DIRTY_BASE_U32);
  const first = <u32>(ramAddr - ramBase) >> PAGE_SHIFT;
  const last = <u32>(ramAddr + <usize>size - 1 - ramBase) >> PAGE_SHIFT;
  for (let page = first; page <= last; page++) {
    atomic.or<u32>(bitmap + ((<usize>page >> 5) << 2), <u32>1 << (page & 31));
  }
}

/** Reads `size` (1, 2, 4 or 8) bytes of guest physical memory, little-endian. */
export function readPhys(block: usize, gpa: u64, size: i32): u64 {
  if (apicPage(block, gpa)) return readApicPage(<u32>gpa & 0xfff, size);
  const entry = findRegion(block, gpa, false);
  if (entry != 0 && gpa + <u64>size <= load<u64>(entry + MAP_ENTRY_END_U64)) {
    const kind = load<u32>(entry + MAP_ENTRY_KIND_U32);
    if (kind == REGION_RAM || kind == REGION_ROM) {
      const at = <usize>load<u32>(entry + MAP_ENTRY_TARGET_U32) + <usize>(gpa - load<u64>(entry + MAP_ENTRY_START_U64));
      if (size == 1) return <u64>load<u8>(at);
      if (size == 2) return <u64>load<u16>(at);
      if (size == 4) return <u64>load<u32>(at);
      return load<u64>(at);
    }
    return exitIo(block, entry, SPACE_MMIO, gpa, size, false, 0);
  }
  if (entry == 0 && (size == 1 || findRegion(block, gpa + <u64>size - 1, false) == 0)) {
    return exitIo(block, 0, SPACE_MMIO, gpa, size, false, 0);
  }
  let value: u64 = 0;
  for (let i = 0; i < size; i++) value |= readPhys(block, gpa + <u64>i, 1) << (<u64>i * 8);
  return value;
}

/**
 * Writes the low `size` (1, 2, 4 or 8) bytes of `value` to guest physical memory; `posted`
 * makes a write to an MMIO region a posted one even where the region does not ask for that.
 */
export function writePhys(block: usize, gpa: u64, size: i32, value: u64, posted: bool = false): void {
  if (apicPage(block, gpa)) {
    writeApicPage(<u32>gpa & 0xfff, size, <u32>value);
    return;
  }
  const entry = findRegion(block, gpa, false);
  if (entry != 0 && gpa + <u64>size <= load<u64>(entry + MAP_ENTRY_END_U64)) {
    const kind = load<u32>(entry + MAP_ENTRY_KIND_U32);
    if (kind == REGION_ROM) return;
    if (kind == REGION_RAM) {
      const at = <usize>load<u32>(entry + MAP_ENTRY_TARGET_U32) + <usize>(gpa - load<u64>(entry + MAP_ENTRY_START_U64));
      if (size == 1) store<u8>(at, <u8>value);
      else if (size == 2) store<u16>(at, <u16>value);
      else if (size == 4) store<u32>(at, <u32>value);
      else store<u64>(at, value);
      if (load<u32>(VMH_BASE + VMH_DIRTY_LOG_U32) != 0) markDirty(at, size);
      return;
    }
    exitIo(block, entry, SPACE_MMIO, gpa, size, true, value & valueMask(size), posted);
    return;
  }
  if (entry == 0 && (size == 1 || findRegion(block, gpa + <u64>size - 1, false) == 0)) {
    exitIo(block, 0, SPACE_MMIO, gpa, size, true, value & valueMask(size));
    return;
  }
  for (let i = 0; i < size; i++) writePhys(block, gpa + <u64>i, 1, value >> (<u64>i * 8));
}

/** IN: reads `size` bytes from an I/O port. */
export function readPort(block: usize, port: u32, size: i32): u32 {
  const entry = findRegion(block, <u64>port, true);
  return <u32>exitIo(block, entry, SPACE_PIO, <u64>port, size, false, 0);
}

/** OUT: writes `size` bytes to an I/O port. */
export function writePort(block: usize, port: u32, size: i32, value: u32): void {
  const entry = findRegion(block, <u64>port, true);
  exitIo(block, entry, SPACE_PIO, <u64>port, size, true, <u64>value & valueMask(size));
}
