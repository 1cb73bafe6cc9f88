// The x87 instructions that work on exponents, exactly: FPREM and FPREM1 (partial remainder,
// with the quotient's low bits in C0/C3/C1 and C2 set while the reduction is incomplete),
// FSCALE and FXTRACT (SDM vol. 2, the FPREM, FPREM1, FSCALE and FXTRACT pages and their
// special-value tables). Operands are given as sign+exponent and significand; results go to
// the float80 result globals and, for the remainders, `quotientBits`/`incomplete`.

import {
  aExp, aSig, aSign, BIAS, bExp, bSig, classify, DENORMAL, denormalStops, divideBits, divQuotient, divRemainder,
  EX_ZE, INF, INTEGER_BIT, invalid, packInteger, resSe, resSig, roundPack, screen1, screen2, setResult, signal,
  unpackA, unpackB, ZERO,
} from "./x87-float80";

/** The three low quotient bits of the last remainder (Q2 Q1 Q0), and whether it was partial. */
export let quotientBits: u32 = 0;
export let incomplete: bool = false;

/**
 * FPREM (`nearest` false: the quotient truncated) and FPREM1 (`nearest`: rounded to nearest
 * even, the IEEE remainder) of a by b. A reduction by 64 or more binades is partial: it goes
 * down by 32 to 63 of them and sets `incomplete`, as the SDM's algorithm does with
 * N = 32 + ((D - 32) mod 32).
 */
export function remainder(aSeIn: u32, aSigIn: u64, bSeIn: u32, bSigIn: u64, nearest: bool): void {
  quotientBits = 0;
  incomplete = false;
  const ca = classify(aSeIn, aSigIn);
  const cb = classify(bSeIn, bSigIn);
  if (screen2(aSeIn, aSigIn, ca, bSeIn, bSigIn, cb)) return;
  if (ca == INF || cb == ZERO) {
    invalid();
    return;
  }
  if (denormalStops(ca, cb)) return;
  if (ca == ZERO) {
    setResult(aSeIn, aSigIn);
    return;
  }
  unpackA(aSeIn, aSigIn);
  unpackB(bSeIn, bSigIn);
  const d = cb == INF ? -2 : aExp - bExp;
  let sign = aSign;
  if (d < 0) {
    // |a| < |b|: the quotient is 0, or 1 for FPREM1 when |a| > |b| / 2.
    if (nearest && d == -1 && aSig > bSig) {
      quotientBits = 1;
      const r = bSig - (aSig - bSig);
      const shift = <i32>clz(r);
      roundPack(sign ^ 1, aExp - shift, r << <u64>shift, 0, 64);
      return;
    }
    // The quotient is 0: the remainder is a itself (a pseudo-denormal comes back normalized).
    roundPack(aSign, aExp, aSig, 0, 64);
    return;
  }
  let steps = d;
  if (d >= 64) {
    steps = 32 + ((d - 32) & 31);
    incomplete = true;
  }
  divideBits(aSig, bSig, steps);
  let r = divRemainder;
  let q = divQuotient;
  if (nearest && !incomplete) {
    // Round the quotient to nearest: compare 2r with b.
    const twiceHigh = r >> 63;
    const twice = r << 1;
    if (twiceHigh != 0 || twice > bSig || (twice == bSig && (q & 1) != 0)) {
      r = bSig - r;
      q++;
      sign ^= 1;
    }
  }
  quotientBits = <u32>(q & 7);
  // The remainder is r * 2^(aExp - steps - BIAS - 63): exact, possibly tiny.
  if (r == 0) {
    setResult(aSign << 15, 0);
    return;
  }
  const shift = <i32>clz(r);
  roundPack(sign, aExp - steps - shift, r << <u64>shift, 0, 64);
}

/** FSCALE: a * 2^trunc(b), rounded (only tiny results round) by the rounding mode at 64 bits. */
export function scale(aSeIn: u32, aSigIn: u64, bSeIn: u32, bSigIn: u64): void {
  const ca = classify(aSeIn, aSigIn);
  const cb = classify(bSeIn, bSigIn);
  if (screen2(aSeIn, aSigIn, ca, bSeIn, bSigIn, cb)) return;
  const bNegative = (bSeIn & 0x8000) != 0;
  if (cb == INF) {
    // 0 * 2^+inf and inf * 2^-inf are invalid; otherwise infinity or zero with a's sign.
    if ((ca == ZERO && !bNegative) || (ca == INF && bNegative)) {
      invalid();
      return;
    }
    if (denormalStops(ca, ZERO)) return;
    if (ca == ZERO || ca == INF) setResult(aSeIn, aSigIn);
    else if (bNegative) setResult(aSeIn & 0x8000, 0);
    else setResult((aSeIn & 0x8000) | 0x7fff, INTEGER_BIT);
    return;
  }
  if (denormalStops(ca, cb)) return;
  if (ca == ZERO || ca == INF) {
    setResult(aSeIn, aSigIn);
    return;
  }
  let n: i32 = 0;
  if (cb != ZERO) {
    unpackB(bSeIn, bSigIn);
    const e = bExp - BIAS;
    // Beyond 2^20 every result overflows or underflows the same way.
    if (e >= 20) n = 1 << 20;
    else if (e >= 0) n = <i32>(bSig >> <u64>(63 - e));
    if (bNegative) n = -n;
  }
  unpackA(aSeIn, aSigIn);
  roundPack(aSign, aExp + n, aSig, 0, 64);
}

/** FXTRACT's exponent part (the significand part is in resSe/resSig). */
export let exponentSe: u32 = 0;
export let exponentSig: u64 = 0;

/**
 * FXTRACT: splits a into its unbiased exponent (exponentSe/Sig) and its significand with
 * exponent 0 (resSe/resSig). Zero raises ZE and gives -infinity as the exponent; infinity
 * gives +infinity; NaNs propagate to both.
 */
export function extract(se: u32, sig: u64): void {
  const c = classify(se, sig);
  if (screen1(se, sig, c)) {
    // Invalid or NaN: the same result in both.
    exponentSe = resSe;
    exponentSig = resSig;
    return;
  }
  if (c == ZERO) {
    signal(EX_ZE);
    exponentSe = 0xffff;
    exponentSig = INTEGER_BIT;
    setResult(se, 0);
    return;
  }
  if (c == INF) {
    exponentSe = 0x7fff;
    exponentSig = INTEGER_BIT;
    setResult(se, sig);
    return;
  }
  if (c == DENORMAL && denormalStops(c, ZERO)) return;
  unpackA(se, sig);
  const e = aExp - BIAS;
  packInteger(e < 0 ? 1 : 0, <u64>(e < 0 ? -e : e));
  exponentSe = resSe;
  exponentSig = resSig;
  setResult((aSign << 15) | <u32>BIAS, aSig);
}
