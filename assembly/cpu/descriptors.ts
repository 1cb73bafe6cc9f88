// Segment descriptors (SDM vol. 3, 3.4.5 and 3.5): reading one from the GDT or LDT, decoding it
// into the form the segment registers hold (base, byte limit, attribute bits 40-47 and 52-55),
// setting its accessed bit, and reading IDT gates. Table reads are supervisor accesses.

import { REG_GDTR_BASE_U64, REG_GDTR_LIMIT_U32, REG_IDTR_BASE_U64, REG_IDTR_LIMIT_U32, SEG_LDTR } from "../abi/layout";
import { faulted } from "./fault";
import { readSystem, writeSystem } from "./memory";
import { cpu, segAttrs, segBase, segLimit } from "./state";

export const DESC_P: u32 = 0x80;
export const DESC_S: u32 = 0x10;
export const DESC_CODE: u32 = 0x8;
export const DESC_CONFORMING: u32 = 0x4;
export const DESC_RW: u32 = 0x2;
export const DESC_ACCESSED: u32 = 0x1;
/** System descriptor types (attrs & 0x1f with S clear). */
export const TYPE_TSS16_AVAILABLE: u32 = 0x1;
export const TYPE_LDT: u32 = 0x2;
export const TYPE_TSS16_BUSY: u32 = 0x3;
export const TYPE_CALL_GATE16: u32 = 0x4;
export const TYPE_TASK_GATE: u32 = 0x5;
export const TYPE_INT_GATE16: u32 = 0x6;
export const TYPE_TRAP_GATE16: u32 = 0x7;
export const TYPE_TSS32_AVAILABLE: u32 = 0x9;
export const TYPE_TSS32_BUSY: u32 = 0xb;
export const TYPE_CALL_GATE32: u32 = 0xc;
export const TYPE_INT_GATE32: u32 = 0xe;
export const TYPE_TRAP_GATE32: u32 = 0xf;

// The descriptor (or gate) last read, decoded.
export let descBase: u32 = 0;
export let descLimit: u32 = 0;
export let descAttrs: u32 = 0;
/** For gates: the target selector and offset, and the parameter count of a call gate. */
export let gateSelector: u32 = 0;
export let gateOffset: u32 = 0;
export let gateParams: u32 = 0;
let descAddress: u32 = 0;

export const READ_OK = 0;
/** The selector or vector lies beyond its table's limit (nothing raised: the caller picks the fault). */
export const READ_OUTSIDE = 1;
/** A page fault (raised) while reading the table. */
export const READ_FAULT = 2;

function decode(lo: u32, hi: u32): void {
  descBase = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000);
  const limit = (lo & 0xffff) | (hi & 0xf0000);
  descLimit = (hi & 0x800000) != 0 ? (limit << 12) | 0xfff : limit;
  descAttrs = ((hi >> 8) & 0xff) | ((hi >> 8) & 0xf000);
  gateSelector = lo >> 16;
  gateOffset = (lo & 0xffff) | (hi & 0xffff0000);
  gateParams = hi & 0x1f;
}

/** Reads the descriptor `selector` names from the GDT or LDT. */
export function readDescriptor(selector: u32): i32 {
  const local = (selector & 4) != 0;
  const offset = selector & 0xfff8;
  if (local && (segAttrs(SEG_LDTR) & DESC_P) == 0) return READ_OUTSIDE;
  const limit = local ? segLimit(SEG_LDTR) : load<u32>(cpu + REG_GDTR_LIMIT_U32);
  if (offset + 7 > limit) return READ_OUTSIDE;
  descAddress = (local ? segBase(SEG_LDTR) : <u32>load<u64>(cpu + REG_GDTR_BASE_U64)) + offset;
  const lo = readSystem(descAddress, 4);
  const hi = readSystem(descAddress + 4, 4);
  if (faulted()) return READ_FAULT;
  decode(lo, hi);
  return READ_OK;
}

/** Reads IDT gate `vector` (protected mode). */
export function readGate(vector: u32): i32 {
  const offset = vector << 3;
  if (offset + 7 > load<u32>(cpu + REG_IDTR_LIMIT_U32)) return READ_OUTSIDE;
  const at = <u32>load<u64>(cpu + REG_IDTR_BASE_U64) + offset;
  const lo = readSystem(at, 4);
  const hi = readSystem(at + 4, 4);
  if (faulted()) return READ_FAULT;
  decode(lo, hi);
  return READ_OK;
}

/** Sets the accessed bit of the descriptor last read by readDescriptor(). */
export function markAccessed(): void {
  if ((descAttrs & DESC_ACCESSED) == 0) {
    descAttrs |= DESC_ACCESSED;
    writeSystem(descAddress + 5, 1, descAttrs & 0xff);
  }
}

/** Sets or clears the busy bit of the TSS descriptor last read (LTR, task switches). */
export function setBusyBit(busy: bool): void {
  descAttrs = busy ? descAttrs | 2 : descAttrs & ~2;
  writeSystem(descAddress + 5, 1, descAttrs & 0xff);
}

/** Descriptor privilege level of the descriptor last read. */
// @ts-ignore: decorator
@inline export function descDpl(): u32 {
  return (descAttrs >> 5) & 3;
}
