// The x87 transcendental instructions: FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X and
// FYL2XP1 (SDM vol. 2, each instruction's page and special-value table; vol. 1, 8.3.10).
// FSIN/FCOS/FSINCOS/FPTAN reduce their argument modulo pi/2 exactly against the 66-bit pi the
// x87 uses (so results near multiples of pi match the hardware's, not the true function), then
// evaluate power series in 128-bit fixed point; the others reduce by tables and identities. All
// intermediate values carry about 120 significant bits and are rounded once, by the rounding
// mode, to 64 bits, so a result is the correctly rounded value of the function (of the
// 66-bit-pi-reduced argument) but in rare cases within a hair of a rounding boundary. Against
// the host processor (test/x87.test.ts) about 99% of results are bit-identical and none is more
// than one unit in the last place away; the SDM itself allows the x87 about one ulp. Precision
// control does not apply to these instructions. Every result at a nonzero argument reports PE.

import {
  BIAS, classify, DENORMAL, denormalStops, EX_PE, EX_ZE, INF, INTEGER_BIT, invalid, resSe, resSig, screen1, screen2,
  setResult, signal, unpackA, aExp, aSig, ZERO,
} from "./x87-float80";
import {
  fixedDivSmall, fixedFromWide, fixedMul, fixHi, fixLo, FIXED_ONE_HI, roundWide, wExp, wHi, wideAdd, wideDiv,
  wideFromExtended, wideFromFixed, wideFromInteger, wideMul, wideNormalize, wLo, wSign,
} from "./x87-wide";

// Wide constants (x87-wide.ts): 128-bit significands, truncated; the leading bit's exponent is
// 1 for pi (pi/2 and pi/4 are the same bits at 0 and -1), -1 for ln 2 and 1 for 2 / ln 2.
const PI_HI: u64 = 0xc90fdaa22168c234;
const PI_LO: u64 = 0xc4c6628b80dc1cd1;
const LN2_HI: u64 = 0xb17217f7d1cf79ab;
const LN2_LO: u64 = 0xc9e3b39803f2f6af;
const TWO_OVER_LN2_HI: u64 = 0xb8aa3b295c17f0bb;
const TWO_OVER_LN2_LO: u64 = 0xbe87fed0691d3e88;
/** sqrt(2) as a 64-bit significand: the split point of log2's reduction. */
const SQRT2_SIG: u64 = 0xb504f333f9de6484;
/** The x87's pi/2 in units of 2^-65: pi rounded to 66 bits (0x3_243F6A88_85A308D3 * 2^-64). */
const HALF_PI66_HI: u64 = 0x3;
const HALF_PI66_LO: u64 = 0x243f6a8885a308d3;

/** atan(j/32) for j = 1..32 in Q1.127, hi then lo. */
const ATAN_TABLE: StaticArray<u64> = [
  0x03ffaab7752ec495, 0x09de75ddb76a3188, 0x07fd56edcb3f7a71, 0xb6593c96e071706a,
  0x0bf70c1301788746, 0x093567e784cf8367, 0x0feadd4d5617b6e3, 0x2c897989f3e888ef,
  0x13d6eee8c6626c58, 0x68ec33a4a06c1fd0, 0x17b97b4bce5b0226, 0x8f6169f103938e90,
  0x1b90d7529260a204, 0x5ec434b8396aa5e0, 0x1f5b75f92c80dd62, 0xadb8f3debef442fc,
  0x2317eb4617e2f04c, 0x3291d22c6fe20a63, 0x26c4ee6e0fd7979a, 0x716aed26349ebcca,
  0x2a615b32a39a93b6, 0xa66dfddefdf67a30, 0x2dec3283c9bde11c, 0xe2a8c848b73f9120,
  0x31649a7294364adb, 0x685d1ba47d428a37, 0x34c9dd879847f96d, 0x909f257a40079c4d,
  0x381b69929d93df19, 0xf18c7b659e632e00, 0x3b58ce0ac3769ed1, 0x5bf9117b2f0ea340,
  0x3e81ba16a8282f97, 0x19b48f1f57723b30, 0x4195fa536cc33f15, 0x25b504e5b0d28ae0,
  0x4495766fef4aa3da, 0x84a23c7e2395a57d, 0x47802eaf7bfacfcd, 0xae41af0b32e21ba3,
  0x4a563964c238c37b, 0x0c6279c9fbc5197c, 0x4d17c07338deed10, 0x21137c711027f9de,
  0x4fc4fee27a5bd0f6, 0x7c5a4932278380ef, 0x525e3e8c9a7b8492, 0x0cd43f9522bed64f,
  0x54e3d5ee24187ae4, 0x48b5425adf3c99fa, 0x5756261c5a6c6040, 0x0a392f179f290385,
  0x59b598e48f821b48, 0xac80a0ba22317c9c, 0x5c029f15e118cf39, 0xe596d2a90852221e,
  0x5e3daef574c57940, 0x6a0898037407d948, 0x606742dc56293320, 0x44eeb16237497d12,
  0x627fd7fd5fc7deaa, 0x465a1e885e4f0110, 0x6487ed5110b4611a, 0x62633145c06e0e68,
];

/** FSINCOS's cosine (the sine is the float80 result). */
export let cosineSe: u32 = 0;
export let cosineSig: u64 = 0;

/**
 * Rounds the wide result as a value known to be inexact (every result of a transcendental
 * function at a nonzero argument is irrational): a sticky bit makes the rounding report PE,
 * and UE for a tiny result, as the processor does.
 */
function roundInexact(): void {
  if (wHi != 0) wideNormalize(wSign, wExp, wHi, wLo | 1);
  roundWide();
}

// ---- Shared screening ----

/**
 * Handles the operands every one-operand transcendental treats alike: unsupported formats and
 * infinities are invalid, NaNs propagate, denormals raise DE. Returns true when the result is
 * decided (zero is left to the caller).
 */
function screen(se: u32, sig: u64, c: i32): bool {
  if (c == INF) {
    invalid();
    return true;
  }
  return screen1(se, sig, c) || (c == DENORMAL && denormalStops(c, ZERO));
}

// ---- Argument reduction modulo the x87's pi/2 ----

/** The reduced argument r (wide) and the quadrant: x = r + quadrant * pi66/2 (mod 2 pi66). */
let rSign: u32 = 0;
let rExp: i32 = 0;
let rHi: u64 = 0;
let rLo: u64 = 0;
let quadrant: u32 = 0;

/**
 * Reduces x to r = x - q * pi66/2 with |r| <= pi66/4, exactly (long division of x, in units of
 * 2^-65, by the 66-bit pi/2). Returns false when |x| >= 2^63 (out of the instructions' range).
 */
function reduce(se: u32, sig: u64): bool {
  unpackA(se, sig);
  const e = aExp - BIAS;
  if (e >= 63) return false;
  const sign = se >> 15;
  if (e < -1) {
    // |x| < 1/2 < pi/4: no reduction.
    quadrant = 0;
    rSign = sign;
    rExp = e;
    rHi = aSig;
    rLo = 0;
    return true;
  }
  let remHi: u64 = 0;
  let remLo: u64 = 0;
  let q: u32 = 0;
  const total = 64 + e + 2;
  for (let k = 0; k < total; k++) {
    const bit: u64 = k < 64 ? (aSig >> <u64>(63 - k)) & 1 : 0;
    remHi = (remHi << 1) | (remLo >> 63);
    remLo = (remLo << 1) | bit;
    q <<= 1;
    if (remHi > HALF_PI66_HI || (remHi == HALF_PI66_HI && remLo >= HALF_PI66_LO)) {
      remHi = remHi - HALF_PI66_HI - (remLo < HALF_PI66_LO ? 1 : 0);
      remLo -= HALF_PI66_LO;
      q |= 1;
    }
  }
  // To the nearest multiple: past half of pi/2, take the next one and a negative remainder.
  let negative: u32 = 0;
  const twiceHi = (remHi << 1) | (remLo >> 63);
  const twiceLo = remLo << 1;
  if (twiceHi > HALF_PI66_HI || (twiceHi == HALF_PI66_HI && twiceLo > HALF_PI66_LO)) {
    const lo = HALF_PI66_LO - remLo;
    remHi = HALF_PI66_HI - remHi - (HALF_PI66_LO < remLo ? 1 : 0);
    remLo = lo;
    negative = 1;
    q++;
  }
  quadrant = (sign != 0 ? <u32>0 - q : q) & 3;
  wideNormalize(sign ^ negative, 62, remHi, remLo);
  rSign = wSign;
  rExp = wExp;
  rHi = wHi;
  rLo = wLo;
  return true;
}

// ---- Power series in Q1.127 ----

// The series fixedSeries() sums: term n is z^n divided by
/** (2n + 1)!: sin(r) / r at z = r^2; */
const SERIES_SINE = 0;
/** (2n)!: cos r at z = r^2; */
const SERIES_COSINE = 1;
/** (n + 1)!: (e^w - 1) / w at z = |w|; */
const SERIES_EXP = 2;
/** 2n + 1: atan(s) / s or atanh(s) / s at z = s^2. */
const SERIES_ODD = 3;

/**
 * A series sum that came out as exactly 1 for a nonzero argument stands for a value just below
 * (or, `above`, just above) 1: one unit of 2^-127 keeps the final rounding inexact and directed
 * the right way.
 */
function nudgeOne(above: bool): void {
  if (fixHi != FIXED_ONE_HI || fixLo != 0) return;
  if (above) {
    fixLo = 1;
  } else {
    fixHi = FIXED_ONE_HI - 1;
    fixLo = <u64>-1;
  }
}

/**
 * sum_{n>=0} (-1)^n term_n (`alternate`) or sum_{n>=0} term_n of the series `kind` (SERIES_*)
 * at a fixed z, truncated, into fixHi:fixLo, for a nonzero argument (so the sum lies below 1
 * when alternating and above it otherwise: see nudgeOne()). The sum stops at the first term
 * that truncates to zero, or after 47 terms; a sine, cosine or arctangent series, whose z is at
 * most 0.62, ends within 20.
 */
function fixedSeries(zh: u64, zl: u64, kind: i32, alternate: bool): void {
  let sumHi = FIXED_ONE_HI;
  let sumLo: u64 = 0;
  // The last term, or for SERIES_ODD the last power of z.
  let th = FIXED_ONE_HI;
  let tl: u64 = 0;
  for (let n: u64 = 1; n < 48 && (zh | zl) != 0; n++) {
    fixedMul(th, tl, zh, zl);
    if (kind == SERIES_ODD) {
      th = fixHi;
      tl = fixLo;
      fixedDivSmall(th, tl, 2 * n + 1);
    } else {
      const d = kind == SERIES_SINE ? (2 * n) * (2 * n + 1) : kind == SERIES_COSINE ? (2 * n - 1) * (2 * n) : n + 1;
      fixedDivSmall(fixHi, fixLo, d);
      th = fixHi;
      tl = fixLo;
    }
    if (fixHi == 0 && fixLo == 0) break;
    if (alternate && (n & 1) != 0) {
      sumHi = sumHi - fixHi - (sumLo < fixLo ? 1 : 0);
      sumLo -= fixLo;
    } else {
      const lo = sumLo + fixLo;
      sumHi = sumHi + fixHi + (lo < sumLo ? 1 : 0);
      sumLo = lo;
    }
  }
  fixHi = sumHi;
  fixLo = sumLo;
  nudgeOne(!alternate);
}

/** The square of a wide value below 1 as fixed (truncated): the z of an even or odd series. */
function squareToFixed(exp: i32, hi: u64, lo: u64): void {
  wideMul(0, exp, hi, lo, 0, exp, hi, lo);
  fixedFromWide(wExp, wHi, wLo);
}

/** The wide x times the fixed series sum in fixHi:fixLo, into the wide result. */
function timesSum(sign: u32, exp: i32, hi: u64, lo: u64): void {
  wideFromFixed(0, fixHi, fixLo);
  wideMul(sign, exp, hi, lo, 0, wExp, wHi, wLo);
}

/**
 * s * sum (+-1)^n s^(2n) / (2n + 1) for a wide |s| <= 0.18, into the wide result: atan(s) when
 * `alternate`, atanh(s) otherwise. Zero stays zero.
 */
function oddPowerSeries(sign: u32, exp: i32, hi: u64, lo: u64, alternate: bool): void {
  if (hi == 0) {
    wideNormalize(0, 0, 0, 0);
    return;
  }
  squareToFixed(exp, hi, lo);
  fixedSeries(fixHi, fixLo, SERIES_ODD, alternate);
  timesSum(sign, exp, hi, lo);
}

// ---- Sine, cosine, tangent ----

// sin(r) and cos(r) of the reduced argument, as wide values.
let sinSign: u32 = 0;
let sinExp: i32 = 0;
let sinHi: u64 = 0;
let sinLo: u64 = 0;
let cosExp: i32 = 0;
let cosHi: u64 = 0;
let cosLo: u64 = 0;

/** Whether r^2 fell below the fixed point's resolution (|r| < 2^-64): see tangent(). */
let tinyArgument: bool = false;

/** sin(r) and cos(r) for the reduced r. */
function sineCosineReduced(): void {
  squareToFixed(rExp, rHi, rLo);
  const zh = fixHi;
  const zl = fixLo;
  tinyArgument = (zh | zl) == 0;
  fixedSeries(zh, zl, SERIES_SINE, true);
  timesSum(rSign, rExp, rHi, rLo);
  sinSign = wSign;
  sinExp = wExp;
  sinHi = wHi;
  sinLo = wLo;
  fixedSeries(zh, zl, SERIES_COSINE, true);
  wideFromFixed(0, fixHi, fixLo);
  cosExp = wExp;
  cosHi = wHi;
  cosLo = wLo;
}

/** Sets the wide result to sin(x) (`cosine` false) or cos(x) from the quadrant. */
function pickQuadrant(cosine: bool): void {
  const k = cosine ? (quadrant + 1) & 3 : quadrant;
  // sin(x) by quadrant: sin r, cos r, -sin r, -cos r; cos(x) = sin(x + pi/2).
  if ((k & 1) == 0) wideNormalize(sinSign ^ (k >> 1), sinExp, sinHi, sinLo);
  else wideNormalize(k >> 1, cosExp, cosHi, cosLo);
}

// startTrig() outcomes.
/** A special operand (see screen()): the result is set. */
const TRIG_SPECIAL = 0;
/** x is a zero: nothing is set. */
const TRIG_ZERO = 1;
/** |x| >= 2^63: nothing is computed. */
const TRIG_OUT_OF_RANGE = 2;
/** sin r and cos r of the reduced argument are computed. */
const TRIG_REDUCED = 3;

/** What FSIN, FCOS, FSINCOS and FPTAN do first: screens x, then reduces it (TRIG_*). */
function startTrig(se: u32, sig: u64): i32 {
  const c = classify(se, sig);
  if (screen(se, sig, c)) return TRIG_SPECIAL;
  if (c == ZERO) return TRIG_ZERO;
  if (!reduce(se, sig)) return TRIG_OUT_OF_RANGE;
  sineCosineReduced();
  return TRIG_REDUCED;
}

/** Sets the result to sin(x) (`cosine` false) or cos(x) after startTrig() gave `start`. */
function finishSineOrCosine(start: i32, se: u32, sig: u64, cosine: bool): void {
  if (start == TRIG_ZERO) {
    // sin(+-0) = +-0, cos(+-0) = 1
    if (cosine) setResult(0x3fff, INTEGER_BIT);
    else setResult(se, sig);
  } else if (start == TRIG_REDUCED) {
    pickQuadrant(cosine);
    roundInexact();
  }
}

/** FSIN (`cosine` false) or FCOS: false when |x| >= 2^63 (nothing computed). */
export function sineOrCosine(se: u32, sig: u64, cosine: bool): bool {
  const start = startTrig(se, sig);
  finishSineOrCosine(start, se, sig, cosine);
  return start != TRIG_OUT_OF_RANGE;
}

/** FSINCOS: the sine in the float80 result, the cosine in cosineSe/cosineSig. */
export function sineCosine(se: u32, sig: u64): bool {
  const start = startTrig(se, sig);
  if (start == TRIG_OUT_OF_RANGE) return false;
  finishSineOrCosine(start, se, sig, true);
  cosineSe = resSe;
  cosineSig = resSig;
  finishSineOrCosine(start, se, sig, false);
  return true;
}

/** FPTAN's tangent: false when |x| >= 2^63. */
export function tangent(se: u32, sig: u64): bool {
  const start = startTrig(se, sig);
  if (start == TRIG_ZERO) setResult(se, sig);
  if (start != TRIG_REDUCED) return start != TRIG_OUT_OF_RANGE;
  // tan(x) = tan r in even quadrants, -cot r in odd ones. For a tiny r the quotient of the
  // series would be exact: tan r = r (1 + r^2/3) lies just above r, cot r = (1 - r^2/3) / r
  // just below 1/r.
  if ((quadrant & 1) == 0) {
    if (tinyArgument) wideMul(rSign, rExp, rHi, rLo, 0, 0, FIXED_ONE_HI, 1);
    else wideDiv(sinSign, sinExp, sinHi, sinLo, 0, cosExp, cosHi, cosLo);
  } else if (tinyArgument) {
    wideDiv(1, 0, FIXED_ONE_HI, 0, rSign, rExp, rHi, rLo);
    wideMul(wSign, wExp, wHi, wLo, 0, -1, <u64>-1, <u64>-1);
  } else {
    wideDiv(1, cosExp, cosHi, cosLo, sinSign, sinExp, sinHi, sinLo);
  }
  roundInexact();
  return true;
}

// ---- Arctangent ----

/**
 * atan(t) for a wide 0 < t <= 1, into the wide result: t * A(t^2) directly below 1/32,
 * otherwise atan(j/32) + atan(u) with u = (t - j/32) / (1 + t j/32), |u| <= 1/64.
 */
function arctangent(tExp: i32, tHi: u64, tLo: u64): void {
  let uSign: u32 = 0;
  let uExp = tExp;
  let uHi = tHi;
  let uLo = tLo;
  let j: i32 = 0;
  if (tExp >= -5) {
    const shift = <u64>(63 - (tExp + 5));
    j = <i32>((tHi >> shift) + ((tHi >> (shift - 1)) & 1));
    wideFromInteger(0, <u64>j);
    const cExp = wExp - 5;
    const cHi = wHi;
    const cLo = wLo;
    wideMul(0, tExp, tHi, tLo, 0, cExp, cHi, cLo);
    wideAdd(0, 0, FIXED_ONE_HI, 0, 0, wExp, wHi, wLo);
    const dExp = wExp;
    const dHi = wHi;
    const dLo = wLo;
    wideAdd(0, tExp, tHi, tLo, 1, cExp, cHi, cLo);
    wideDiv(wSign, wExp, wHi, wLo, 0, dExp, dHi, dLo);
    uSign = wSign;
    uExp = wExp;
    uHi = wHi;
    uLo = wLo;
  }
  oddPowerSeries(uSign, uExp, uHi, uLo, true);
  if (j != 0) {
    const atHi = unchecked(ATAN_TABLE[(j - 1) << 1]);
    const atLo = unchecked(ATAN_TABLE[((j - 1) << 1) + 1]);
    const sSign = wSign;
    const sExp = wExp;
    const sHi = wHi;
    const sLo = wLo;
    wideFromFixed(0, atHi, atLo);
    wideAdd(0, wExp, wHi, wLo, sSign, sExp, sHi, sLo);
  }
}

/** A multiple of pi/4 (1 to 4) with a sign, rounded. */
function piQuarters(sign: u32, quarters: i32): void {
  if (quarters == 3) {
    wideAdd(0, 0, PI_HI, PI_LO, 0, -1, PI_HI, PI_LO);
    wideNormalize(sign, wExp, wHi, wLo);
  } else {
    wideNormalize(sign, quarters == 4 ? 1 : quarters == 2 ? 0 : -1, PI_HI, PI_LO);
  }
  roundInexact();
}

/** FPATAN: atan2(y, x) with the SDM's special values (signed zeros choose 0 or pi). */
export function partialArctangent(ySe: u32, ySig: u64, xSe: u32, xSig: u64): void {
  const cy = classify(ySe, ySig);
  const cx = classify(xSe, xSig);
  if (screen2(ySe, ySig, cy, xSe, xSig, cx)) return;
  if (denormalStops(cy, cx)) return;
  const ySign = ySe >> 15;
  const xNegative = (xSe & 0x8000) != 0;
  if (cy == ZERO) {
    if (xNegative) piQuarters(ySign, 4);
    else setResult(ySign << 15, 0);
    return;
  }
  if (cy == INF) {
    piQuarters(ySign, cx == INF ? (xNegative ? 3 : 1) : 2);
    return;
  }
  if (cx == ZERO) {
    piQuarters(ySign, 2);
    return;
  }
  if (cx == INF) {
    if (xNegative) piQuarters(ySign, 4);
    else setResult(ySign << 15, 0);
    return;
  }
  wideFromExtended(ySe & 0x7fff, ySig);
  const yExp = wExp;
  const yHi = wHi;
  wideFromExtended(xSe & 0x7fff, xSig);
  const xExp = wExp;
  const xHi = wHi;
  const swap = yExp > xExp || (yExp == xExp && yHi > xHi);
  if (swap) wideDiv(0, xExp, xHi, 0, 0, yExp, yHi, 0);
  else wideDiv(0, yExp, yHi, 0, 0, xExp, xHi, 0);
  arctangent(wExp, wHi, wLo);
  if (swap) wideAdd(0, 0, PI_HI, PI_LO, 1, wExp, wHi, wLo);
  if (xNegative) wideAdd(0, 1, PI_HI, PI_LO, 1, wExp, wHi, wLo);
  wideNormalize(ySign, wExp, wHi, wLo);
  roundInexact();
}

// ---- Exponential ----

/** e^w - 1 for |w| < 1 (wide in, wide out): w * sum w^n / (n + 1)!. */
function expMinusOne(sign: u32, exp: i32, hi: u64, lo: u64): void {
  fixedFromWide(exp, hi, lo);
  fixedSeries(fixHi, fixLo, SERIES_EXP, sign != 0);
  timesSum(sign, exp, hi, lo);
}

/** F2XM1: 2^x - 1 (defined for |x| <= 1; larger x are computed the same way). */
export function power2(se: u32, sig: u64): void {
  const c = classify(se, sig);
  if (screen1(se, sig, c)) return;
  if (c == ZERO) {
    setResult(se, sig);
    return;
  }
  if (c == INF) {
    if ((se & 0x8000) != 0) setResult(0xbfff, INTEGER_BIT);
    else setResult(se, sig);
    return;
  }
  if (c == DENORMAL && denormalStops(c, ZERO)) return;
  wideFromExtended(se, sig);
  const xSign = wSign;
  const xExp = wExp;
  const xHi = wHi;
  const xLo = wLo;
  let n: i32 = 0;
  if (xExp >= 0) {
    // 2^x = 2^n * 2^f with n the integer part (beyond 2^20 every result saturates alike).
    n = xExp >= 20 ? 1 << 20 : <i32>(xHi >> <u64>(63 - xExp));
    wideFromInteger(xSign ^ 1, <u64>n);
    wideAdd(xSign, xExp, xHi, xLo, wSign, wExp, wHi, wLo);
    if (xSign != 0) n = -n;
  }
  wideMul(wSign, wExp, wHi, wLo, 0, -1, LN2_HI, LN2_LO);
  expMinusOne(wSign, wExp, wHi, wLo);
  const integral = wHi == 0;
  if (n != 0) {
    // 2^n (1 + (2^f - 1)) - 1
    wideAdd(0, 0, FIXED_ONE_HI, 0, wSign, wExp, wHi, wLo);
    wideAdd(wSign, wExp + n, wHi, wLo, 1, 0, FIXED_ONE_HI, 0);
  }
  if (integral) {
    // 2^x - 1 of an integral x (+-1 in the domain) is exact, yet reported inexact as the
    // processor does.
    roundWide();
    signal(EX_PE);
  } else {
    roundInexact();
  }
}

// ---- Logarithms ----

/** log2(1 + 2s/(1 - s)) = (2 / ln 2) atanh(s) for a wide |s| <= 0.18, into the wide result. */
function log2FromRatio(sSign: u32, sExp: i32, sHi: u64, sLo: u64): void {
  oddPowerSeries(sSign, sExp, sHi, sLo, false);
  wideMul(wSign, wExp, wHi, wLo, 0, 1, TWO_OVER_LN2_HI, TWO_OVER_LN2_LO);
}

/** log2(v) for a positive wide v: e + log2(m) with m in [sqrt(2)/2, sqrt(2)). */
function log2Wide(exp: i32, hi: u64, lo: u64): void {
  let e = exp;
  let mExp = 0;
  if (hi > SQRT2_SIG) {
    e++;
    mExp = -1;
  }
  // s = (m - 1) / (m + 1)
  wideAdd(0, mExp, hi, lo, 0, 0, FIXED_ONE_HI, 0);
  const dExp = wExp;
  const dHi = wHi;
  const dLo = wLo;
  wideAdd(0, mExp, hi, lo, 1, 0, FIXED_ONE_HI, 0);
  wideDiv(wSign, wExp, wHi, wLo, 0, dExp, dHi, dLo);
  log2FromRatio(wSign, wExp, wHi, wLo);
  if (e != 0) {
    const lSign = wSign;
    const lExp = wExp;
    const lHi = wHi;
    const lLo = wLo;
    wideFromInteger(e < 0 ? 1 : 0, <u64>(e < 0 ? -e : e));
    wideAdd(wSign, wExp, wHi, wLo, lSign, lExp, lHi, lLo);
  }
}

/**
 * FYL2X (`plusOne` false): y * log2(x); FYL2XP1: y * log2(x + 1) (defined for
 * |x| < 1 - sqrt(2)/2, where x/(2 + x) keeps full precision; beyond it, log2 of the sum).
 * Special values follow the SDM's tables: logarithms of negative numbers and 0 * infinity are
 * invalid, log2(0) raises ZE.
 */
export function logarithm(ySe: u32, ySig: u64, xSe: u32, xSig: u64, plusOne: bool): void {
  const cy = classify(ySe, ySig);
  const cx = classify(xSe, xSig);
  if (screen2(ySe, ySig, cy, xSe, xSig, cx)) return;
  const ySign = ySe >> 15;
  const xNegative = (xSe & 0x8000) != 0 && cx != ZERO;
  if (!plusOne && xNegative) {
    invalid();
    return;
  }
  if (cx == ZERO) {
    if (plusOne) {
      if (cy == INF) invalid();
      else if (!denormalStops(cy, ZERO)) setResult(((ySign ^ (xSe >> 15)) << 15), 0);
      return;
    }
    if (cy == ZERO) {
      invalid();
      return;
    }
    // Division by zero ranks above the denormal-operand exception.
    if (cy != INF) signal(EX_ZE);
    setResult(((ySign ^ 1) << 15) | 0x7fff, INTEGER_BIT);
    return;
  }
  if (cx == INF) {
    if (cy == ZERO || xNegative) invalid();
    else if (!denormalStops(cy, ZERO)) setResult((ySign << 15) | 0x7fff, INTEGER_BIT);
    return;
  }
  if (denormalStops(cy, cx)) return;
  // L = log2(x) or log2(1 + x), wide.
  wideFromExtended(xSe, xSig);
  if (plusOne) {
    if (wExp < -2) {
      // |x| < 1/4: s = x / (2 + x)
      const xSign = wSign;
      const xExp = wExp;
      const xHi = wHi;
      const xLo = wLo;
      wideAdd(xSign, xExp, xHi, xLo, 0, 1, FIXED_ONE_HI, 0);
      wideDiv(xSign, xExp, xHi, xLo, 0, wExp, wHi, wLo);
      log2FromRatio(wSign, wExp, wHi, wLo);
    } else {
      wideAdd(wSign, wExp, wHi, wLo, 0, 0, FIXED_ONE_HI, 0);
      if (wSign != 0 || wHi == 0) {
        if (wHi == 0) {
          signal(EX_ZE);
          setResult(((ySign ^ 1) << 15) | 0x7fff, INTEGER_BIT);
        } else {
          invalid();
        }
        return;
      }
      log2Wide(wExp, wHi, wLo);
    }
  } else {
    log2Wide(wExp, wHi, wLo);
  }
  const lSign = wSign;
  if (wHi == 0) {
    // log2(1) = 0: infinity * 0 is invalid, otherwise a zero with y's sign.
    if (cy == INF) invalid();
    else setResult(ySign << 15, 0);
    return;
  }
  if (cy == ZERO || cy == INF) {
    setResult(((ySign ^ lSign) << 15) | (cy == INF ? 0x7fff : 0), cy == INF ? INTEGER_BIT : 0);
    return;
  }
  const lExp = wExp;
  const lHi = wHi;
  const lLo = wLo;
  wideFromExtended(ySe, ySig);
  wideMul(wSign, wExp, wHi, wLo, lSign, lExp, lHi, lLo);
  // The processor treats these products as inexact even when they happen to be exact (y times
  // the logarithm of a power of two): PE, and UE for a tiny one.
  roundInexact();
}

