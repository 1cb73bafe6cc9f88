// Integer arithmetic on values: the eight ALU operations, shifts and rotates, multiplication and
// division, BCD adjustment, bit scans and double shifts (SDM vol. 2 under each mnemonic). These
// compute results and flags only; the handlers in interp.ts fetch and store the operands.

import { raise, DE } from "./fault";
import {
  getAF, getCF, getFlags, LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_SUB, parity, setArith, setLazy,
} from "./flags";
import { AF, CF, OF, SF, ZF } from "./state";

// @ts-ignore: decorator
@inline export function maskOf(size: i32): u32 {
  return size == 4 ? 0xffffffff : size == 2 ? 0xffff : 0xff;
}

// @ts-ignore: decorator
@inline function topBit(size: i32): u32 {
  return <u32>(size << 3) - 1;
}

/** ZF, SF and PF of a result of `size` bytes. */
function zsp(res: u32, size: i32): u32 {
  const m = maskOf(size);
  return ((res & m) == 0 ? ZF : 0) | (((res >> topBit(size)) & 1) != 0 ? SF : 0) | parity(res);
}

export { ALU_ADC, ALU_ADD, ALU_AND, ALU_CMP, ALU_OR, ALU_SBB, ALU_SUB, ALU_XOR } from "../abi/block-records";
import { ALU_ADC, ALU_ADD, ALU_AND, ALU_OR, ALU_SBB, ALU_XOR } from "../abi/block-records";

/** One of the eight ALU operations (ModRM reg or opcode bits 3-5); returns the masked result. */
// @ts-ignore: decorator
@inline export function alu(op: i32, dst: u32, src: u32, size: i32): u32 {
  const m = maskOf(size);
  let res: u32;
  switch (op) {
    case ALU_ADD:
      res = (dst + src) & m;
      setLazy(LAZY_ADD, dst, src, res, size);
      return res;
    case ALU_OR:
      res = (dst | src) & m;
      setLazy(LAZY_LOGIC, dst, src, res, size);
      return res;
    case ALU_ADC: {
      const carry = getCF() != 0 ? <u32>1 : 0;
      res = (dst + src + carry) & m;
      const cf = carry != 0 ? res <= (dst & m) : res < (dst & m);
      const ov = (((dst ^ res) & (src ^ res)) >> topBit(size)) & 1;
      setArith((cf ? CF : 0) | (ov != 0 ? OF : 0) | ((dst ^ src ^ res) & AF) | zsp(res, size));
      return res;
    }
    case ALU_SBB: {
      const borrow = getCF() != 0 ? <u32>1 : 0;
      res = (dst - src - borrow) & m;
      const cf = borrow != 0 ? (dst & m) <= (src & m) : (dst & m) < (src & m);
      const ov = (((dst ^ src) & (dst ^ res)) >> topBit(size)) & 1;
      setArith((cf ? CF : 0) | (ov != 0 ? OF : 0) | ((dst ^ src ^ res) & AF) | zsp(res, size));
      return res;
    }
    case ALU_AND:
      res = dst & src & m;
      setLazy(LAZY_LOGIC, dst, src, res, size);
      return res;
    case ALU_XOR:
      res = (dst ^ src) & m;
      setLazy(LAZY_LOGIC, dst, src, res, size);
      return res;
    default: // SUB, CMP
      res = (dst - src) & m;
      setLazy(LAZY_SUB, dst, src, res, size);
      return res;
  }
}

export function inc(dst: u32, size: i32): u32 {
  const res = (dst + 1) & maskOf(size);
  setLazy(LAZY_INC, dst, 1, res, size);
  return res;
}

export function dec(dst: u32, size: i32): u32 {
  const res = (dst - 1) & maskOf(size);
  setLazy(LAZY_DEC, dst, 1, res, size);
  return res;
}

export function neg(dst: u32, size: i32): u32 {
  const res = (0 - dst) & maskOf(size);
  setLazy(LAZY_SUB, 0, dst, res, size);
  return res;
}

// ---- Shifts and rotates (group 2: ROL ROR RCL RCR SHL SHR SAL SAR) ----

/** Group-2 operation `op` on `dst` by `count` (already masked to 5 bits by the caller). */
export function shift(op: i32, dst: u32, count: u32, size: i32): u32 {
  if (count == 0) return dst;
  const bits = <u32>(size << 3);
  const m = maskOf(size);
  const top = bits - 1;
  dst &= m;
  let res: u32;
  let cf: u32;
  let ov: u32;
  switch (op) {
    case 0: { // ROL: flags other than CF and OF are kept
      const n = count & top;
      res = n == 0 ? dst : ((dst << n) | (dst >> (bits - n))) & m;
      cf = res & 1;
      ov = ((res >> top) ^ cf) & 1;
      setArith((getFlags() & ~(CF | OF)) | (cf != 0 ? CF : 0) | (ov != 0 ? OF : 0));
      return res;
    }
    case 1: { // ROR
      const n = count & top;
      res = n == 0 ? dst : ((dst >> n) | (dst << (bits - n))) & m;
      cf = (res >> top) & 1;
      ov = ((res >> top) ^ (res >> (top - 1))) & 1;
      setArith((getFlags() & ~(CF | OF)) | (cf != 0 ? CF : 0) | (ov != 0 ? OF : 0));
      return res;
    }
    case 2: { // RCL: rotate through CF, a (bits + 1)-bit rotation
      const n = size == 4 ? count : count % (bits + 1);
      if (n == 0) return dst;
      const wide = (<u64>(getCF() != 0 ? 1 : 0) << bits) | <u64>dst;
      const span = <u64>bits + 1;
      const rotated = ((wide << <u64>n) | (wide >> (span - <u64>n))) & ((<u64>1 << span) - 1);
      res = <u32>rotated & m;
      cf = <u32>(rotated >> <u64>bits) & 1;
      ov = ((res >> top) ^ cf) & 1;
      setArith((getFlags() & ~(CF | OF)) | (cf != 0 ? CF : 0) | (ov != 0 ? OF : 0));
      return res;
    }
    case 3: { // RCR
      const n = size == 4 ? count : count % (bits + 1);
      if (n == 0) return dst;
      const carryIn = getCF() != 0 ? <u32>1 : 0;
      const wide = (<u64>carryIn << bits) | <u64>dst;
      const span = <u64>bits + 1;
      const rotated = ((wide >> <u64>n) | (wide << (span - <u64>n))) & ((<u64>1 << span) - 1);
      res = <u32>rotated & m;
      cf = <u32>(rotated >> <u64>bits) & 1;
      ov = ((res >> top) ^ (res >> (top - 1))) & 1;
      setArith((getFlags() & ~(CF | OF)) | (cf != 0 ? CF : 0) | (ov != 0 ? OF : 0));
      return res;
    }
    case 4: case 6: { // SHL/SAL
      res = count < 32 ? (dst << count) & m : 0;
      cf = count <= bits ? <u32>((<u64>dst << <u64>count) >> <u64>bits) & 1 : 0;
      ov = ((res >> top) ^ cf) & 1;
      break;
    }
    case 5: { // SHR
      res = dst >> count;
      cf = count <= bits ? (dst >> (count - 1)) & 1 : 0;
      ov = (dst >> top) & 1;
      break;
    }
    default: { // SAR
      const signed = (<i32>(dst << (32 - bits))) >> (32 - bits);
      res = <u32>(signed >> <i32>min<u32>(count, 31)) & m;
      cf = <u32>(signed >> <i32>min<u32>(count - 1, 31)) & 1;
      ov = 0;
    }
  }
  // AF is undefined after shifts; it is left clear.
  setArith((cf != 0 ? CF : 0) | (ov != 0 ? OF : 0) | zsp(res, size));
  return res;
}

/**
 * SHLD (left) or SHRD: shifts `dst`, filling from `src`; `count` already masked to 5 bits. For
 * 16-bit operands counts above 16 give an undefined result (SDM); this one is deterministic.
 */
export function doubleShift(left: bool, dst: u32, src: u32, count: u32, size: i32): u32 {
  if (count == 0) return dst;
  const bits = <u32>(size << 3);
  const m = maskOf(size);
  dst &= m;
  src &= m;
  let res: u32;
  let cf: u32;
  if (left) {
    res = <u32>(((<u64>dst << <u64>count) | (<u64>src << <u64>count >> <u64>bits)) & <u64>m);
    cf = <u32>((<u64>dst << <u64>count) >> <u64>bits) & 1;
  } else {
    res = <u32>(((<u64>dst >> <u64>count) | ((<u64>src << <u64>bits) >> <u64>count)) & <u64>m);
    cf = <u32>(<u64>dst >> <u64>(count - 1)) & 1;
  }
  const ov = ((res ^ dst) >> (bits - 1)) & 1;
  setArith((cf != 0 ? CF : 0) | (ov != 0 ? OF : 0) | zsp(res, size));
  return res;
}

// ---- Multiplication and division ----

/** Sets CF and OF (and defined-looking ZF SF PF from the low half, which the SDM leaves undefined). */
function mulFlags(overflow: bool, low: u32, size: i32): void {
  setArith((overflow ? CF | OF : 0) | zsp(low, size));
}

/** MUL: unsigned `a * b` of `size` bytes; returns the double-width product. */
export function mul(a: u32, b: u32, size: i32): u64 {
  const m = <u64>maskOf(size);
  const product = (<u64>a & m) * (<u64>b & m);
  mulFlags((product >> <u64>(size << 3)) != 0, <u32>product, size);
  return product;
}

/** IMUL: signed `a * b` of `size` bytes; returns the double-width product (two's complement). */
export function imul(a: u32, b: u32, size: i32): u64 {
  const shift = <u64>(64 - (size << 3));
  const sa = (<i64>(<u64>a << shift)) >> <i64>shift;
  const sb = (<i64>(<u64>b << shift)) >> <i64>shift;
  const product = sa * sb;
  const truncated = (product << <i64>shift) >> <i64>shift;
  mulFlags(truncated != product, <u32>product, size);
  return <u64>product;
}

/** Quotient and remainder of the last div()/idiv(); #DE raised instead when they do not fit. */
export let quotient: u32 = 0;
export let remainder: u32 = 0;

/** DIV: unsigned `dividend` (double width) by `divisor` of `size` bytes. */
export function div(dividend: u64, divisor: u32, size: i32): void {
  const d = <u64>(divisor & maskOf(size));
  if (d == 0) {
    raise(DE);
    return;
  }
  const q = dividend / d;
  if ((q >> <u64>(size << 3)) != 0) {
    raise(DE);
    return;
  }
  quotient = <u32>q;
  remainder = <u32>(dividend % d);
}

/** IDIV: signed `dividend` (double width) by `divisor` of `size` bytes. */
export function idiv(dividend: u64, divisor: u32, size: i32): void {
  const bits = size << 3;
  const wideShift = <i64>(64 - 2 * bits);
  const shift = <i64>(64 - bits);
  const n = bits == 32 ? <i64>dividend : (<i64>(dividend << wideShift)) >> wideShift;
  const d = (<i64>(<u64>divisor << shift)) >> shift;
  if (d == 0 || (n == i64.MIN_VALUE && d == -1)) {
    raise(DE);
    return;
  }
  const q = n / d;
  const limit = <i64>1 << <i64>(bits - 1);
  if (q >= limit || q < -limit) {
    raise(DE);
    return;
  }
  quotient = <u32>q;
  remainder = <u32>(n % d);
}

// ---- BCD (SDM: DAA, DAS, AAA, AAS, AAM, AAD) ----

/** DAA on AL; returns the new AL. */
export function daa(al: u32): u32 {
  const oldAl = al;
  const oldCf = getCF() != 0;
  let cf = false;
  let af = false;
  if ((al & 0xf) > 9 || getAF() != 0) {
    al = (al + 6) & 0xff;
    cf = oldCf || oldAl + 6 > 0xff;
    af = true;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al + 0x60) & 0xff;
    cf = true;
  } else {
    cf = false;
  }
  setArith((cf ? CF : 0) | (af ? AF : 0) | zsp(al, 1));
  return al;
}

/** DAS on AL; returns the new AL. */
export function das(al: u32): u32 {
  const oldAl = al;
  const oldCf = getCF() != 0;
  let cf = false;
  let af = false;
  if ((al & 0xf) > 9 || getAF() != 0) {
    cf = oldCf || al < 6;
    al = (al - 6) & 0xff;
    af = true;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al - 0x60) & 0xff;
    cf = true;
  }
  setArith((cf ? CF : 0) | (af ? AF : 0) | zsp(al, 1));
  return al;
}

/** AAA (add) or AAS (subtract) on AX; returns the new AX. */
export function asciiAdjust(ax: u32, subtract: bool): u32 {
  const adjust = (ax & 0xf) > 9 || getAF() != 0;
  if (adjust) ax = subtract ? (ax - 6 - 0x100) & 0xffff : (ax + 0x106) & 0xffff;
  setArith(adjust ? CF | AF : 0);
  return ax & 0xff0f;
}

/** AAM: AL -> AH = AL / base, AL = AL % base; #DE for base 0. Returns the new AX. */
export function aam(al: u32, base: u32): u32 {
  if (base == 0) {
    raise(DE);
    return 0;
  }
  const lo = (al % base) & 0xff;
  setArith(zsp(lo, 1));
  return ((al / base) << 8) | lo;
}

/** AAD: AL = AH * base + AL, AH = 0. Returns the new AX. */
export function aad(ax: u32, base: u32): u32 {
  const lo = ((ax & 0xff) + (ax >> 8) * base) & 0xff;
  setArith(zsp(lo, 1));
  return lo;
}

// ---- Bit scans ----

/** BSF (forward) or BSR; returns the index, or `dst` unchanged (ZF set) for a zero source. */
export function bitScan(forward: bool, src: u32, dst: u32, size: i32): u32 {
  src &= maskOf(size);
  if (src == 0) {
    setArith(ZF | (getFlags() & CF));
    return dst;
  }
  setArith(0);
  return forward ? ctz<u32>(src) : 31 - clz<u32>(src);
}
