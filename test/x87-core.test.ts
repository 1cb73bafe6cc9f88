// x87 behaviour the differential test cannot reach from a Linux user process, checked in the
// core against the SDM: the real-mode layouts of FNSTENV/FNSAVE (SDM vol. 1, figures 8-10 and
// 8-12, 14/28 and 94/108 bytes) and their round trip through FLDENV/FRSTOR, CR0.NE = 0 (no #MF:
// the FERR#/IRQ13 path is not modelled, execution goes on with ES set), #NM from CR0.EM/TS/MP,
// #UD for FISTTP (the core reports no SSE3), FXSAVE's fields outside the x87 state, and that an
// 8-, 10- or 108-byte store crossing into a not-present page faults before writing any byte.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  FPU_CW_U16, FPU_REG_BASE, FPU_REG_SIGN_EXP_U16, FPU_REG_SIGNIFICAND_U64, FPU_REG_SIZE, FPU_SW_U16, FPU_TW_U16,
} from "../assembly/abi/layout";
import { gpa, ramOffset } from "../workers/addresses";
import type { VcpuExit } from "../workers/exits";
import { REG } from "../workers/registers";
import { CoreHost } from "./fixtures/core-host";

const RAM = 1 << 20;
const HLT = 0xf4;
const le16 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff];
const le32 = (v: number): number[] => [...le16(v), ...le16(v >>> 16)];

/** A core with 1 MiB of RAM at 0 that reports every exception as an exit. */
function machine(): CoreHost {
  const host = new CoreHost(RAM);
  host.setMemoryMap([{ kind: "ram", gpa: gpa(0), size: RAM, ramOffset: ramOffset(0) }]);
  host.setState([{ tag: REG.exception_exits, value: 0xffffffff }]);
  return host;
}

/** Real mode (the reset state) with CS and DS at the given segments and `cr0`. */
function realMode(host: CoreHost, cs: number, ip: number, ds: number, cr0 = 0x60000010): void {
  host.setState([
    { tag: REG["cs.selector"], value: cs },
    { tag: REG["cs.base"], value: cs << 4 },
    { tag: REG["ds.selector"], value: ds },
    { tag: REG["ds.base"], value: ds << 4 },
    { tag: REG.rip, value: ip },
    { tag: REG.cr0, value: cr0 },
  ]);
}

function fpu(host: CoreHost): DataView {
  return new DataView(host.memory.buffer, host.block);
}

/** ST(i) from the vCPU block. */
function st(host: CoreHost, i: number): { se: number; sig: bigint } {
  const f = fpu(host);
  const at = FPU_REG_BASE + (((f.getUint16(FPU_SW_U16, true) >> 11) + i) & 7) * FPU_REG_SIZE;
  return { se: f.getUint16(at + FPU_REG_SIGN_EXP_U16, true), sig: f.getBigUint64(at + FPU_REG_SIGNIFICAND_U64, true) };
}

function words(bytes: Uint8Array, size: 2 | 4): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Array.from({ length: bytes.length / size }, (_, i) => (size === 2 ? view.getUint16(i * 2, true) : view.getUint32(i * 4, true)));
}

function exitOf(host: CoreHost): VcpuExit | undefined {
  return host.run(1000);
}

const ONE = { se: 0x3fff, sig: 1n << 63n };

test("real-mode FNSTENV stores linear pointers in the 16- and 32-bit layouts; FLDENV reads them back", () => {
  const host = machine();
  // CS = 0x1100 (base 0x11000), DS = 0x2200 (base 0x22000): the pointers have bits above 16.
  const code = [
    0xdb, 0xe3, // 0x10 FNINIT
    0xd9, 0x06, ...le16(0x20), // 0x12 FLD dword [0x20]: FOP 0x106, FIP 0x11012, FDP 0x22020
    0xd9, 0x36, ...le16(0x100), // 0x16 FNSTENV [0x100] (14 bytes)
    0x66, 0xd9, 0x36, ...le16(0x200), // 0x1a FNSTENV [0x200] (28 bytes)
    0xd9, 0x26, ...le16(0x100), // 0x1f FLDENV [0x100]
    0xd9, 0x36, ...le16(0x300), // 0x23 FNSTENV [0x300]
    0x66, 0xd9, 0x26, ...le16(0x200), // 0x27 FLDENV [0x200] (28 bytes)
    0x66, 0xd9, 0x36, ...le16(0x400), // 0x2c FNSTENV [0x400]
    HLT,
  ];
  host.ram.set(code, 0x11010);
  host.ram.set(le32(0x3f800000), 0x22020);
  realMode(host, 0x1100, 0x10, 0x2200);
  assert.equal(exitOf(host)?.reason, "hlt");
  const env16 = host.ram.subarray(0x22100, 0x22100 + 14);
  // CW, SW (TOP 7), TW (R7 valid), FIP 15..0, FIP 19..16 << 12 | FOP, FDP 15..0, FDP 19..16 << 12.
  assert.deepEqual(words(env16, 2), [0x037f, 0x3800, 0x3fff, 0x1012, 0x1106, 0x2020, 0x2000]);
  const env32 = host.ram.subarray(0x22200, 0x22200 + 28);
  // Reserved upper halves read as ones; FIP and FDP 31..16 sit in bits 12-27 of the next dword.
  assert.deepEqual(words(env32, 4), [0xffff037f, 0xffff3800, 0xffff3fff, 0xffff1012, 0x00001106, 0xffff2020, 0x00002000]);
  assert.deepEqual([...host.ram.subarray(0x22300, 0x22300 + 14)], [...env16]);
  assert.deepEqual([...host.ram.subarray(0x22400, 0x22400 + 28)], [...env32]);
});

test("real-mode FNSAVE stores the environment and ST(0)-ST(7), then initializes; FRSTOR restores", () => {
  const host = machine();
  const code = [
    0xdb, 0xe3, // FNINIT
    0xd9, 0xe8, // FLD1
    0xd9, 0xee, // FLDZ
    0xdd, 0x36, ...le16(0x100), // FNSAVE [0x100] (94 bytes)
    0xdd, 0x26, ...le16(0x100), // FRSTOR [0x100]
    0x66, 0xdd, 0x36, ...le16(0x200), // FNSAVE [0x200] (108 bytes)
    HLT,
  ];
  host.ram.set(code, 0x1000);
  realMode(host, 0x0100, 0, 0x0200);
  assert.equal(exitOf(host)?.reason, "hlt");
  const save16 = host.ram.subarray(0x2100, 0x2100 + 94);
  // TOP 6; R6 zero (tag 01), R7 valid (00); FLDZ (D9 EE) at linear 0x1004.
  assert.deepEqual(words(save16.subarray(0, 14), 2), [0x037f, 0x3000, 0x1fff, 0x1004, 0x01ee, 0, 0]);
  assert.deepEqual([...save16.subarray(14, 24)], new Array(10).fill(0), "ST(0) = +0");
  assert.deepEqual([...save16.subarray(24, 34)], [0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f], "ST(1) = 1.0");
  const save32 = host.ram.subarray(0x2200, 0x2200 + 108);
  assert.deepEqual(words(save32.subarray(0, 28), 4), [0xffff037f, 0xffff3000, 0xffff1fff, 0xffff1004, 0x000001ee, 0xffff0000, 0]);
  assert.deepEqual([...save32.subarray(28)], [...save16.subarray(14)]);
  // FNSAVE left FNINIT's state behind.
  const f = fpu(host);
  assert.deepEqual([f.getUint16(FPU_CW_U16, true), f.getUint16(FPU_SW_U16, true), f.getUint16(FPU_TW_U16, true)], [0x037f, 0, 0xffff]);
});

/** FNINIT; FLDCW (ZE unmasked); FLDZ; FLD1; FDIV ST0,ST1 (1/0: ZE, nothing stored); FADD ST0,ST0; FNSTSW AX; HLT. */
const PENDING_ZE = [
  0xdb, 0xe3, 0xd9, 0x2e, ...le16(0x100), 0xd9, 0xee, 0xd9, 0xe8, 0xd8, 0xf1, 0xd8, 0xc0, 0xdf, 0xe0, HLT,
];
const FADD_OFFSET = 12;

test("with CR0.NE clear a pending unmasked exception raises no #MF: the next instruction runs, ES stays", () => {
  const host = machine();
  host.ram.set(PENDING_ZE, 0x1000);
  host.ram.set(le16(0x037b), 0x2100);
  realMode(host, 0x0100, 0, 0x0200);
  assert.equal(exitOf(host)?.reason, "hlt");
  assert.deepEqual(st(host, 0), { se: 0x4000, sig: 1n << 63n }, "FADD ran: 1 + 1");
  const ax = Number(host.getState([REG.rax])[0].value & 0xffffn);
  assert.equal(ax & 0x80bf, 0x8084, "ZE, ES and B");
});

test("with CR0.NE set the next waiting instruction raises #MF before it changes anything", () => {
  const host = machine();
  host.ram.set(PENDING_ZE, 0x1000);
  host.ram.set(le16(0x037b), 0x2100);
  realMode(host, 0x0100, 0, 0x0200, 0x60000030);
  const exit = exitOf(host);
  assert.equal(exit?.reason === "exception" && exit.vector, 16);
  assert.equal(exit?.reason === "exception" && exit.rip, FADD_OFFSET);
  assert.deepEqual(st(host, 0), ONE, "ST(0) still 1");
});

test("#NM: x87 instructions and FXSAVE with CR0.EM or CR0.TS; WAIT only with CR0.MP and CR0.TS", () => {
  const cases: [name: string, code: number[], cr0: number, vector: number | undefined][] = [
    ["FLD1 with EM", [0xd9, 0xe8], 0x14, 7],
    ["FLD1 with TS", [0xd9, 0xe8], 0x18, 7],
    ["FLD1 with MP", [0xd9, 0xe8], 0x12, undefined],
    ["WAIT with MP and TS", [0x9b], 0x1a, 7],
    ["WAIT with TS", [0x9b], 0x18, undefined],
    ["WAIT with EM", [0x9b], 0x14, undefined],
    ["FXSAVE with TS", [0x0f, 0xae, 0x06, ...le16(0x100)], 0x18, 7],
    ["FXRSTOR with EM", [0x0f, 0xae, 0x0e, ...le16(0x100)], 0x14, 7],
  ];
  for (const [name, code, cr0, vector] of cases) {
    const host = machine();
    host.ram.set([...code, HLT], 0x1000);
    host.ram.set(le16(0x037f), 0x2100); // a valid FXRSTOR image (the rest zero)
    realMode(host, 0x0100, 0, 0x0200, cr0);
    const exit = exitOf(host);
    assert.equal(exit?.reason === "exception" ? exit.vector : undefined, vector, name);
  }
});

test("FISTTP (SSE3, not reported by the core) raises #UD in all three sizes", () => {
  for (const op of [0xdb, 0xdd, 0xdf]) {
    const host = machine();
    host.ram.set([0xd9, 0xe8, op, 0x0e, ...le16(0x100), HLT], 0x1000);
    realMode(host, 0x0100, 0, 0x0200);
    const exit = exitOf(host);
    assert.equal(exit?.reason === "exception" && exit.vector, 6, `${op.toString(16)} /1`);
  }
});

test("FXSAVE stores the x87 state, zero MXCSR and XMM fields, and leaves bytes 288-511 alone", () => {
  const host = machine();
  host.ram.fill(0xaa, 0x2100, 0x2100 + 512);
  host.ram.set([0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xee, 0x0f, 0xae, 0x06, ...le16(0x100), HLT], 0x1000);
  realMode(host, 0x0100, 0, 0x0200);
  assert.equal(exitOf(host)?.reason, "hlt");
  const area = host.ram.subarray(0x2100, 0x2100 + 512);
  const view = new DataView(area.buffer, area.byteOffset, 512);
  // FCW, FSW (TOP 6), abridged FTW (R6 and R7 in use), FOP of FLDZ, FIP, FCS, FDP, FDS.
  assert.deepEqual(
    [view.getUint16(0, true), view.getUint16(2, true), area[4], area[5], view.getUint16(6, true), view.getUint32(8, true), view.getUint16(12, true), view.getUint32(16, true), view.getUint16(20, true)],
    [0x037f, 0x3000, 0xc0, 0, 0x1ee, 4, 0x0100, 0, 0],
  );
  assert.deepEqual([...area.subarray(24, 32)], new Array(8).fill(0), "MXCSR, MXCSR_MASK");
  assert.deepEqual([...area.subarray(32, 48)], new Array(16).fill(0), "ST(0) = +0");
  assert.deepEqual([...area.subarray(48, 64)], [0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f, 0, 0, 0, 0, 0, 0], "ST(1) = 1.0");
  assert.ok(area.subarray(160, 288).every((b) => b === 0), "XMM0-7");
  assert.ok(area.subarray(288).every((b) => b === 0xaa), "bytes 288-511");
});

test("a store crossing into a not-present page faults before writing any byte", () => {
  // Flat protected mode, paging on, identity-mapped but for page 0x50 (0x50000) not present.
  const stores: [name: string, code: number[], at: number][] = [
    ["FSTP m80fp", [0xdb, 0x3d], 0x4fffa],
    ["FST m64fp", [0xdd, 0x15], 0x4fffc],
    ["FNSAVE", [0xdd, 0x35], 0x4ffc0],
    ["FBSTP", [0xdf, 0x35], 0x4fff8],
  ];
  for (const [name, op, at] of stores) {
    const host = machine();
    const ram = host.ram;
    const view = new DataView(ram.buffer, ram.byteOffset);
    view.setUint32(0x10000, 0x11000 | 3, true);
    for (let page = 0; page < 256; page++) {
      if (page !== 0x50) view.setUint32(0x11000 + page * 4, (page << 12) | 3, true);
    }
    ram.fill(0xaa, 0x4f000, 0x50000);
    ram.set([0xdb, 0xe3, 0xd9, 0xe8, ...op, ...le32(at), HLT], 0x1000);
    host.setState([
      ...["cs", "ds", "es", "ss"].flatMap((seg) => [
        { tag: REG[`${seg}.selector`], value: seg === "cs" ? 0x08 : 0x10 },
        { tag: REG[`${seg}.base`], value: 0 },
        { tag: REG[`${seg}.limit`], value: 0xffffffff },
        { tag: REG[`${seg}.attrs`], value: seg === "cs" ? 0xc09b : 0xc093 },
      ]),
      { tag: REG.cr3, value: 0x10000 },
      { tag: REG.cr0, value: 0x80000031 },
      { tag: REG.rip, value: 0x1000 },
    ]);
    const exit = exitOf(host);
    assert.equal(exit?.reason === "exception" && exit.vector, 14, `${name}: #PF`);
    assert.equal(exit?.reason === "exception" && exit.rip, 0x1004, `${name}: at the store`);
    assert.equal(Number(host.getState([REG.cr2])[0].value), 0x50000, `${name}: CR2`);
    assert.ok(ram.subarray(0x4f000, 0x50000).every((b) => b === 0xaa), `${name}: nothing written`);
    assert.deepEqual(st(host, 0), ONE, `${name}: ST(0) kept`);
    assert.equal(fpu(host).getUint16(FPU_SW_U16, true), 0x3800, `${name}: TOP kept, no flags`);
  }
});
