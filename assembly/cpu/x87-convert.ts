// Conversions between the x87 register format and the memory formats (SDM vol. 1, 4.2.2, 4.7
// packed BCD, 4.8.3 NaN encodings; the FLD, FST, FILD, FIST, FBLD and FBSTP pages of vol. 2):
// single and double precision, 16/32/64-bit integers and 18-digit packed BCD, with the
// rounding, range checks and masked responses those instructions apply. Loads leave the value
// in resSe/resSig; stores leave the memory image in `memLo`/`memHi`.

import {
  BIAS, clearExceptions, DENORMAL, EX_DE, EX_IE, EX_OE, EX_UE, exceptions, masks, signal, INF, INTEGER_BIT,
  intMag, intOverflow, invalid, isNaNClass, packInteger, QUIET_BIT, resSe, resSig, roundPackFormat, roundToInteger,
  setResult, SNAN, UNSUPPORTED, ZERO, classify, unpackA, aSign, aExp, aSig,
} from "./x87-float80";

/** A memory image: the low 64 bits and the bits above them (the 16 of an m80, or none). */
export let memLo: u64 = 0;
export let memHi: u32 = 0;

/** Exceptions of the last load (EX_IE for an SNaN, EX_DE for a denormal); see loadF32/loadF64. */
export let loadExceptions: u32 = 0;

/**
 * Converts a binary floating-point value with `expBits` exponent and `fracBits` fraction bits
 * (single: 8/23, double: 11/52) to extended, exactly: denormals are normalized, NaN payloads
 * keep their leading bits, an SNaN stays signaling (the instruction decides whether it is an
 * operand or a load). loadExceptions gets DE for a denormal, IE for an SNaN.
 */
function loadBinary(bits: u64, expBits: i32, fracBits: i32): void {
  const sign = <u32>(bits >> <u64>(expBits + fracBits)) & 1;
  const expMax = (1 << expBits) - 1;
  const exp = <i32>(bits >> <u64>fracBits) & expMax;
  const frac = bits & ((<u64>1 << <u64>fracBits) - 1);
  const up = <u64>(63 - fracBits);
  loadExceptions = 0;
  if (exp == expMax) {
    if (frac != 0 && (frac & (<u64>1 << <u64>(fracBits - 1))) == 0) loadExceptions = EX_IE;
    setResult((sign << 15) | 0x7fff, INTEGER_BIT | (frac << up));
    return;
  }
  const bias = (1 << (expBits - 1)) - 1;
  if (exp == 0) {
    if (frac == 0) {
      setResult(sign << 15, 0);
      return;
    }
    loadExceptions = EX_DE;
    const shift = <i32>clz(frac << up);
    setResult((sign << 15) | <u32>(1 - bias + BIAS - shift), (frac << up) << <u64>shift);
    return;
  }
  setResult((sign << 15) | <u32>(exp - bias + BIAS), INTEGER_BIT | (frac << up));
}

/** m32fp to extended (see loadBinary). */
export function loadF32(bits: u32): void {
  loadBinary(<u64>bits, 8, 23);
}

/** m64fp to extended (see loadBinary). */
export function loadF64(bits: u64): void {
  loadBinary(bits, 11, 52);
}

/**
 * Rounds ST(0)'s value to a binary format (FST m32fp/m64fp): IE for an SNaN (stored quieted) or
 * an unsupported format (the indefinite), overflow, underflow and precision by the format's
 * range and the rounding mode. Extended denormals are tiny in every narrower format.
 */
function storeBinary(se: u32, sig: u64, expBits: i32, fracBits: i32): void {
  const sign = <u64>(se >> 15);
  const signBit = sign << <u64>(expBits + fracBits);
  const expMax = (1 << expBits) - 1;
  const infinity = <u64>expMax << <u64>fracBits;
  const down = <u64>(63 - fracBits);
  const c = classify(se, sig);
  memHi = 0;
  if (c == UNSUPPORTED) {
    invalid();
    memLo = (<u64>1 << <u64>(expBits + fracBits)) | infinity | (<u64>1 << <u64>(fracBits - 1));
    return;
  }
  if (isNaNClass(c)) {
    if (c == SNAN) invalid();
    memLo = signBit | infinity | ((sig | QUIET_BIT) & ~INTEGER_BIT) >> down;
    return;
  }
  if (c == INF) {
    memLo = signBit | infinity;
    return;
  }
  if (c == ZERO) {
    memLo = signBit;
    return;
  }
  const bias = (1 << (expBits - 1)) - 1;
  const emin = BIAS + 1 - bias;
  const emax = BIAS + bias;
  unpackA(se, sig);
  const before = exceptions;
  roundPackFormat(aSign, aExp, aSig, 0, fracBits + 1, emin, emax);
  const raised = exceptions & ~before;
  if ((raised & ~masks & (EX_OE | EX_UE)) != 0) {
    // Unmasked overflow or underflow: nothing is stored, and no precision exception reported.
    clearExceptions();
    signal(before | (raised & (EX_OE | EX_UE)));
  }
  const e = <i32>(resSe & 0x7fff);
  if (e > emax) {
    memLo = signBit | infinity;
  } else if ((resSig & INTEGER_BIT) == 0) {
    memLo = signBit | (resSig >> down); // denormal or zero
  } else {
    memLo = signBit | (<u64>(e - BIAS + bias) << <u64>fracBits) | ((resSig & ~INTEGER_BIT) >> down);
  }
}

/** Extended to m32fp; the image is in memLo. */
export function storeF32(se: u32, sig: u64): void {
  storeBinary(se, sig, 8, 23);
}

/** Extended to m64fp; the image is in memLo. */
export function storeF64(se: u32, sig: u64): void {
  storeBinary(se, sig, 11, 52);
}

/** A sign-extended integer (FILD of any size) to extended, exactly. */
export function loadInteger(value: i64): void {
  const negative = value < 0;
  packInteger(negative ? 1 : 0, negative ? <u64>0 - <u64>value : <u64>value);
}

/**
 * Rounds a value to an integer of `bytes` bytes by the rounding mode (FIST): NaNs, infinities,
 * unsupported formats and out-of-range values raise IE and give the integer indefinite (the
 * most negative value). The image is in memLo.
 */
export function storeInteger(se: u32, sig: u64, bytes: i32): void {
  const bits = <u64>(bytes << 3);
  const indefinite: u64 = <u64>1 << (bits - 1);
  const c = classify(se, sig);
  memHi = 0;
  if (c == UNSUPPORTED || c == INF || isNaNClass(c)) {
    invalid();
    memLo = indefinite;
    return;
  }
  const saved = exceptions;
  roundToInteger(se, sig);
  const negative = (se & 0x8000) != 0;
  if (intOverflow || intMag > (negative ? indefinite : indefinite - 1)) {
    // Invalid, not inexact: the rounding flags of the attempt are dropped.
    clearExceptions();
    signal(saved);
    invalid();
    memLo = indefinite;
    return;
  }
  const value = negative ? <u64>0 - intMag : intMag;
  memLo = bits == 64 ? value : value & ((<u64>1 << bits) - 1);
}

/** 10^18: FBSTP's bound (18 decimal digits). */
const BCD_LIMIT: u64 = 1000000000000000000;

/**
 * Packed BCD to extended: `lo` holds bytes 0-7 and `hi` bytes 8-9 of the m80bcd (18 digits,
 * two per byte, least significant first; the sign in bit 7 of byte 9). Exact.
 */
export function loadBcd(lo: u64, hi: u32): void {
  let value: u64 = 0;
  // Most significant digit pair first: byte 8, then bytes 7 down to 0.
  value = <u64>((hi >> 4) & 15) * 10 + <u64>(hi & 15);
  for (let i = 7; i >= 0; i--) {
    const pair = (lo >> <u64>(i << 3)) & 0xff;
    value = value * 100 + (pair >> 4) * 10 + (pair & 15);
  }
  packInteger((hi >> 15) & 1, value);
}

/**
 * Rounds a value to an integer and packs it as 18-digit BCD (FBSTP). Out of range, NaN,
 * infinity or unsupported: IE and the packed BCD indefinite (FFFF C000 0000 0000 0000).
 */
export function storeBcd(se: u32, sig: u64): void {
  const c = classify(se, sig);
  const saved = exceptions;
  let bad = c == UNSUPPORTED || c == INF || isNaNClass(c);
  if (!bad) {
    roundToInteger(se, sig);
    bad = intOverflow || intMag >= BCD_LIMIT;
  }
  if (bad) {
    clearExceptions();
    signal(saved);
    invalid();
    memLo = 0xc000000000000000;
    memHi = 0xffff;
    return;
  }
  let mag = intMag;
  let lo: u64 = 0;
  for (let i = 0; i < 8; i++) {
    const pair = mag % 100;
    mag /= 100;
    lo |= (((pair / 10) << 4) | (pair % 10)) << <u64>(i << 3);
  }
  memLo = lo;
  memHi = <u32>(((mag / 10) << 4) | (mag % 10)) | ((se & 0x8000) != 0 ? 0x8000 : 0);
}

/** The QNaN indefinite as an m32fp/m64fp image (for masked stack underflow on FST). */
export function indefiniteBinary(bytes: i32): u64 {
  return bytes == 4 ? 0xffc00000 : 0xfff8000000000000;
}

/** The integer indefinite of `bytes` bytes. */
export function indefiniteInteger(bytes: i32): u64 {
  return <u64>1 << <u64>((bytes << 3) - 1);
}

/** True when the denormal flag came from the last load (an m32/m64 denormal). */
export function loadWasDenormal(): bool {
  return (loadExceptions & EX_DE) != 0;
}

/** The loaded value's class, counting a normalized m32/m64 denormal as DENORMAL. */
export function loadedClass(): i32 {
  return loadWasDenormal() ? DENORMAL : classify(resSe, resSig);
}
