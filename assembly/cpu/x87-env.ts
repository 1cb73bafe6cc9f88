// The x87 environment and state images: FNSTENV/FLDENV (14 or 28 bytes), FNSAVE/FRSTOR (94 or
// 108 bytes) in their 16- and 32-bit, real- and protected-mode layouts (SDM vol. 1, 8.1.10 and
// figures 8-9 to 8-12), FXSAVE/FXRSTOR's 512-byte area (SDM vol. 2, FXSAVE, table 3-53; the
// x87 part only: MXCSR and the XMM registers are stored as zero and ignored on restore, since
// the core has no SSE), and the multi-piece memory accesses they and the 64/80-bit operands
// need. An image is written only once every byte of it is known to be writable, so a fault
// leaves memory and state as they were.

import { FPU_FCS_U16, FPU_FDP_U32, FPU_FDS_U16, FPU_FIP_U32, FPU_FOP_U16 } from "../abi/layout";
import { faulted, GP, NM, raise, raiseCode } from "./fault";
import { getFlags } from "./flags";
import { linearAddress, readSeg, writeSeg } from "./memory";
import { cpu, cr, CR0_PE, VM } from "./state";
import {
  CW_INIT, cw, physSe, physSig, physical, physTag, retag, setCw, setPhys, setSw, setTw, sw, TAG_EMPTY, tw,
} from "./x87-state";

const CR0_EM: u32 = 1 << 2;
const CR0_TS: u32 = 1 << 3;

// ---- Multi-piece memory access ----

/** A read of `size` bytes at seg:offset will not fault (limits checked, both pages touched). */
function probeRead(seg: i32, offset: u32, size: i32): bool {
  linearAddress(seg, offset, size, false);
  if (faulted()) return false;
  readSeg(seg, offset, 1);
  if (!faulted()) readSeg(seg, offset + <u32>size - 1, 1);
  return !faulted();
}

/**
 * Makes sure a write of `size` bytes at seg:offset cannot fault halfway: checks the limits and,
 * when the operand crosses a page, writes the two bytes around the boundary first (such a
 * two-byte write checks both pages before it stores anything).
 */
function probeWrite(seg: i32, offset: u32, size: i32, kind: i32): bool {
  const linear = linearAddress(seg, offset, size, true);
  if (faulted()) return false;
  const inPage = <i32>(0x1000 - (linear & 0xfff));
  if (inPage < size) {
    const k = <u32>(inPage - 1);
    writeSeg(seg, offset + k, 2, imageByte(kind, k) | (imageByte(kind, k + 1) << 8));
  }
  return !faulted();
}

/** Image kinds: a memory operand (memLo/memHi) or a state image. */
const IMAGE_OPERAND = 0;
const IMAGE_ENV16 = 1;
const IMAGE_ENV32 = 2;
const IMAGE_SAVE16 = 3;
const IMAGE_SAVE32 = 4;
const IMAGE_FXSAVE = 5;

/** The operand image for IMAGE_OPERAND writes. */
let operandLo: u64 = 0;
let operandHi: u32 = 0;
/** Whether state images use the real-mode layout (real or virtual-8086 mode). */
let realLayout: bool = false;

/** Writes a `size`-byte operand (2, 4, 8 or 10 bytes of hi:lo) at the instruction's operand. */
export function writeOperand(seg: i32, offset: u32, size: i32, lo: u64, hi: u32): void {
  if (size <= 4) {
    writeSeg(seg, offset, size, <u32>lo);
    return;
  }
  operandLo = lo;
  operandHi = hi;
  writeImage(seg, offset, size, IMAGE_OPERAND);
}

/** Writes an image of `size` bytes (even) after probing; 4-byte pieces when size allows. */
function writeImage(seg: i32, offset: u32, size: i32, kind: i32): void {
  if (!probeWrite(seg, offset, size, kind)) return;
  const step = (size & 3) == 0 ? 4 : 2;
  for (let k = 0; k < size; k += step) {
    const at = <u32>k;
    let value = imageByte(kind, at) | (imageByte(kind, at + 1) << 8);
    if (step == 4) value |= (imageByte(kind, at + 2) << 16) | (imageByte(kind, at + 3) << 24);
    writeSeg(seg, offset + at, step, value);
  }
}

/** Byte k of an image. */
function imageByte(kind: i32, k: u32): u32 {
  switch (kind) {
    case IMAGE_OPERAND:
      return k < 8 ? <u32>(operandLo >> (<u64>k << 3)) & 0xff : (operandHi >> ((k - 8) << 3)) & 0xff;
    case IMAGE_ENV16: case IMAGE_SAVE16:
      return k < 14 ? (envField16(<i32>(k >> 1)) >> ((k & 1) << 3)) & 0xff : registerByte(<i32>(k - 14) / 10, (k - 14) % 10);
    case IMAGE_ENV32: case IMAGE_SAVE32:
      return k < 28 ? (envField32(<i32>(k >> 2)) >> ((k & 3) << 3)) & 0xff : registerByte(<i32>(k - 28) / 10, (k - 28) % 10);
    default:
      return fxsaveByte(k);
  }
}

/** Byte k (0-9) of ST(i) in memory's 80-bit layout. */
function registerByte(i: i32, k: u32): u32 {
  const p = physical(i);
  return k < 8 ? <u32>(physSig(p) >> (<u64>k << 3)) & 0xff : (physSe(p) >> ((k - 8) << 3)) & 0xff;
}

// ---- Environment fields ----

/** The last instruction and data pointers as the vCPU block holds them (offsets and selectors). */
function fip(): u32 { return load<u32>(cpu + FPU_FIP_U32); }
function fcs(): u32 { return <u32>load<u16>(cpu + FPU_FCS_U16); }
function fop(): u32 { return <u32>load<u16>(cpu + FPU_FOP_U16) & 0x7ff; }
function fdp(): u32 { return load<u32>(cpu + FPU_FDP_U32); }
function fds(): u32 { return <u32>load<u16>(cpu + FPU_FDS_U16); }

/** In the real-mode layouts the pointers are linear: selector * 16 + offset. */
function fipLinear(): u32 { return (fcs() << 4) + fip(); }
/** See fipLinear(). */
function fdpLinear(): u32 { return (fds() << 4) + fdp(); }

/** Field j (0-6) of the 16-bit environment. */
function envField16(j: i32): u32 {
  switch (j) {
    case 0: return cw();
    case 1: return sw();
    case 2: return tw();
    case 3: return realLayout ? fipLinear() & 0xffff : fip() & 0xffff;
    case 4: return realLayout ? ((fipLinear() >> 4) & 0xf000) | fop() : fcs();
    case 5: return realLayout ? fdpLinear() & 0xffff : fdp() & 0xffff;
    default: return realLayout ? (fdpLinear() >> 4) & 0xf000 : fds();
  }
}

/**
 * Field j (0-6) of the 32-bit environment. The reserved upper halves are stored as ones, as the
 * host processor stores them in protected mode (the real-mode layout is given the same).
 */
function envField32(j: i32): u32 {
  switch (j) {
    case 0: return cw() | 0xffff0000;
    case 1: return sw() | 0xffff0000;
    case 2: return tw() | 0xffff0000;
    case 3: return realLayout ? fipLinear() & 0xffff | 0xffff0000 : fip();
    case 4: return realLayout ? ((fipLinear() >> 4) & 0x0ffff000) | fop() : fcs() | (fop() << 16);
    case 5: return realLayout ? fdpLinear() & 0xffff | 0xffff0000 : fdp();
    default: return realLayout ? (fdpLinear() >> 4) & 0x0ffff000 : fds() | 0xffff0000;
  }
}

/** Byte k of the FXSAVE image (SDM vol. 2, table 3-53, 32-bit format). */
function fxsaveByte(k: u32): u32 {
  if (k >= 32 && k < 160) {
    const slot = k - 32;
    return (slot & 15) < 10 ? registerByte(<i32>(slot >> 4), slot & 15) : 0;
  }
  let field: u32 = 0;
  switch (k >> 2) {
    case 0: field = cw() | (sw() << 16); break;
    case 1: field = abridgedTags() | (fop() << 16); break;
    case 2: field = fip(); break;
    case 3: field = fcs(); break;
    case 4: field = fdp(); break;
    case 5: field = fds(); break;
  }
  return (field >> ((k & 3) << 3)) & 0xff;
}

/** FXSAVE's tag byte: one bit per physical register, set when it is not empty. */
function abridgedTags(): u32 {
  let tags: u32 = 0;
  for (let p = 0; p < 8; p++) {
    if (physTag(p) != TAG_EMPTY) tags |= <u32>1 << <u32>p;
  }
  return tags;
}

// ---- Instructions ----

/** Whether the real-mode layout applies: real mode or virtual-8086 mode. */
function useRealLayout(): bool {
  return (cr(0) & CR0_PE) == 0 || (getFlags() & VM) != 0;
}

/** FNSTENV: stores the environment, then masks every exception (SDM vol. 2, FSTENV). */
export function storeEnvironment(seg: i32, offset: u32, big: bool): void {
  realLayout = useRealLayout();
  writeImage(seg, offset, big ? 28 : 14, big ? IMAGE_ENV32 : IMAGE_ENV16);
  if (faulted()) return;
  setCw(cw() | 0x3f);
}

/** FNSAVE: stores the environment and the registers, then initializes the FPU. */
export function saveState(seg: i32, offset: u32, big: bool): void {
  realLayout = useRealLayout();
  writeImage(seg, offset, big ? 108 : 94, big ? IMAGE_SAVE32 : IMAGE_SAVE16);
  if (!faulted()) initialize();
}

/** FNINIT: the initial control, status and tag words; the pointers cleared, registers kept. */
export function initialize(): void {
  setSw(0);
  setTw(0xffff);
  setCw(CW_INIT);
  store<u16>(cpu + FPU_FOP_U16, 0);
  store<u32>(cpu + FPU_FIP_U32, 0);
  store<u16>(cpu + FPU_FCS_U16, 0);
  store<u32>(cpu + FPU_FDP_U32, 0);
  store<u16>(cpu + FPU_FDS_U16, 0);
}

/**
 * FLDENV (and FRSTOR's first part): loads the environment after checking the whole image can
 * be read. Tags other than empty are recomputed from the registers, as the processor does.
 */
export function loadEnvironment(seg: i32, offset: u32, big: bool, size: i32): void {
  if (!probeRead(seg, offset, size)) return;
  const real = useRealLayout();
  // Seven fields of w bytes: CW, SW and TW (16 bits each), then the instruction pointer, the
  // opcode and CS, the data pointer and DS.
  const w = <u32>(big ? 4 : 2);
  const newCw = readSeg(seg, offset, 2);
  const newSw = readSeg(seg, offset + w, 2);
  const newTw = readSeg(seg, offset + 2 * w, 2);
  let ip = readSeg(seg, offset + 3 * w, <i32>w);
  const opAndCs = readSeg(seg, offset + 4 * w, <i32>w);
  let dp = readSeg(seg, offset + 5 * w, <i32>w);
  const ds = readSeg(seg, offset + 6 * w, <i32>w);
  let op: u32;
  let cs: u32;
  let dsSel: u32;
  if (real) {
    // Linear pointers: bits 16 and up sit in bits 12 and up of the next field.
    const high = big ? 0x0ffff000 : 0xf000;
    op = opAndCs & 0x7ff;
    ip = (ip & 0xffff) | ((opAndCs & high) << 4);
    dp = (dp & 0xffff) | ((ds & high) << 4);
    cs = 0;
    dsSel = 0;
  } else if (big) {
    op = (opAndCs >> 16) & 0x7ff;
    cs = opAndCs & 0xffff;
    dsSel = ds & 0xffff;
  } else {
    op = 0;
    cs = opAndCs;
    dsSel = ds;
  }
  setSw(newSw);
  setTw(newTw);
  retag();
  setCw(newCw);
  store<u16>(cpu + FPU_FOP_U16, <u16>op);
  store<u32>(cpu + FPU_FIP_U32, ip);
  store<u16>(cpu + FPU_FCS_U16, <u16>cs);
  store<u32>(cpu + FPU_FDP_U32, dp);
  store<u16>(cpu + FPU_FDS_U16, <u16>dsSel);
}

/** FRSTOR: the environment, then ST(0)-ST(7), then the tags recomputed. */
export function restoreState(seg: i32, offset: u32, big: bool): void {
  const header = big ? 28 : 14;
  loadEnvironment(seg, offset, big, header + 80);
  if (faulted()) return;
  for (let i = 0; i < 8; i++) {
    const at = offset + <u32>(header + i * 10);
    const lo = <u64>readSeg(seg, at, 4) | (<u64>readSeg(seg, at + 4, 4) << 32);
    const se = readSeg(seg, at + 8, 2);
    const p = physical(i);
    const tag = physTag(p);
    setPhys(p, se, lo);
    if (tag == TAG_EMPTY) setEmptyTag(p);
  }
}

/** Tags physical register p empty. */
function setEmptyTag(p: i32): void {
  setTw(tw() | (<u32>3 << (<u32>p << 1)));
}

/**
 * FXSAVE m512byte: #NM when CR0.EM or CR0.TS is set, #GP(0) unless 16-byte aligned. Writes
 * bytes 0-287 (the x87 state, zero MXCSR and XMM fields); the segment limit is checked for all
 * 512 bytes, the pages only for those written.
 */
export function fxsave(seg: i32, offset: u32): void {
  if (!available() || !aligned16(seg, offset)) return;
  linearAddress(seg, offset, 512, true);
  if (!faulted()) writeImage(seg, offset, 288, IMAGE_FXSAVE);
}

/** FXRSTOR m512byte: the x87 state from an FXSAVE area (MXCSR and XMM are not modelled). */
export function fxrstor(seg: i32, offset: u32): void {
  if (!available() || !aligned16(seg, offset) || !probeRead(seg, offset, 512)) return;
  const control = readSeg(seg, offset, 2);
  const status = readSeg(seg, offset + 2, 2);
  const tags = readSeg(seg, offset + 4, 1);
  store<u16>(cpu + FPU_FOP_U16, <u16>(readSeg(seg, offset + 6, 2) & 0x7ff));
  store<u32>(cpu + FPU_FIP_U32, readSeg(seg, offset + 8, 4));
  store<u16>(cpu + FPU_FCS_U16, <u16>readSeg(seg, offset + 12, 2));
  store<u32>(cpu + FPU_FDP_U32, readSeg(seg, offset + 16, 4));
  store<u16>(cpu + FPU_FDS_U16, <u16>readSeg(seg, offset + 20, 2));
  for (let p = 0; p < 8; p++) {
    // Registers are stored in ST order; TOP comes from the new status word.
    const at = offset + 32 + <u32>(((p - <i32>((status >> 11) & 7)) & 7) << 4);
    const lo = <u64>readSeg(seg, at, 4) | (<u64>readSeg(seg, at + 4, 4) << 32);
    setPhys(p, readSeg(seg, at + 8, 2), lo);
  }
  let full: u32 = 0;
  for (let p = 0; p < 8; p++) {
    if ((tags & (<u32>1 << <u32>p)) == 0) full |= <u32>3 << (<u32>p << 1);
  }
  setSw(status);
  setTw(full);
  retag();
  setCw(control);
}

/** FXSAVE and FXRSTOR raise #NM when CR0.EM or CR0.TS is set. */
function available(): bool {
  if ((cr(0) & (CR0_EM | CR0_TS)) != 0) {
    raise(NM);
    return false;
  }
  return true;
}

/** The operand's linear address is 16-byte aligned; #GP(0) otherwise (and segment faults first). */
function aligned16(seg: i32, offset: u32): bool {
  const linear = linearAddress(seg, offset, 1, false);
  if (faulted()) return false;
  if ((linear & 15) != 0) {
    raiseCode(GP, 0);
    return false;
  }
  return true;
}
