// Extended-precision (80-bit) floating-point arithmetic in software, as the x87 FPU computes it
// (SDM vol. 1, 4.2.2 "Floating-Point Data Types", 4.8 "Real Numbers and Floating-Point Formats",
// 4.9 "Overview of Floating-Point Exceptions", 8.1.5 precision and rounding control, 8.2.2
// unsupported formats, 8.5 exception conditions). A value is a 16-bit sign+exponent word `se`
// and a 64-bit significand with an explicit integer bit, as in memory. Operations are exact and
// then rounded once, to the precision (24, 53 or 64 bits) and rounding mode given, over the full
// 15-bit exponent range (precision control narrows only the significand). Results and raised
// exception flags go to module globals (the core allocates nothing): `resSe`/`resSig` and
// `exceptions`. Tininess is detected after rounding, and of two NaN operands the one with the
// larger significand propagates, as the processors the differential test runs on do.

/** Exception flags in their status-word positions (SDM vol. 1, 8.1.3). */
export const EX_IE: u32 = 0x01;
export const EX_DE: u32 = 0x02;
export const EX_ZE: u32 = 0x04;
export const EX_OE: u32 = 0x08;
export const EX_UE: u32 = 0x10;
export const EX_PE: u32 = 0x20;
export const EX_SF: u32 = 0x40;
/** Not an exception: the result was rounded up in magnitude (reported as C1). */
export const EX_C1: u32 = 0x200;

/** Value classes (classify()). */
export const ZERO = 0;
export const NORMAL = 1;
/** Denormals and pseudo-denormals (exponent 0 with the integer bit set). */
export const DENORMAL = 2;
export const INF = 3;
export const QNAN = 4;
export const SNAN = 5;
/** Unnormals, pseudo-NaNs and pseudo-infinities: invalid operands since the 387. */
export const UNSUPPORTED = 6;

export const BIAS: i32 = 16383;
export const EXP_MAX: i32 = 0x7fff;
export const INTEGER_BIT: u64 = 0x8000000000000000;
export const QUIET_BIT: u64 = 0x4000000000000000;
/** Sign+exponent and significand of the QNaN floating-point indefinite. */
export const INDEFINITE_SE: u32 = 0xffff;
export const INDEFINITE_SIG: u64 = 0xc000000000000000;

/** Rounding control: the CW's RC field. */
export const RC_NEAREST: u32 = 0;
export const RC_DOWN: u32 = 1;
export const RC_UP: u32 = 2;

/** Rounding mode for the next operations (RC_*). */
export let rounding: u32 = RC_NEAREST;
/** Masked exceptions for the next operations: the CW's low six bits. */
export let masks: u32 = 0x3f;
/** Significand bits the precision-controlled operations round to: 24, 53 or 64. */
export let precision: i32 = 64;
/** Exceptions (and EX_C1) raised since the caller last cleared it. */
export let exceptions: u32 = 0;
/** The result of the last operation. */
export let resSe: u32 = 0;
export let resSig: u64 = 0;

/** Takes rounding, precision and masks from a control word. */
export function setControl(cw: u32): void {
  rounding = (cw >> 10) & 3;
  masks = cw & 0x3f;
  const pc = (cw >> 8) & 3;
  // PC 01 is reserved; hardware rounds to 64 bits then, like PC 11.
  precision = pc == 0 ? 24 : pc == 2 ? 53 : 64;
}

/** Starts an instruction's exception accumulator afresh. */
export function clearExceptions(): void {
  exceptions = 0;
}

/** Raises exception flags (EX_*) for the running instruction. */
export function signal(flags: u32): void {
  exceptions |= flags;
}

/** Sets the result. */
// @ts-ignore: decorator
@inline export function setResult(se: u32, sig: u64): void {
  resSe = se;
  resSig = sig;
}

/** Stores the QNaN indefinite after an invalid operation. */
export function invalid(): void {
  exceptions |= EX_IE;
  setResult(INDEFINITE_SE, INDEFINITE_SIG);
}

/** Classifies a value (SDM vol. 1, tables 4-3 and 8-3). */
export function classify(se: u32, sig: u64): i32 {
  const exp = <i32>(se & 0x7fff);
  if (exp == EXP_MAX) {
    if ((sig & INTEGER_BIT) == 0) return UNSUPPORTED;
    if ((sig << 1) == 0) return INF;
    return (sig & QUIET_BIT) != 0 ? QNAN : SNAN;
  }
  if (exp == 0) return sig == 0 ? ZERO : DENORMAL;
  return (sig & INTEGER_BIT) != 0 ? NORMAL : UNSUPPORTED;
}

/** QNaN or SNaN. */
// @ts-ignore: decorator
@inline export function isNaNClass(c: i32): bool {
  return c == QNAN || c == SNAN;
}

// ---- Unpacked operands: normalized significand, unbounded biased exponent ----

/** The operands of the running operation, unpacked by unpackA/unpackB. */
export let aSign: u32 = 0;
export let aExp: i32 = 0;
export let aSig: u64 = 0;
export let bSign: u32 = 0;
export let bExp: i32 = 0;
export let bSig: u64 = 0;

/** Normalizes a finite nonzero value into the A operand (denormals get exponents below 1). */
export function unpackA(se: u32, sig: u64): void {
  aSign = se >> 15;
  const exp = <i32>(se & 0x7fff);
  const shift = <i32>clz(sig);
  aSig = sig << <u64>shift;
  aExp = (exp == 0 ? 1 : exp) - shift;
}

/** Normalizes a finite nonzero value into the B operand. */
export function unpackB(se: u32, sig: u64): void {
  bSign = se >> 15;
  const exp = <i32>(se & 0x7fff);
  const shift = <i32>clz(sig);
  bSig = sig << <u64>shift;
  bExp = (exp == 0 ? 1 : exp) - shift;
}

// ---- 128-bit helpers (hi:lo in two globals) ----

/** The 128-bit result of mul64(), shiftRightJam() and normalize128(). */
export let wideHi: u64 = 0;
export let wideLo: u64 = 0;

/** hi:lo = a * b. */
export function mul64(a: u64, b: u64): void {
  const a0 = a & 0xffffffff;
  const a1 = a >> 32;
  const b0 = b & 0xffffffff;
  const b1 = b >> 32;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  wideLo = (mid << 32) | (p00 & 0xffffffff);
  wideHi = a1 * b1 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/** hi:lo = (hi:lo) >> n, with the bits shifted out ORed into bit 0 ("jamming"). */
export function shiftRightJam(hi: u64, lo: u64, n: i32): void {
  if (n <= 0) {
    wideHi = hi;
    wideLo = lo;
  } else if (n < 64) {
    const m = <u64>n;
    wideLo = (hi << (64 - m)) | (lo >> m) | ((lo << (64 - m)) != 0 ? 1 : 0);
    wideHi = hi >> m;
  } else if (n == 64) {
    wideLo = hi | (lo != 0 ? 1 : 0);
    wideHi = 0;
  } else if (n < 128) {
    const m = <u64>(n - 64);
    wideLo = (hi >> m) | (((hi << (64 - m)) | lo) != 0 ? 1 : 0);
    wideHi = 0;
  } else {
    wideLo = (hi | lo) != 0 ? 1 : 0;
    wideHi = 0;
  }
}

/** The quotient and remainder of divideBits(). */
export let divQuotient: u64 = 0;
export let divRemainder: u64 = 0;

/**
 * Restoring division of `rem` by `d` (both with bit 63 set): the first quotient bit (rem >= d),
 * then `steps` more, each shifting the remainder left by one; into divQuotient/divRemainder.
 */
// @ts-ignore: decorator
@inline export function divideBits(rem: u64, d: u64, steps: i32): void {
  let r = rem;
  let q: u64 = 0;
  if (r >= d) {
    r -= d;
    q = 1;
  }
  for (let i = 0; i < steps; i++) {
    const top = r >> 63;
    r <<= 1;
    q <<= 1;
    if (top != 0 || r >= d) {
      r -= d;
      q |= 1;
    }
  }
  divQuotient = q;
  divRemainder = r;
}

// ---- Rounding ----

/** Whether the rounding mode rounds up a magnitude with the given round and sticky bits. */
function roundUp(sign: u32, lsb: bool, half: bool, sticky: bool): bool {
  switch (rounding) {
    case RC_NEAREST: return half && (sticky || lsb);
    case RC_DOWN: return sign != 0 && (half || sticky);
    case RC_UP: return sign == 0 && (half || sticky);
    default: return false;
  }
}

/** The significand after roundAt(), whether it was incremented, and whether that carried out. */
let roundedSig: u64 = 0;
let roundedUp: bool = false;
let roundedCarry: bool = false;

/**
 * Rounds sig:extra (extra holds the bits below sig) to `bits` bits at bit (64 - bits) by the
 * rounding mode; sets roundedSig/roundedUp/roundedCarry and returns true when inexact.
 */
function roundAt(sign: u32, sig: u64, extra: u64, bits: i32): bool {
  const drop = <u64>(64 - bits);
  let half: bool;
  let sticky: bool;
  let lsb: bool;
  let kept = sig;
  if (drop == 0) {
    half = (extra >> 63) != 0;
    sticky = (extra << 1) != 0;
    lsb = (sig & 1) != 0;
  } else {
    const mask: u64 = (<u64>1 << drop) - 1;
    const dropped = sig & mask;
    half = (dropped >> (drop - 1)) != 0;
    sticky = (dropped & (mask >> 1)) != 0 || extra != 0;
    lsb = ((sig >> drop) & 1) != 0;
    kept = sig & ~mask;
  }
  roundedCarry = false;
  roundedUp = roundUp(sign, lsb, half, sticky);
  if (roundedUp) {
    const next = kept + (<u64>1 << drop);
    if (next < kept) {
      roundedCarry = true;
      roundedSig = INTEGER_BIT;
    } else {
      roundedSig = next;
    }
  } else {
    roundedSig = kept;
  }
  return half || sticky;
}

/** The largest finite significand of a `bits`-bit precision. */
// @ts-ignore: decorator
@inline function maxSig(bits: i32): u64 {
  return bits == 64 ? <u64>-1 : ~((<u64>1 << <u64>(64 - bits)) - 1);
}

/** The exponent adjustment of the unmasked overflow and underflow responses (3 * 2^13). */
const WRAP: i32 = 24576;

/**
 * Rounds a normalized exact value (sign, unbounded biased exponent `exp`, significand with bit
 * 63 set, lower bits in `extra`) to `bits` bits of precision in a format whose normal biased
 * exponents run from `emin` to `emax`, applying the responses to overflow and underflow (SDM
 * vol. 1, 4.9.1.4-4.9.1.5, 8.5.4-8.5.5). Tininess is detected after rounding (a value that
 * rounds to the smallest normal is not tiny). Masked, a tiny result is denormalized (UE only
 * when that loses bits) and an overflow becomes infinity or the largest finite value by the
 * rounding mode; unmasked, the exponent is wrapped by 24576 (register destinations; callers
 * storing to memory discard the result), and a result beyond even that range becomes infinity
 * or zero. The result's exponent stays in extended bias; a denormal result in the format has
 * its integer bit clear. Sets resSe/resSig and raises the flags (EX_C1 when rounded up).
 */
export function roundPackFormat(sign: u32, exp: i32, sig: u64, extra: u64, bits: i32, emin: i32, emax: i32): void {
  const inexact = roundAt(sign, sig, extra, bits);
  const e = exp + (roundedCarry ? 1 : 0);
  if (e < emin) {
    if ((masks & EX_UE) == 0) {
      // Unmasked: underflow is reported whether or not the result is exact.
      exceptions |= EX_UE | (inexact ? EX_PE : 0) | (roundedUp ? EX_C1 : 0);
      if (e + WRAP < emin) {
        // Beyond even the wrapped range: zero, which is inexact.
        exceptions = (exceptions | EX_PE) & ~EX_C1;
        setResult(sign << 15, 0);
      } else {
        setResult((sign << 15) | <u32>(e + WRAP), roundedSig);
      }
      return;
    }
    shiftRightJam(sig, extra, emin - exp);
    if (roundAt(sign, wideHi, wideLo, bits)) exceptions |= EX_UE | EX_PE;
    if (roundedUp) exceptions |= EX_C1;
    // A carry into the integer bit makes the smallest normal (rounding cannot carry further).
    const normal = (roundedSig & INTEGER_BIT) != 0;
    setResult((sign << 15) | <u32>(normal ? emin : emin - 1), roundedSig);
    return;
  }
  if (inexact) exceptions |= EX_PE;
  if (e <= emax) {
    if (roundedUp) exceptions |= EX_C1;
    setResult((sign << 15) | <u32>e, roundedSig);
    return;
  }
  exceptions |= EX_OE;
  if ((masks & EX_OE) == 0 && e - WRAP <= emax) {
    if (roundedUp) exceptions |= EX_C1;
    setResult((sign << 15) | <u32>(e - WRAP), roundedSig);
    return;
  }
  exceptions |= EX_PE;
  const toInfinity = (masks & EX_OE) == 0 || rounding == RC_NEAREST || (rounding == RC_DOWN && sign != 0) ||
    (rounding == RC_UP && sign == 0);
  if (toInfinity) {
    exceptions |= EX_C1;
    setResult((sign << 15) | <u32>(emax + 1), INTEGER_BIT);
  } else {
    setResult((sign << 15) | <u32>emax, maxSig(bits));
  }
}

/** roundPackFormat for the extended format. */
export function roundPack(sign: u32, exp: i32, sig: u64, extra: u64, bits: i32): void {
  roundPackFormat(sign, exp, sig, extra, bits, 1, EXP_MAX - 1);
}

/**
 * Shifts hi:lo (not both zero) left until bit 127 is set, into wideHi:wideLo; returns the shift
 * (0 to 127).
 */
// @ts-ignore: decorator
@inline export function normalize128(hi: u64, lo: u64): i32 {
  let shift = 0;
  let h = hi;
  let l = lo;
  if (h == 0) {
    h = l;
    l = 0;
    shift = 64;
  }
  const s = <i32>clz(h);
  if (s != 0) {
    h = (h << <u64>s) | (l >> <u64>(64 - s));
    l <<= <u64>s;
    shift += s;
  }
  wideHi = h;
  wideLo = l;
  return shift;
}

/**
 * Normalizes hi:lo (not both zero) and rounds it: the value is hi:lo * 2^(exp - BIAS - 63),
 * i.e. `exp` is the exponent the value would have with hi's bit 63 set.
 */
function normalizeRoundPack(sign: u32, exp: i32, hi: u64, lo: u64, bits: i32): void {
  const shift = normalize128(hi, lo);
  roundPack(sign, exp - shift, wideHi, wideLo, bits);
}

// ---- NaN propagation (SDM vol. 1, 4.8.3.5 and table 4-7) ----

/** Quiets a NaN into the result. */
export function quietNaN(se: u32, sig: u64): void {
  setResult(se, sig | QUIET_BIT);
}

/**
 * The NaN result of a two-operand operation where at least one operand is a NaN: an SNaN raises
 * IE; with one NaN, that NaN (quieted); with two, the one with the larger significand (so a
 * QNaN wins over an SNaN), and of two with equal significands the positive one.
 */
export function propagateNaN(aSeIn: u32, aSigIn: u64, ca: i32, bSeIn: u32, bSigIn: u64, cb: i32): void {
  if (ca == SNAN || cb == SNAN) exceptions |= EX_IE;
  if (!isNaNClass(cb)) {
    quietNaN(aSeIn, aSigIn);
  } else if (!isNaNClass(ca)) {
    quietNaN(bSeIn, bSigIn);
  } else if (bSigIn > aSigIn || (bSigIn == aSigIn && (bSeIn & 0x8000) == 0)) {
    quietNaN(bSeIn, bSigIn);
  } else {
    quietNaN(aSeIn, aSigIn);
  }
}

/**
 * Screens one operand of class `c`: an unsupported format makes the result invalid, a NaN
 * comes back quieted (an SNaN raises IE). Returns true when that decided the result.
 */
export function screen1(se: u32, sig: u64, c: i32): bool {
  if (c == UNSUPPORTED) {
    invalid();
    return true;
  }
  if (isNaNClass(c)) {
    if (c == SNAN) exceptions |= EX_IE;
    quietNaN(se, sig);
    return true;
  }
  return false;
}

/**
 * Screens two operands: an unsupported format makes the result invalid, a NaN propagates.
 * Returns true when that decided the result.
 */
export function screen2(aSeIn: u32, aSigIn: u64, ca: i32, bSeIn: u32, bSigIn: u64, cb: i32): bool {
  if (ca == UNSUPPORTED || cb == UNSUPPORTED) {
    invalid();
    return true;
  }
  if (isNaNClass(ca) || isNaNClass(cb)) {
    propagateNaN(aSeIn, aSigIn, ca, bSeIn, bSigIn, cb);
    return true;
  }
  return false;
}

/** Raises DE for a denormal operand; true when DE is unmasked (the operation must stop). */
export function denormalStops(ca: i32, cb: i32): bool {
  if (ca != DENORMAL && cb != DENORMAL) return false;
  exceptions |= EX_DE;
  return (masks & EX_DE) == 0;
}

// ---- Arithmetic ----

/** Operand classes of the running two-operand operation. */
let ca: i32 = ZERO;
let cb: i32 = ZERO;
/** Operands (1: a, 2: b) that were denormals in their m32fp/m64fp source; see markDenormal(). */
let denormalSource: u32 = 0;

/**
 * Tells the next two-operand operation that operand a (1) or b (2) was converted from an m32fp
 * or m64fp denormal: normalized in extended, it still raises DE as the source denormal does.
 */
export function markDenormal(which: u32): void {
  denormalSource = which;
}

/** Classifies a and b into ca and cb, applying (and clearing) markDenormal(). */
function classifyOperands(aSeIn: u32, aSigIn: u64, bSeIn: u32, bSigIn: u64): void {
  ca = (denormalSource & 1) != 0 ? DENORMAL : classify(aSeIn, aSigIn);
  cb = (denormalSource & 2) != 0 ? DENORMAL : classify(bSeIn, bSigIn);
  denormalSource = 0;
}

/** The sign of an exact zero sum: negative only when both are, or when rounding down. */
// @ts-ignore: decorator
@inline function zeroSumSign(a: u32, b: u32): u32 {
  return a == b ? a : rounding == RC_DOWN ? 1 : 0;
}

/** a + b (or a - b when `subtract`), rounded to `bits`. */
export function add(aSeIn: u32, aSigIn: u64, bSeIn0: u32, bSigIn: u64, subtract: bool, bits: i32): void {
  const bSeIn = subtract ? bSeIn0 ^ 0x8000 : bSeIn0;
  classifyOperands(aSeIn, aSigIn, bSeIn, bSigIn);
  if (screen2(aSeIn, aSigIn, ca, bSeIn0, bSigIn, cb)) return;
  if (ca == INF || cb == INF) {
    if (ca == INF && cb == INF && ((aSeIn ^ bSeIn) & 0x8000) != 0) invalid();
    else if (!denormalStops(ca, cb)) setResult(ca == INF ? aSeIn : bSeIn, INTEGER_BIT);
    return;
  }
  if (denormalStops(ca, cb)) return;
  if (ca == ZERO && cb == ZERO) {
    setResult(zeroSumSign(aSeIn >> 15, bSeIn >> 15) << 15, 0);
    return;
  }
  if (ca == ZERO || cb == ZERO) {
    // x + 0 is x, rounded to the precision (and denormal results behave as any tiny one).
    if (ca == ZERO) unpackA(bSeIn, bSigIn);
    else unpackA(aSeIn, aSigIn);
    roundPack(aSign, aExp, aSig, 0, bits);
    return;
  }
  unpackA(aSeIn, aSigIn);
  unpackB(bSeIn, bSigIn);
  // Make A the larger magnitude.
  if (bExp > aExp || (bExp == aExp && bSig > aSig)) {
    const s = aSign; aSign = bSign; bSign = s;
    const e = aExp; aExp = bExp; bExp = e;
    const g = aSig; aSig = bSig; bSig = g;
  }
  shiftRightJam(bSig, 0, aExp - bExp);
  const bHi = wideHi;
  const bLo = wideLo;
  if (aSign == bSign) {
    const lo = bLo;
    let hi = aSig + bHi;
    if (hi < aSig) {
      // Carry out of bit 63: one more exponent.
      shiftRightJam(hi, lo, 1);
      roundPack(aSign, aExp + 1, wideHi | INTEGER_BIT, wideLo, bits);
      return;
    }
    roundPack(aSign, aExp, hi, lo, bits);
    return;
  }
  const lo = <u64>0 - bLo;
  const hi = aSig - bHi - (bLo != 0 ? 1 : 0);
  if (hi == 0 && lo == 0) {
    setResult(zeroSumSign(0, 1) << 15, 0);
    return;
  }
  normalizeRoundPack(aSign, aExp, hi, lo, bits);
}

/** a * b rounded to `bits`. */
export function mul(aSeIn: u32, aSigIn: u64, bSeIn: u32, bSigIn: u64, bits: i32): void {
  classifyOperands(aSeIn, aSigIn, bSeIn, bSigIn);
  if (screen2(aSeIn, aSigIn, ca, bSeIn, bSigIn, cb)) return;
  const sign = ((aSeIn ^ bSeIn) >> 15) & 1;
  if (ca == INF || cb == INF) {
    if (ca == ZERO || cb == ZERO) invalid();
    else if (!denormalStops(ca, cb)) setResult((sign << 15) | 0x7fff, INTEGER_BIT);
    return;
  }
  if (denormalStops(ca, cb)) return;
  if (ca == ZERO || cb == ZERO) {
    setResult(sign << 15, 0);
    return;
  }
  unpackA(aSeIn, aSigIn);
  unpackB(bSeIn, bSigIn);
  mul64(aSig, bSig);
  // The product of two significands in [1, 2) lies in [1, 4): bit 127 or bit 126 leads.
  normalizeRoundPack(sign, aExp + bExp - BIAS + 1, wideHi, wideLo, bits);
}

/** a / b rounded to `bits`. */
export function div(aSeIn: u32, aSigIn: u64, bSeIn: u32, bSigIn: u64, bits: i32): void {
  classifyOperands(aSeIn, aSigIn, bSeIn, bSigIn);
  if (screen2(aSeIn, aSigIn, ca, bSeIn, bSigIn, cb)) return;
  const sign = ((aSeIn ^ bSeIn) >> 15) & 1;
  if (ca == INF) {
    if (cb == INF) invalid();
    else if (!denormalStops(ca, cb)) setResult((sign << 15) | 0x7fff, INTEGER_BIT);
    return;
  }
  if (cb == INF) {
    if (!denormalStops(ca, cb)) setResult(sign << 15, 0);
    return;
  }
  if (cb == ZERO) {
    if (ca == ZERO) {
      invalid();
      return;
    }
    // Division by zero ranks above the denormal-operand exception (SDM vol. 1, 4.9.2).
    exceptions |= EX_ZE;
    if ((masks & EX_ZE) != 0) setResult((sign << 15) | 0x7fff, INTEGER_BIT);
    return;
  }
  if (denormalStops(ca, cb)) return;
  if (ca == ZERO) {
    setResult(sign << 15, 0);
    return;
  }
  unpackA(aSeIn, aSigIn);
  unpackB(bSeIn, bSigIn);
  // Quotient bits from the leading one down to bit 0; the remainder then gives the round and
  // sticky bits.
  const below = aSig < bSig;
  const exp = aExp - bExp + BIAS - (below ? 1 : 0);
  divideBits(aSig, bSig, below ? 64 : 63);
  const q = divQuotient;
  const rem = divRemainder;
  // Round bit: 2 * rem against bSig; sticky unless the remainder is exactly half of it.
  const top = rem >> 63;
  const twice = rem << 1;
  let extra: u64 = 0;
  if (top != 0 || twice >= bSig) extra = INTEGER_BIT | (top == 0 && twice == bSig ? 0 : 1);
  else if (rem != 0) extra = 1;
  roundPack(sign, exp, q, extra, bits);
}

/** Square root rounded to `bits`. */
export function sqrt(se: u32, sig: u64, bits: i32): void {
  const c = classify(se, sig);
  if (screen1(se, sig, c)) return;
  if (c == ZERO) {
    setResult(se, 0);
    return;
  }
  if ((se & 0x8000) != 0) {
    invalid();
    return;
  }
  if (c == INF) {
    setResult(se, INTEGER_BIT);
    return;
  }
  if (denormalStops(c, ZERO)) return;
  unpackA(se, sig);
  const unbiased = aExp - BIAS;
  // N = sig * 2^63 (even exponent) or sig * 2^64 (odd); its root lies in [2^63, 2^64).
  const odd = (unbiased & 1) != 0;
  let nHi = odd ? aSig : aSig >> 1;
  let nLo = odd ? <u64>0 : aSig << 63;
  let root: u64 = 0;
  let remHi: u64 = 0;
  let remLo: u64 = 0;
  for (let i = 0; i < 64; i++) {
    // Bring down the next two bits of N.
    remHi = (remHi << 2) | (remLo >> 62);
    remLo = (remLo << 2) | (nHi >> 62);
    nHi = (nHi << 2) | (nLo >> 62);
    nLo <<= 2;
    const trialHi = root >> 62;
    const trialLo = (root << 2) | 1;
    root <<= 1;
    if (remHi > trialHi || (remHi == trialHi && remLo >= trialLo)) {
      remHi = remHi - trialHi - (remLo < trialLo ? 1 : 0);
      remLo -= trialLo;
      root |= 1;
    }
  }
  // N - root^2 > root means the exact root lies above root + 1/2 (never exactly on it).
  let extra: u64 = 0;
  if (remHi != 0 || remLo > root) extra = INTEGER_BIT | 1;
  else if (remLo != 0) extra = 1;
  roundPack(0, (unbiased >> 1) + BIAS, root, extra, bits);
}

// ---- Comparison ----

/** compare() results. */
export const CMP_LESS = -1;
export const CMP_EQUAL = 0;
const CMP_GREATER = 1;
export const CMP_UNORDERED = 2;

/**
 * Compares a with b. NaNs compare unordered and raise IE when `signaling` (FCOM) or when one is
 * an SNaN (FUCOM); unsupported formats raise IE; denormals raise DE.
 */
export function compare(aSeIn: u32, aSigIn: u64, bSeIn: u32, bSigIn: u64, signaling: bool): i32 {
  classifyOperands(aSeIn, aSigIn, bSeIn, bSigIn);
  if (ca == UNSUPPORTED || cb == UNSUPPORTED) {
    exceptions |= EX_IE;
    return CMP_UNORDERED;
  }
  if (isNaNClass(ca) || isNaNClass(cb)) {
    if (signaling || ca == SNAN || cb == SNAN) exceptions |= EX_IE;
    return CMP_UNORDERED;
  }
  if (ca == DENORMAL || cb == DENORMAL) exceptions |= EX_DE;
  if (ca == ZERO && cb == ZERO) return CMP_EQUAL;
  const aNeg = (aSeIn & 0x8000) != 0 && ca != ZERO;
  const bNeg = (bSeIn & 0x8000) != 0 && cb != ZERO;
  if (aNeg != bNeg) return aNeg ? CMP_LESS : CMP_GREATER;
  // Same sign: compare magnitudes (zero below everything, infinity above).
  let magnitude: i32;
  if (ca == ZERO) magnitude = -1;
  else if (cb == ZERO) magnitude = 1;
  else if (ca == INF || cb == INF) magnitude = ca == cb ? 0 : ca == INF ? 1 : -1;
  else {
    unpackA(aSeIn, aSigIn);
    unpackB(bSeIn, bSigIn);
    if (aExp != bExp) magnitude = aExp > bExp ? 1 : -1;
    else magnitude = aSig == bSig ? 0 : aSig > bSig ? 1 : -1;
  }
  return aNeg ? -magnitude : magnitude;
}

// ---- Rounding to an integer ----

/** The magnitude of the last roundToInteger() and whether it reached 2^64. */
export let intMag: u64 = 0;
export let intOverflow: bool = false;

/**
 * Rounds a finite value to an integer magnitude by the rounding mode (into intMag/intOverflow),
 * raising PE (and EX_C1 when rounded up) when inexact.
 */
export function roundToInteger(se: u32, sig: u64): void {
  intOverflow = false;
  if (sig == 0) {
    intMag = 0;
    return;
  }
  const sign = se >> 15;
  unpackA(se, sig);
  // Fraction bits below the binary point: the value is aSig * 2^(aExp - BIAS - 63).
  const frac = BIAS + 63 - aExp;
  if (frac <= 0) {
    // Already integral; 2^64 or more overflows any integer format.
    intMag = aSig;
    intOverflow = frac < 0;
    return;
  }
  let kept: u64;
  let half: bool;
  let sticky: bool;
  if (frac >= 65) {
    kept = 0;
    half = false;
    sticky = true;
  } else if (frac == 64) {
    kept = 0;
    half = true;
    sticky = (aSig << 1) != 0;
  } else {
    const f = <u64>frac;
    kept = aSig >> f;
    half = ((aSig >> (f - 1)) & 1) != 0;
    sticky = (aSig & ((<u64>1 << (f - 1)) - 1)) != 0;
  }
  if (!half && !sticky) {
    intMag = kept;
    return;
  }
  exceptions |= EX_PE;
  if (roundUp(sign, (kept & 1) != 0, half, sticky)) {
    exceptions |= EX_C1;
    kept++;
    if (kept == 0) intOverflow = true;
  }
  intMag = kept;
}

/** Packs a sign and an integer magnitude into the result (exact: 64 bits always fit). */
export function packInteger(sign: u32, mag: u64): void {
  if (mag == 0) {
    setResult(sign << 15, 0);
    return;
  }
  const shift = <i32>clz(mag);
  setResult((sign << 15) | <u32>(BIAS + 63 - shift), mag << <u64>shift);
}

/** FRNDINT: rounds to an integral value by the rounding mode. */
export function roundInt(se: u32, sig: u64): void {
  const c = classify(se, sig);
  if (screen1(se, sig, c)) return;
  if (c == ZERO || c == INF) {
    setResult(se, sig);
    return;
  }
  if (denormalStops(c, ZERO)) return;
  if (<i32>(se & 0x7fff) >= BIAS + 63) {
    setResult(se, sig); // no fraction bits
    return;
  }
  roundToInteger(se, sig);
  if (intOverflow) {
    // Rounded up to 2^64 (only from below 2^64 with a fraction).
    setResult((se & 0x8000) | <u32>(BIAS + 64), INTEGER_BIT);
    return;
  }
  packInteger(se >> 15, intMag);
}
