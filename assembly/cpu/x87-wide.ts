// Wide intermediate arithmetic for the x87 transcendental instructions: floating-point values
// with a 128-bit significand ("wide": value = hi:lo * 2^(exp - 127), bit 127 set, zero when
// hi:lo is 0) and unsigned Q1.127 fixed-point values (value = hi:lo / 2^127) for power series.
// Products and sums keep a sticky bit in bit 0, so a wide result rounds to the 64-bit extended
// format with at most one rounding of an almost-exact value (SDM vol. 1, 8.3.10: the x87's own
// transcendentals are accurate to about one unit in the last place). Results go to globals.

import { BIAS, mul64, normalize128, roundPack, setResult, shiftRightJam, unpackA, aExp, aSig, wideHi, wideLo } from "./x87-float80";

/** The wide result. */
export let wSign: u32 = 0;
export let wExp: i32 = 0;
export let wHi: u64 = 0;
export let wLo: u64 = 0;

/** The fixed-point result. */
export let fixHi: u64 = 0;
export let fixLo: u64 = 0;

/** Q1.127 one. */
export const FIXED_ONE_HI: u64 = 0x8000000000000000;

/** Sets the wide result. */
// @ts-ignore: decorator
@inline function setWide(sign: u32, exp: i32, hi: u64, lo: u64): void {
  wSign = sign;
  wExp = exp;
  wHi = hi;
  wLo = lo;
}

/** Sets the wide result to hi:lo * 2^(exp - 127), normalized (zero stays zero). */
export function wideNormalize(sign: u32, exp: i32, hi: u64, lo: u64): void {
  if (hi == 0 && lo == 0) {
    setWide(sign, 0, 0, 0);
    return;
  }
  const shift = normalize128(hi, lo);
  setWide(sign, exp - shift, wideHi, wideLo);
}

/** A finite nonzero extended value as wide. */
export function wideFromExtended(se: u32, sig: u64): void {
  unpackA(se, sig);
  setWide(se >> 15, aExp - BIAS, aSig, 0);
}

/** An integer as wide. */
export function wideFromInteger(sign: u32, value: u64): void {
  wideNormalize(sign, 127, 0, value);
}

/** A Q1.127 value as wide. */
export function wideFromFixed(sign: u32, hi: u64, lo: u64): void {
  wideNormalize(sign, 0, hi, lo);
}

/** Rounds the wide result to the extended result by the rounding mode (64 bits). */
export function roundWide(): void {
  if (wHi == 0) setResult(wSign << 15, 0);
  else roundPack(wSign, wExp + BIAS, wHi, wLo, 64);
}

// ---- 128 x 128 products ----

let p0: u64 = 0;
let p1: u64 = 0;
let p2: u64 = 0;
let p3: u64 = 0;

/** p3:p2:p1:p0 = (ah:al) * (bh:bl). */
function mul128(ah: u64, al: u64, bh: u64, bl: u64): void {
  mul64(al, bl);
  p0 = wideLo;
  const t1 = wideHi;
  mul64(al, bh);
  const xl = wideLo;
  const xh = wideHi;
  mul64(ah, bl);
  const yl = wideLo;
  const yh = wideHi;
  mul64(ah, bh);
  const zl = wideLo;
  const zh = wideHi;
  let s = t1 + xl;
  let carry: u64 = s < xl ? 1 : 0;
  s += yl;
  carry += s < yl ? 1 : 0;
  p1 = s;
  let s2 = xh + carry;
  let carry2: u64 = s2 < carry ? 1 : 0;
  s2 += yh;
  carry2 += s2 < yh ? 1 : 0;
  s2 += zl;
  carry2 += s2 < zl ? 1 : 0;
  p2 = s2;
  p3 = zh + carry2;
}

/** Wide a * b. */
export function wideMul(s1: u32, e1: i32, h1: u64, l1: u64, s2: u32, e2: i32, h2: u64, l2: u64): void {
  if (h1 == 0 || h2 == 0) {
    setWide(s1 ^ s2, 0, 0, 0);
    return;
  }
  mul128(h1, l1, h2, l2);
  if ((p3 >> 63) != 0) {
    setWide(s1 ^ s2, e1 + e2 + 1, p3, p2 | ((p1 | p0) != 0 ? 1 : 0));
  } else {
    const sticky: u64 = ((p1 << 1) | p0) != 0 ? 1 : 0;
    setWide(s1 ^ s2, e1 + e2, (p3 << 1) | (p2 >> 63), (p2 << 1) | (p1 >> 63) | sticky);
  }
}

/** Wide a + b (signed). */
export function wideAdd(s1: u32, e1: i32, h1: u64, l1: u64, s2: u32, e2: i32, h2: u64, l2: u64): void {
  if (h2 == 0) {
    setWide(s1, e1, h1, l1);
    return;
  }
  if (h1 == 0) {
    setWide(s2, e2, h2, l2);
    return;
  }
  // Order by magnitude: x is the larger.
  let xs = s1, xe = e1, xh = h1, xl = l1;
  let ys = s2, ye = e2, yh = h2, yl = l2;
  if (e2 > e1 || (e2 == e1 && (h2 > h1 || (h2 == h1 && l2 > l1)))) {
    xs = s2; xe = e2; xh = h2; xl = l2;
    ys = s1; ye = e1; yh = h1; yl = l1;
  }
  shiftRightJam(yh, yl, xe - ye);
  yh = wideHi;
  yl = wideLo;
  if (xs == ys) {
    const lo = xl + yl;
    const carryLo: u64 = lo < xl ? 1 : 0;
    const hi = xh + yh + carryLo;
    const carry = hi < xh || (hi == xh && carryLo != 0);
    if (carry) {
      shiftRightJam(hi, lo, 1);
      setWide(xs, xe + 1, wideHi | 0x8000000000000000, wideLo);
    } else {
      setWide(xs, xe, hi, lo);
    }
    return;
  }
  const lo = xl - yl;
  const hi = xh - yh - (xl < yl ? 1 : 0);
  wideNormalize(xs, xe, hi, lo);
}

/** Wide a / b (b nonzero): 128 quotient bits by restoring division, the remainder as sticky. */
export function wideDiv(s1: u32, e1: i32, h1: u64, l1: u64, s2: u32, e2: i32, h2: u64, l2: u64): void {
  if (h1 == 0) {
    setWide(s1 ^ s2, 0, 0, 0);
    return;
  }
  let rh = h1;
  let rl = l1;
  let qh: u64 = 0;
  let ql: u64 = 0;
  let exp = e1 - e2;
  let steps = 128;
  if (rh > h2 || (rh == h2 && rl >= l2)) {
    rh = rh - h2 - (rl < l2 ? 1 : 0);
    rl -= l2;
    ql = 1;
    steps = 127;
  } else {
    exp--;
  }
  for (let k = 0; k < steps; k++) {
    const carry = rh >> 63;
    rh = (rh << 1) | (rl >> 63);
    rl <<= 1;
    qh = (qh << 1) | (ql >> 63);
    ql <<= 1;
    if (carry != 0 || rh > h2 || (rh == h2 && rl >= l2)) {
      rh = rh - h2 - (rl < l2 ? 1 : 0);
      rl -= l2;
      ql |= 1;
    }
  }
  setWide(s1 ^ s2, exp, qh, ql | ((rh | rl) != 0 ? 1 : 0));
}

// ---- Q1.127 fixed point ----

/** Fixed a * b (truncated). */
export function fixedMul(ah: u64, al: u64, bh: u64, bl: u64): void {
  mul128(ah, al, bh, bl);
  fixHi = (p3 << 1) | (p2 >> 63);
  fixLo = (p2 << 1) | (p1 >> 63);
}

/** Fixed a / d for a small divisor (below 2^32), truncated. */
export function fixedDivSmall(ah: u64, al: u64, d: u64): void {
  let rem: u64 = 0;
  let q: u64 = 0;
  let hi: u64 = 0;
  for (let k = 0; k < 4; k++) {
    const limb = k < 2 ? (ah >> <u64>(32 - k * 32)) & 0xffffffff : (al >> <u64>(96 - k * 32)) & 0xffffffff;
    const cur = (rem << 32) | limb;
    const digit = cur / d;
    rem = cur % d;
    q = (q << 32) | digit;
    if (k == 1) {
      hi = q;
      q = 0;
    }
  }
  fixHi = hi;
  fixLo = q;
}

/** A wide value below 2 (exponent 0 or less) as fixed, truncated. */
export function fixedFromWide(e: i32, h: u64, l: u64): void {
  const n = -e;
  if (n == 0) {
    fixHi = h;
    fixLo = l;
  } else if (n < 64) {
    const m = <u64>n;
    fixHi = h >> m;
    fixLo = (l >> m) | (h << (64 - m));
  } else if (n < 128) {
    fixHi = 0;
    fixLo = h >> <u64>(n - 64);
  } else {
    fixHi = 0;
    fixLo = 0;
  }
}
