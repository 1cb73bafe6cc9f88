// Guest physical memory map lookup: finds the region of the published table that holds an
// address. The table is written by the host (workers/memory-map.ts) and validated there: RAM and
// ROM targets lie inside guest RAM, regions do not overlap. The table in use is the one this
// vCPU picked up at its last quiescent point (VCPU_MAP_GEN_U32), so a table is never rewritten
// while this vCPU may read it.

import {
  MAP_BASE, MAP_TABLE_SIZE, MAP_COUNT_U32, MAP_ENTRY_BASE, MAP_ENTRY_SIZE, MAP_ENTRY_START_U64,
  MAP_ENTRY_END_U64, MAP_ENTRY_KIND_U32, REGION_PIO, VCPU_MAP_GEN_U32,
} from "./abi/layout";

/** Address of the entry that holds `addr` in the given space (port space when `ports`), or 0. */
export function findRegion(block: usize, addr: u64, ports: bool): usize {
  const gen = load<u32>(block + VCPU_MAP_GEN_U32);
  const table: usize = <usize>MAP_BASE + <usize>(gen & 1) * <usize>MAP_TABLE_SIZE;
  const count = load<u32>(table + MAP_COUNT_U32);
  let entry: usize = table + MAP_ENTRY_BASE;
  for (let i: u32 = 0; i < count; i++, entry += MAP_ENTRY_SIZE) {
    const isPort = load<u32>(entry + MAP_ENTRY_KIND_U32) == REGION_PIO;
    if (isPort == ports && addr >= load<u64>(entry + MAP_ENTRY_START_U64) && addr < load<u64>(entry + MAP_ENTRY_END_U64)) {
      return entry;
    }
  }
  return 0;
}
