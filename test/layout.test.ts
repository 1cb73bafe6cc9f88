// The shared-memory ABI: blocks are aligned, fields sit inside their blocks without overlapping,
// and the computed layout keeps every region apart and guest RAM last.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as L from "../assembly/abi/layout";
import { computeLayout, socketPairBase } from "../workers/vm-layout";

/** Fields of a block, by name suffix: [name, offset, bytes]. */
function fields(prefix: string): [string, number, number][] {
  return Object.entries(L)
    .filter(([name]) => name.startsWith(prefix) && /_U(8|16|32|64)$/.test(name))
    .map(([name, offset]) => [name, offset as number, Number(/_U(\d+)$/.exec(name)![1]) / 8]);
}

function assertNoOverlap(list: [string, number, number][], blockSize: number): void {
  const sorted = [...list].sort((a, b) => a[1] - b[1]);
  for (const [name, offset, bytes] of sorted) {
    assert.equal(offset % Math.min(bytes, 8), 0, `${name} is not naturally aligned`);
    assert.ok(offset + bytes <= blockSize, `${name} lies outside its block`);
  }
  for (let i = 1; i < sorted.length; i++) {
    assert.ok(sorted[i][1] >= sorted[i - 1][1] + sorted[i - 1][2], `${sorted[i][0]} overlaps ${sorted[i - 1][0]}`);
  }
}

test("VM header fields are aligned and inside the header", () => {
  assertNoOverlap(fields("VMH_"), L.VMH_SIZE);
});

test("vCPU block fields (control, run block, registers) are aligned and disjoint", () => {
  const block = [...fields("VCPU_"), ...fields("RUN_"), ...fields("REG_").filter(([n]) => n !== "REG_GPR_U64" && n !== "REG_CR_U64")];
  block.push(["REG_GPR_U64", L.REG_GPR_U64, L.REG_GPR_COUNT * 8], ["REG_CR_U64", L.REG_CR_U64, L.REG_CR_COUNT * 8]);
  block.push(["segments", L.REG_SEG_BASE, L.SEG_COUNT * L.SEG_SIZE], ["debug registers", L.REG_DR_U64, L.REG_DR_COUNT * 8]);
  block.push(...fields("FPU_").filter(([n]) => !n.startsWith("FPU_REG_")), ["x87 registers", L.FPU_REG_BASE, L.FPU_REG_COUNT * L.FPU_REG_SIZE]);
  block.push(["TLB", L.TLB_BASE, L.TLB_ENTRIES * L.TLB_ENTRY_SIZE]);
  block.push(...fields("APIC_"), ["APIC register image", L.APIC_REGS_BASE, L.APIC_REGS_SIZE]);
  assertNoOverlap(block.filter(([n]) => n !== "REG_DR_U64"), L.VCPU_BLOCK_SIZE);
  assert.ok(L.RUN_END <= L.REGS_BASE && L.REGS_END <= L.FPU_BASE && L.FPU_END <= L.APIC_BASE && L.TLB_END <= L.VCPU_BLOCK_SIZE);
  assert.ok(L.APIC_BASE === 4096 && L.APIC_END <= L.APIC_LIMIT && L.APIC_LIMIT <= L.TLB_BASE, "the APIC keeps to vCPU-block bytes 4096..6143");
  assert.ok(L.APIC_REG_TIMER_DIVIDE < L.APIC_REGS_SIZE);
  // Words two parties poll sit on cache lines of their own.
  const polled = [L.VCPU_REQUEST_U32, L.VCPU_STATE_U32, L.VCPU_MAP_GEN_U32, L.APIC_INBOX_IRR_U32, L.APIC_SLEEPING_U32, L.APIC_EXTINT_LEVEL_U32];
  assert.equal(new Set(polled.map((o) => Math.floor(o / L.CACHE_LINE))).size, polled.length);
});

test("segment, map entry and message records are aligned and disjoint", () => {
  assertNoOverlap(fields("SEG_"), L.SEG_SIZE);
  assertNoOverlap(fields("MAP_ENTRY_"), L.MAP_ENTRY_SIZE);
  assertNoOverlap(fields("MSG_"), L.MSG_SIZE);
  assertNoOverlap(fields("RING_"), L.RING_SLOTS);
  assertNoOverlap(fields("SOCKET_"), L.SOCKET_HEADER_SIZE);
  assert.equal(L.RING_SLOT_COUNT & (L.RING_SLOT_COUNT - 1), 0, "ring slot count must be a power of two");
});

test("fixed regions follow each other without overlap", () => {
  assert.ok(L.CORE_STATIC_BASE < L.CORE_STATIC_END && L.CORE_STATIC_END <= L.VMH_BASE);
  assert.equal(L.VCPU_BLOCK_BASE, L.VMH_BASE + L.VMH_SIZE);
  assert.equal(L.MAP_BASE, L.VCPU_BLOCK_BASE + L.MAX_VCPUS * L.VCPU_BLOCK_SIZE);
  assert.equal(L.MAP_END, L.MAP_BASE + L.MAP_SLOTS * L.MAP_TABLE_SIZE);
});

test("computed layout keeps sockets, dirty bitmap, code caches and RAM apart, RAM page-aligned and last", () => {
  for (const config of [
    { ramBytes: 4096, maxVcpus: 1, maxSockets: 0 },
    { ramBytes: 128 << 20, maxVcpus: 4, maxSockets: 16 },
    { ramBytes: 3 * 2 ** 30, maxVcpus: 32, maxSockets: 64 },
  ]) {
    const layout = computeLayout(config);
    assert.ok(layout.socketBase >= L.MAP_END);
    assert.ok(socketPairBase(layout, config.maxSockets, 0) - L.SOCKET_HEADER_SIZE <= layout.dirtyBase);
    assert.ok(layout.dirtyBase + layout.dirtyBytes <= layout.codeBase);
    assert.ok(layout.codeStride >= L.CODE_PAGES_BASE + layout.dirtyBytes);
    assert.ok(layout.codeBase + config.maxVcpus * layout.codeStride <= layout.ramBase);
    assert.ok(layout.dirtyBytes * 8 >= config.ramBytes / L.PAGE_SIZE);
    assert.equal(layout.ramBase % L.WASM_PAGE_SIZE, 0);
    assert.equal(layout.totalBytes % L.WASM_PAGE_SIZE, 0);
    assert.ok(layout.ramBase + layout.ramBytes <= layout.totalBytes && layout.totalBytes <= 2 ** 32);
  }
});

test("bad layout settings are refused with the setting named", () => {
  assert.throws(() => computeLayout({ ramBytes: 1000, maxVcpus: 1, maxSockets: 1 }), /ramBytes/);
  assert.throws(() => computeLayout({ ramBytes: 4096, maxVcpus: 0, maxSockets: 1 }), /maxVcpus/);
  assert.throws(() => computeLayout({ ramBytes: 4096, maxVcpus: 33, maxSockets: 1 }), /maxVcpus/);
  assert.throws(() => computeLayout({ ramBytes: 2 ** 32, maxVcpus: 1, maxSockets: 1 }), /4 GiB/);
});
