// Memory-map validation and encoding: every bad region is refused with its index named, and a
// good map is written sorted, with RAM targets resolved to shared-memory addresses.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  MAP_COUNT_U32, MAP_ENTRY_BASE, MAP_ENTRY_KIND_U32, MAP_ENTRY_SIZE, MAP_ENTRY_START_U64, MAP_ENTRY_TARGET_U32,
  MAP_MAX_ENTRIES, MAP_TABLE_SIZE, REGION_MMIO, REGION_PIO, REGION_RAM,
} from "../assembly/abi/layout";
import { gpa, port, ramOffset } from "../workers/addresses";
import { encodeMemoryMap, MemoryMapError, validateMemoryMap, type Region } from "../workers/memory-map";
import { computeLayout } from "../workers/vm-layout";

const layout = computeLayout({ ramBytes: 1 << 20, maxVcpus: 1, maxSockets: 4 });
const sockets = new Set([0, 1]);
const ram = (at: number, size: number, offset = 0): Region => ({ kind: "ram", gpa: gpa(at), size, ramOffset: ramOffset(offset) });

function refused(regions: Region[], index: number, why: RegExp): void {
  assert.throws(() => validateMemoryMap(regions, layout, sockets), (error: unknown) => {
    assert.ok(error instanceof MemoryMapError);
    assert.equal(error.index, index);
    assert.match(error.message, why);
    return true;
  });
}

test("a good map is sorted by space and address", () => {
  const entries = validateMemoryMap([
    { kind: "pio", port: port(0x3f8), size: 8, socket: 1 },
    { kind: "mmio", gpa: gpa(0xfee00000), size: 0x1000, socket: 0, posted: true },
    ram(0, 0x80000),
    { kind: "rom", gpa: gpa(0xf0000), size: 0x10000, ramOffset: ramOffset(0x80000) },
    { kind: "pio", port: port(0x60), size: 1, socket: 0 },
  ], layout, sockets);
  assert.deepEqual(entries.map((e) => e.start), [0, 0xf0000, 0xfee00000, 0x60, 0x3f8]);
});

test("regions that overlap in one space are refused; the same numbers in two spaces are not", () => {
  refused([ram(0, 0x2000), ram(0x1000, 0x1000, 0x2000)], 1, /overlaps region 0/);
  refused([ram(0, 0x10000), { kind: "mmio", gpa: gpa(0x8000), size: 4, socket: 0 }], 1, /overlaps/);
  refused([{ kind: "pio", port: port(0x60), size: 5, socket: 0 }, { kind: "pio", port: port(0x64), size: 1, socket: 1 }], 1, /overlaps/);
  validateMemoryMap([ram(0, 0x1000), { kind: "pio", port: port(0), size: 0x100, socket: 0 }], layout, sockets);
});

test("alignment, bounds, sizes and sockets are checked", () => {
  refused([ram(0x800, 0x1000)], 0, /4 KiB aligned/);
  refused([ram(0, 0x1000, 0x100)], 0, /4 KiB aligned/);
  refused([ram(0, 0x2000), ram(0x10000, 0x1000, 1 << 20)], 1, /outside the VM's 1048576 bytes of RAM/);
  refused([ram(0, 0)], 0, /size must be a positive integer/);
  refused([{ kind: "mmio", gpa: gpa(0xfffff000), size: 0x2000, socket: 0 }], 0, /below 4 GiB/);
  refused([{ kind: "pio", port: port(0xfffe), size: 4, socket: 0 }], 0, /0\.\.0xffff/);
  refused([{ kind: "mmio", gpa: gpa(0x1000), size: 4, socket: 3 }], 0, /socket 3 does not exist/);
  refused([{ kind: "mmio", gpa: gpa(0x1000), size: 4, socket: 0, tag: -1 }], 0, /tag/);
  refused([{ kind: "disk", gpa: gpa(0), size: 1 } as unknown as Region], 0, /unknown region kind/);
  refused(Array.from({ length: MAP_MAX_ENTRIES + 1 }, (_, i) => ram(i * 0x1000, 0x1000)), MAP_MAX_ENTRIES, /at most/);
});

test("encoding writes the count and entries the core reads", () => {
  const entries = validateMemoryMap([{ kind: "pio", port: port(0x3f8), size: 8, socket: 1 }, { kind: "mmio", gpa: gpa(0xa0000), size: 0x20000, socket: 0 }, ram(0x1000, 0x1000, 0x3000)], layout, sockets);
  const buffer = new ArrayBuffer(MAP_TABLE_SIZE);
  encodeMemoryMap(buffer, 0, entries);
  const view = new DataView(buffer);
  assert.equal(view.getUint32(MAP_COUNT_U32, true), 3);
  const entry = (i: number, field: number): number => view.getUint32(MAP_ENTRY_BASE + i * MAP_ENTRY_SIZE + field, true);
  assert.deepEqual([0, 1, 2].map((i) => entry(i, MAP_ENTRY_KIND_U32)), [REGION_RAM, REGION_MMIO, REGION_PIO]);
  assert.equal(entry(0, MAP_ENTRY_START_U64), 0x1000);
  assert.equal(entry(0, MAP_ENTRY_TARGET_U32), layout.ramBase + 0x3000);
  assert.equal(entry(2, MAP_ENTRY_TARGET_U32), 1);
});
