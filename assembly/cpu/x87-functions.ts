// The x87 arithmetic functions without explicit operands, D9 F0-FF (SDM vol. 2, appendix A.5,
// table A-10, and each instruction's page): F2XM1 FYL2X FPTAN FPATAN FXTRACT FPREM1 FDECSTP
// FINCSTP FPREM FYL2XP1 FSQRT FSINCOS FRNDINT FSCALE FSIN FCOS. This file applies their stack
// checks and sets the condition codes the SDM gives them (C2 for the trigonometric range and
// partial remainders, the quotient bits in C0 C3 C1); the values come from x87-float80.ts,
// x87-exponent.ts and x87-transcendental.ts.

import { exponentSe, exponentSig, extract, incomplete, quotientBits, remainder, scale } from "./x87-exponent";
import {
  classify, EX_IE, exceptions, INDEFINITE_SE, INDEFINITE_SIG, INTEGER_BIT, isNaNClass, precision, resSe, resSig,
  roundInt, sqrt,
} from "./x87-float80";
import {
  commit, isEmpty, pop, push, setCC, setSt, setStResult, setTop, stSe, stSig, STACK_OVERFLOW, STACK_UNDERFLOW, SW_C0,
  SW_C1, SW_C2, SW_C3, top, underflowInto,
} from "./x87-state";
import {
  cosineSe, cosineSig, logarithm, partialArctangent, power2, sineCosine, sineOrCosine, tangent,
} from "./x87-transcendental";

const CC_ALL: u32 = SW_C0 | SW_C2 | SW_C3;

/** D9 F0-F7: F2XM1 FYL2X FPTAN FPATAN FXTRACT FPREM1 FDECSTP FINCSTP. */
export function group6(i: i32): void {
  switch (i) {
    case 0: unaryOperation(0); return;
    case 1: binaryOperation(0); return;
    case 2: trigPush(true); return;
    case 3: binaryOperation(1); return;
    case 4: extractPush(); return;
    case 5: partialRemainder(true); return;
    case 6: commit(0); setTop(top() - 1); return; // FDECSTP
    default: commit(0); setTop(top() + 1); // FINCSTP
  }
}

/** D9 F8-FF: FPREM FYL2XP1 FSQRT FSINCOS FRNDINT FSCALE FSIN FCOS. */
export function group7(i: i32): void {
  switch (i) {
    case 0: partialRemainder(false); return;
    case 1: binaryOperation(2); return;
    case 2: unaryOperation(1); return;
    case 3: trigPush(false); return;
    case 4: unaryOperation(2); return;
    case 5: binaryOperation(3); return;
    case 6: unaryOperation(3); return;
    default: unaryOperation(4);
  }
}

/**
 * ST(0) = f(ST(0)) for F2XM1 (0), FSQRT (1), FRNDINT (2), FSIN (3), FCOS (4). FSIN and FCOS
 * leave an operand beyond 2^63 unchanged with C2 set.
 */
function unaryOperation(which: i32): void {
  if (isEmpty(0)) {
    if (which >= 3) setCC(SW_C2, 0);
    underflowInto(0, false);
    return;
  }
  const se = stSe(0);
  const sig = stSig(0);
  let outOfRange = false;
  switch (which) {
    case 0: power2(se, sig); break;
    case 1: sqrt(se, sig, precision); break;
    case 2: roundInt(se, sig); break;
    default: outOfRange = !sineOrCosine(se, sig, which == 4);
  }
  if (outOfRange) {
    commit(0);
    setCC(SW_C2, SW_C2);
    return;
  }
  if (which >= 3) setCC(SW_C2, 0);
  if (commit(exceptions)) setStResult(0);
}

/**
 * ST(1) = f(ST(1), ST(0)), then pop: FYL2X (0), FPATAN (1), FYL2XP1 (2); FSCALE (3) writes
 * ST(0) = ST(0) * 2^trunc(ST(1)) and does not pop.
 */
function binaryOperation(which: i32): void {
  const dst = which == 3 ? 0 : 1;
  if (isEmpty(0) || isEmpty(1)) {
    underflowInto(dst, which != 3);
    return;
  }
  const xSe = stSe(0);
  const xSig = stSig(0);
  const ySe = stSe(1);
  const ySig = stSig(1);
  switch (which) {
    case 0: logarithm(ySe, ySig, xSe, xSig, false); break;
    case 1: partialArctangent(ySe, ySig, xSe, xSig); break;
    case 2: logarithm(ySe, ySig, xSe, xSig, true); break;
    default: scale(xSe, xSig, ySe, ySig);
  }
  if (!commit(exceptions)) return;
  setStResult(dst);
  if (which != 3) pop();
}

/**
 * FPREM/FPREM1: ST(0) = remainder of ST(0) / ST(1). A complete reduction clears C2 and puts
 * the quotient's low bits in C0 C3 C1 (Q2 Q1 Q0); a partial one sets C2 and clears them. A NaN
 * or invalid result, or a stack underflow, clears C2 and C1 and leaves C3 and C0.
 */
function partialRemainder(nearest: bool): void {
  setCC(SW_C2, 0);
  if (isEmpty(0) || isEmpty(1)) {
    underflowInto(0, false);
    return;
  }
  const aSe = stSe(0);
  const aSig = stSig(0);
  const bSe = stSe(1);
  const bSig = stSig(1);
  remainder(aSe, aSig, bSe, bSig, nearest);
  const special = isNaNClass(classify(aSe, aSig)) || isNaNClass(classify(bSe, bSig)) || (exceptions & EX_IE) != 0;
  if (special) {
    if (commit(exceptions)) setStResult(0);
    return;
  }
  if (!commit(exceptions)) return;
  const q = quotientBits;
  let codes: u32 = 0;
  if (incomplete) codes = SW_C2;
  else {
    if ((q & 4) != 0) codes |= SW_C0;
    if ((q & 2) != 0) codes |= SW_C3;
    if ((q & 1) != 0) codes |= SW_C1;
  }
  setCC(CC_ALL | SW_C1, codes);
  setStResult(0);
}

/**
 * The stack faults of an instruction that replaces ST(0) and pushes (FXTRACT, FPTAN, FSINCOS):
 * an empty ST(0) or a full ST(7). The masked response leaves the indefinite in both. Returns
 * true when there was a fault.
 */
function stackFaultBeforePush(): bool {
  const underflow = isEmpty(0);
  if (!underflow && isEmpty(7)) return false;
  if (!commit(underflow ? STACK_UNDERFLOW : STACK_OVERFLOW)) return true;
  setSt(0, INDEFINITE_SE, INDEFINITE_SIG);
  push(INDEFINITE_SE, INDEFINITE_SIG);
  return true;
}

/** FXTRACT: ST(0) = exponent, then push the significand. */
function extractPush(): void {
  if (stackFaultBeforePush()) return;
  extract(stSe(0), stSig(0));
  if (!commit(exceptions)) return;
  setSt(0, exponentSe, exponentSig);
  push(resSe, resSig);
}

/**
 * FPTAN (`tan`): ST(0) = tan(ST(0)), then push 1.0; FSINCOS: ST(0) = sin(ST(0)), then push
 * cos. Beyond 2^63, C2 set and nothing changes. A stack fault clears C2.
 */
function trigPush(tan: bool): void {
  if (isEmpty(0) || !isEmpty(7)) {
    setCC(SW_C2, 0);
    stackFaultBeforePush();
    return;
  }
  const inRange = tan ? tangent(stSe(0), stSig(0)) : sineCosine(stSe(0), stSig(0));
  if (!inRange) {
    commit(0);
    setCC(SW_C2, SW_C2);
    return;
  }
  setCC(SW_C2, 0);
  if (!commit(exceptions)) return;
  let pushSe = cosineSe;
  let pushSig = cosineSig;
  if (tan) {
    // A NaN result (a NaN or invalid operand) is pushed in place of 1.0.
    const nan = isNaNClass(classify(resSe, resSig));
    pushSe = nan ? resSe : 0x3fff;
    pushSig = nan ? resSig : INTEGER_BIT;
  }
  setStResult(0);
  push(pushSe, pushSig);
}
