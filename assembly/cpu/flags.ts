// EFLAGS with lazily computed arithmetic flags. The common flag-setting instructions (ADD, SUB,
// CMP, the logic ops, INC, DEC) only record their operands and result; a flag is computed when
// something reads it. Everything else sets the arithmetic flags eagerly. The block's RFLAGS is
// loaded at run() entry and stored, fully computed, at every exit.

import { REG_RFLAGS_U64 } from "../abi/layout";
import { ARITH_FLAGS, AF, CF, cpu, FLAGS_FIXED, IF, OF, PF, SF, ZF } from "./state";
import { noteEvent } from "./interp";

export { LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_NONE, LAZY_SUB } from "../abi/block-records";
import { LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_NONE, LAZY_SUB } from "../abi/block-records";

/** EFLAGS; its arithmetic bits are stale while lazyOp != LAZY_NONE. */
export let flags: u32 = FLAGS_FIXED;
export let lazyOp: i32 = LAZY_NONE;
export let lazyDst: u32 = 0;
export let lazySrc: u32 = 0;
export let lazyRes: u32 = 0;
/** Operand size in bits minus one (7, 15 or 31): the sign bit's position. */
export let lazyTop: u32 = 31;

export function loadFlags(): void {
  flags = <u32>load<u64>(cpu + REG_RFLAGS_U64) | FLAGS_FIXED;
  lazyOp = LAZY_NONE;
}

export function storeFlags(): void {
  store<u64>(cpu + REG_RFLAGS_U64, <u64>getFlags());
}

/** Records a flag-setting result for lazy evaluation. `size` is in bytes. */
// @ts-ignore: decorator
@inline export function setLazy(op: i32, dst: u32, src: u32, res: u32, size: i32): void {
  if (op == LAZY_INC || op == LAZY_DEC) flags = (flags & ~CF) | getCF();
  lazyOp = op;
  lazyDst = dst;
  lazySrc = src;
  lazyRes = res;
  lazyTop = <u32>(size << 3) - 1;
}

/** Sets the arithmetic flags eagerly (bits outside ARITH_FLAGS of `value` are ignored). */
// @ts-ignore: decorator
@inline export function setArith(value: u32): void {
  flags = (flags & ~ARITH_FLAGS) | (value & ARITH_FLAGS);
  lazyOp = LAZY_NONE;
}

function sizeMask(): u32 {
  return lazyTop == 31 ? 0xffffffff : (<u32>2 << lazyTop) - 1;
}

export function getCF(): u32 {
  switch (lazyOp) {
    case LAZY_ADD: return (lazyRes & sizeMask()) < (lazyDst & sizeMask()) ? CF : 0;
    case LAZY_SUB: return (lazyDst & sizeMask()) < (lazySrc & sizeMask()) ? CF : 0;
    case LAZY_LOGIC: return 0;
    default: return flags & CF;
  }
}

export function getZF(): u32 {
  return lazyOp == LAZY_NONE ? flags & ZF : (lazyRes & sizeMask()) == 0 ? ZF : 0;
}

export function getSF(): u32 {
  return lazyOp == LAZY_NONE ? flags & SF : ((lazyRes >> lazyTop) & 1) != 0 ? SF : 0;
}

export function getPF(): u32 {
  return lazyOp == LAZY_NONE ? flags & PF : parity(lazyRes);
}

/** PF for a result: set when its low byte has an even number of one bits. */
// @ts-ignore: decorator
@inline export function parity(value: u32): u32 {
  return (popcnt<u32>(value & 0xff) & 1) == 0 ? PF : 0;
}

export function getAF(): u32 {
  switch (lazyOp) {
    case LAZY_NONE: return flags & AF;
    case LAZY_LOGIC: return 0;
    default: return (lazyDst ^ lazySrc ^ lazyRes) & AF;
  }
}

export function getOF(): u32 {
  switch (lazyOp) {
    case LAZY_ADD: case LAZY_INC: return (((lazyDst ^ lazyRes) & (lazySrc ^ lazyRes)) >> lazyTop) & 1 ? OF : 0;
    case LAZY_SUB: case LAZY_DEC: return (((lazyDst ^ lazySrc) & (lazyDst ^ lazyRes)) >> lazyTop) & 1 ? OF : 0;
    case LAZY_LOGIC: return 0;
    default: return flags & OF;
  }
}

/** The whole EFLAGS value, arithmetic flags computed. */
export function getFlags(): u32 {
  if (lazyOp != LAZY_NONE) {
    flags = (flags & ~ARITH_FLAGS) | getCF() | getPF() | getAF() | getZF() | getSF() | getOF();
    lazyOp = LAZY_NONE;
  }
  return flags;
}

/** Replaces EFLAGS bits selected by `mask` (POPF, SAHF, IRET decide the mask). */
export function setFlags(value: u32, mask: u32): void {
  const old = getFlags();
  flags = (old & ~mask) | (value & mask) | FLAGS_FIXED;
  // Setting IF (STI, POPF, IRET, a task switch) may let a pending interrupt in.
  if ((flags & ~old & IF) != 0) noteEvent();
}

/**
 * The common case after CMP or SUB: the condition straight from the operands (unsigned and
 * signed comparisons at the operand size) instead of assembling flags.
 */
function subtractCondition(test: i32): bool {
  const shift = 31 - lazyTop; // moves the operand's sign bit to bit 31
  switch (test) {
    case 1: return (lazyDst & sizeMask()) < (lazySrc & sizeMask()); // B
    case 2: return (lazyRes & sizeMask()) == 0; // E
    case 3: return (lazyDst & sizeMask()) <= (lazySrc & sizeMask()); // BE
    case 4: return ((lazyRes >> lazyTop) & 1) != 0; // S
    case 6: return <i32>(lazyDst << shift) < <i32>(lazySrc << shift); // L
    case 7: return <i32>(lazyDst << shift) <= <i32>(lazySrc << shift); // LE
    case 0: return getOF() != 0; // O
    default: return getPF() != 0; // P
  }
}

/** Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc). */
// @ts-ignore: decorator
@inline export function condition(cc: i32): bool {
  let result: bool;
  if (lazyOp == LAZY_SUB) {
    result = subtractCondition(cc >> 1);
  } else switch (cc >> 1) {
    case 0: result = getOF() != 0; break; // O
    case 1: result = getCF() != 0; break; // B
    case 2: result = getZF() != 0; break; // E
    case 3: result = (getCF() | getZF()) != 0; break; // BE
    case 4: result = getSF() != 0; break; // S
    case 5: result = getPF() != 0; break; // P
    case 6: result = (getSF() != 0) != (getOF() != 0); break; // L
    default: result = getZF() != 0 || (getSF() != 0) != (getOF() != 0); // LE
  }
  return (cc & 1) != 0 ? !result : result;
}
