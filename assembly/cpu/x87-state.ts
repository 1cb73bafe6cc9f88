// x87 FPU register state in the vCPU block (SDM vol. 1, 8.1 "x87 FPU Execution Environment"):
// the register stack addressed through TOP, the full tag word, the status and control words,
// the stack-fault and exception responses shared by every instruction (8.5.1, 8.6, 8.7), and the
// last-instruction pointers (8.1.8, 8.1.9). Physical registers R0-R7 live in the block; ST(i)
// is R((TOP + i) mod 8).

import {
  FPU_CW_U16, FPU_FCS_U16, FPU_FDP_U32, FPU_FDS_U16, FPU_FIP_U32, FPU_FOP_U16, FPU_REG_BASE, FPU_REG_SIGN_EXP_U16,
  FPU_REG_SIGNIFICAND_U64, FPU_REG_SIZE, FPU_SW_U16, FPU_TW_U16, SEG_CS,
} from "../abi/layout";
import { eaOffset, eaSeg, modrmMod, modrmReg, modrmRm } from "./decode";
import { cpu, segSelector, startEip } from "./state";
import {
  classify, EX_C1, EX_IE, EX_SF, INDEFINITE_SE, INDEFINITE_SIG, resSe, resSig, ZERO, NORMAL,
} from "./x87-float80";

// Status word (SDM vol. 1, figure 8-4).
export const SW_ES: u32 = 0x80;
export const SW_C0: u32 = 0x100;
export const SW_C1: u32 = 0x200;
export const SW_C2: u32 = 0x400;
export const SW_C3: u32 = 0x4000;
export const SW_B: u32 = 0x8000;
const SW_TOP_SHIFT: u32 = 11;

// Tags (SDM vol. 1, figure 8-7).
const TAG_VALID: u32 = 0;
const TAG_ZERO: u32 = 1;
const TAG_SPECIAL: u32 = 2;
export const TAG_EMPTY: u32 = 3;

/** The state FNINIT leaves (SDM vol. 1, table 8-10). */
export const CW_INIT: u32 = 0x037f;

/** The control word. */
// @ts-ignore: decorator
@inline export function cw(): u32 {
  return <u32>load<u16>(cpu + FPU_CW_U16);
}

/** The status word (TOP in bits 11-13). */
// @ts-ignore: decorator
@inline export function sw(): u32 {
  return <u32>load<u16>(cpu + FPU_SW_U16);
}

/** Writes the status word as is (see updateSummary for ES and B). */
// @ts-ignore: decorator
@inline export function setSw(value: u32): void {
  store<u16>(cpu + FPU_SW_U16, <u16>value);
}

/** The full tag word, two bits per physical register. */
// @ts-ignore: decorator
@inline export function tw(): u32 {
  return <u32>load<u16>(cpu + FPU_TW_U16);
}

/** Writes the full tag word. */
// @ts-ignore: decorator
@inline export function setTw(value: u32): void {
  store<u16>(cpu + FPU_TW_U16, <u16>value);
}

/**
 * Writes the control word: bits 6 and 13-15 are reserved (bit 6 reads as one), and the
 * exception summary follows the new masks.
 */
export function setCw(value: u32): void {
  store<u16>(cpu + FPU_CW_U16, <u16>((value & 0x1f3f) | 0x40));
  updateSummary();
}

/** ES and B: set while any exception flag is unmasked. */
export function updateSummary(): void {
  const s = sw();
  setSw((s & 0x3f & ~cw()) != 0 ? s | SW_ES | SW_B : s & ~(SW_ES | SW_B));
}

/** TOP: the physical number of ST(0). */
// @ts-ignore: decorator
@inline export function top(): i32 {
  return <i32>(sw() >> SW_TOP_SHIFT) & 7;
}

/** Sets TOP (modulo 8). */
export function setTop(t: i32): void {
  setSw((sw() & ~(<u32>7 << SW_TOP_SHIFT)) | (<u32>(t & 7) << SW_TOP_SHIFT));
}

/** Sets the condition codes selected by `mask` to `value`. */
export function setCC(mask: u32, value: u32): void {
  setSw((sw() & ~mask) | (value & mask));
}

// ---- Registers ----

/** The physical register number of ST(i). */
// @ts-ignore: decorator
@inline export function physical(i: i32): i32 {
  return (top() + i) & 7;
}

/** The address of physical register p in the vCPU block. */
// @ts-ignore: decorator
@inline function regAt(p: i32): usize {
  return cpu + FPU_REG_BASE + <usize>p * FPU_REG_SIZE;
}

/** Physical register p's sign and exponent. */
export function physSe(p: i32): u32 {
  return <u32>load<u16>(regAt(p) + FPU_REG_SIGN_EXP_U16);
}

/** Physical register p's significand. */
export function physSig(p: i32): u64 {
  return load<u64>(regAt(p) + FPU_REG_SIGNIFICAND_U64);
}

/** Physical register p's tag (TAG_*). */
export function physTag(p: i32): u32 {
  return (tw() >> (<u32>p << 1)) & 3;
}

/** Sets physical register p's tag. */
export function setPhysTag(p: i32, tag: u32): void {
  const shift = <u32>p << 1;
  setTw((tw() & ~(<u32>3 << shift)) | (tag << shift));
}

/** The tag a value deserves: zero, valid (a normal) or special (everything else). */
function tagFor(se: u32, sig: u64): u32 {
  const c = classify(se, sig);
  return c == ZERO ? TAG_ZERO : c == NORMAL ? TAG_VALID : TAG_SPECIAL;
}

/** Writes a physical register and its tag. */
export function setPhys(p: i32, se: u32, sig: u64): void {
  store<u16>(regAt(p) + FPU_REG_SIGN_EXP_U16, <u16>se);
  store<u64>(regAt(p) + FPU_REG_SIGNIFICAND_U64, sig);
  setPhysTag(p, tagFor(se, sig));
}

/** ST(i)'s sign and exponent. */
// @ts-ignore: decorator
@inline export function stSe(i: i32): u32 {
  return physSe(physical(i));
}

/** ST(i)'s significand. */
// @ts-ignore: decorator
@inline export function stSig(i: i32): u64 {
  return physSig(physical(i));
}

/** Whether ST(i) is tagged empty. */
// @ts-ignore: decorator
@inline export function isEmpty(i: i32): bool {
  return physTag(physical(i)) == TAG_EMPTY;
}

/** Writes ST(i) and its tag. */
export function setSt(i: i32, se: u32, sig: u64): void {
  setPhys(physical(i), se, sig);
}

/** ST(i) = the result of the last float80 operation. */
export function setStResult(i: i32): void {
  setSt(i, resSe, resSig);
}

/** Recomputes the tags of every non-empty register from its contents (FRSTOR, FLDENV, FXRSTOR). */
export function retag(): void {
  for (let p = 0; p < 8; p++) {
    if (physTag(p) != TAG_EMPTY) setPhysTag(p, tagFor(physSe(p), physSig(p)));
  }
}

/** Pushes a value: TOP - 1, then ST(0) = value. The caller has checked for overflow. */
export function push(se: u32, sig: u64): void {
  setTop(top() - 1);
  setSt(0, se, sig);
}

/** Marks ST(0) empty and increments TOP. */
export function pop(): void {
  setPhysTag(physical(0), TAG_EMPTY);
  setTop(top() + 1);
}

// ---- Exceptions ----

/**
 * Merges raised exceptions (float80 EX_* bits) into the status word: the sticky flags, SF, C1
 * from EX_C1 (rounded up, or stack overflow), and the ES/B summary. Returns true when the
 * instruction may deliver its result: no unmasked invalid-operation, denormal-operand or
 * zero-divide exception (those leave the destination unchanged; SDM vol. 1, 8.7).
 */
export function commit(ex: u32): bool {
  let s = (sw() | (ex & 0x7f)) & ~SW_C1;
  if ((ex & EX_C1) != 0) s |= SW_C1;
  setSw(s);
  updateSummary();
  return (ex & 0x07 & ~cw()) == 0;
}

/** commit() for the instructions that leave C1 alone unless a stack fault sets it (FCOMI, FCMOVcc). */
export function commitKeepC1(ex: u32): bool {
  if ((ex & EX_SF) != 0) return commit(ex);
  setSw(sw() | (ex & 0x7f));
  updateSummary();
  return (ex & 0x07 & ~cw()) == 0;
}

/** Stack overflow (a push onto a non-empty register): IE, SF, C1 = 1. */
export const STACK_OVERFLOW: u32 = EX_IE | EX_SF | EX_C1;
/** Stack underflow (reading an empty register): IE, SF, C1 = 0. */
export const STACK_UNDERFLOW: u32 = EX_IE | EX_SF;

/**
 * Pushes `se:sig` with the stack-overflow check: when ST(7) is in use, the masked response
 * pushes the QNaN indefinite; unmasked, nothing changes. Otherwise commits `ex` (the load's own
 * exceptions) and pushes unless one of them is unmasked.
 */
export function pushChecked(se: u32, sig: u64, ex: u32): void {
  if (!isEmpty(7)) {
    // The stack fault outranks whatever the value's conversion raised.
    if (commit(STACK_OVERFLOW)) push(INDEFINITE_SE, INDEFINITE_SIG);
    return;
  }
  if (commit(ex)) push(se, sig);
}

/** Masked stack underflow: ST(i) becomes the indefinite (and the stack pops when `popAfter`). */
export function underflowInto(i: i32, popAfter: bool): void {
  if (!commit(STACK_UNDERFLOW)) return;
  setSt(i, INDEFINITE_SE, INDEFINITE_SIG);
  if (popAfter) pop();
}

// ---- Last instruction and data pointers ----

/** Records FOP, FIP and FCS for a non-control instruction whose first opcode byte is `op`. */
export function recordInstruction(op: u32): void {
  const modrm = (<u32>modrmMod << 6) | (<u32>modrmReg << 3) | <u32>modrmRm;
  store<u16>(cpu + FPU_FOP_U16, <u16>(((op & 7) << 8) | modrm));
  store<u32>(cpu + FPU_FIP_U32, startEip);
  store<u16>(cpu + FPU_FCS_U16, <u16>segSelector(SEG_CS));
}

/** Records FDP and FDS for an instruction with a memory operand. */
export function recordData(): void {
  store<u32>(cpu + FPU_FDP_U32, eaOffset);
  store<u16>(cpu + FPU_FDS_U16, <u16>segSelector(eaSeg));
}
