// The x87 FPU instructions, opcodes D8-DF (SDM vol. 2, appendix A.5 "x87 FPU Instructions",
// tables, and each instruction's page), and FWAIT (9B). Decoding has read the ModRM
// byte and effective address; this file dispatches on (opcode, mod, reg, rm), applies the
// stack-fault checks and the masked/unmasked exception responses (SDM vol. 1, 8.5-8.7), and
// records the last instruction and data pointers. A pending unmasked exception (SW.ES) raises
// #MF at the next waiting instruction when CR0.NE is set; with NE clear the external FERR#/IRQ13
// path is not modelled and execution goes on. The arithmetic is in x87-float80.ts, memory
// formats in x87-convert.ts, state images in x87-env.ts, the D9 F0-FF functions in
// x87-functions.ts.
//
// Encodings: reserved slots raise #UD, as does FISTTP (SSE3, which the core does not report).
// The undocumented aliases processors execute are implemented (FCOM2 DC D0, FCOMP3 DC D8,
// FCOMP5 DE D0, FXCH4 DD C8, FXCH7 DF C8, FSTP1 D9 D8, FSTP8 DF D0, FSTP9 DF D8, FFREEP DF C0),
// and the 8087/287 FNENI, FNDISI and FNSETPM are no-ops, as since the 387. Where the SDM leaves
// a detail open the behaviour is the host processor's, as the differential test finds it: the
// condition codes of a comparison are set even when it raises an unmasked exception, FCOMI and
// FCMOVcc leave C1 alone, FSTP1 with an empty ST(0) just pops.

import { eaOffset, eaSeg, modrmMod, modrmReg, modrmRm, opSize } from "./decode";
import { faulted, MF, NM, raise, UD } from "./fault";
import { condition, setArith } from "./flags";
import { readSeg, writeSeg } from "./memory";
import { CF, cr, PF, setReg16, ZF } from "./state";
import {
  indefiniteBinary, indefiniteInteger, loadBcd, loadedClass, loadExceptions, loadF32, loadF64, loadInteger,
  loadWasDenormal, memHi, memLo, storeBcd, storeF32, storeF64, storeInteger,
} from "./x87-convert";
import { initialize, loadEnvironment, restoreState, saveState, storeEnvironment, writeOperand } from "./x87-env";
import { group6, group7 } from "./x87-functions";
import {
  add, classify, clearExceptions, CMP_EQUAL, CMP_LESS, CMP_UNORDERED, compare, div, EX_IE, EX_OE, EX_UE, exceptions,
  INDEFINITE_SE, INDEFINITE_SIG, INF, markDenormal, mul, NORMAL, precision, QNAN, QUIET_BIT, resSe, resSig, roundPack,
  setControl, setResult, SNAN, UNSUPPORTED, ZERO,
} from "./x87-float80";
import {
  commit, commitKeepC1, cw, isEmpty, physical, pop, push, pushChecked, recordData, recordInstruction, setCC, setCw,
  setPhysTag, setSt, setStResult, setSw, stSe, stSig, STACK_UNDERFLOW, sw, SW_B, SW_C0, SW_C1, SW_C2, SW_C3, SW_ES,
  TAG_EMPTY, underflowInto,
} from "./x87-state";

const CR0_MP: u32 = 1 << 1;
const CR0_EM: u32 = 1 << 2;
const CR0_TS: u32 = 1 << 3;
const CR0_NE: u32 = 1 << 5;
const CC_ALL: u32 = SW_C0 | SW_C2 | SW_C3;

/** Executes x87 opcode `op` (D8-DF) whose ModRM byte and effective address are decoded. */
export function x87(op: u32): void {
  // Emulation or a task switch since the FPU state was last saved: #NM (SDM vol. 3, 2.5).
  if ((cr(0) & (CR0_EM | CR0_TS)) != 0) {
    raise(NM);
    return;
  }
  if (modrmMod == 3) registerForm(op);
  else memoryForm(op);
}

/** FWAIT/WAIT: #NM when CR0.MP and CR0.TS are both set; else raises a pending unmasked x87 exception. */
export function fwait(): void {
  if ((cr(0) & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) {
    raise(NM);
    return;
  }
  pendingCheck();
}

/**
 * The waiting instructions' check: a pending unmasked exception raises #MF (CR0.NE = 1) before
 * the instruction does anything. Returns true when the instruction may go on.
 */
function pendingCheck(): bool {
  if ((sw() & SW_ES) != 0 && (cr(0) & CR0_NE) != 0) {
    raise(MF);
    return false;
  }
  return true;
}

/** Starts a non-control instruction: the rounding context and a clean exception accumulator. */
function begin(): void {
  setControl(cw());
  clearExceptions();
}

// ---- Memory forms ----

/** The memory forms (mod != 3): control instructions, loads, stores and arithmetic. */
function memoryForm(op: u32): void {
  const reg = modrmReg;
  // Control instructions, the reserved slots and FISTTP (SSE3) first: they do not wait.
  switch (op) {
    case 0xd9:
      switch (reg) {
        case 1: raise(UD); return;
        case 4: // FLDENV
          if (pendingCheck()) loadEnvironment(eaSeg, eaOffset, opSize == 4, opSize == 4 ? 28 : 14);
          return;
        case 5: { // FLDCW
          if (!pendingCheck()) return;
          const value = readSeg(eaSeg, eaOffset, 2);
          if (!faulted()) setCw(value);
          return;
        }
        case 6: storeEnvironment(eaSeg, eaOffset, opSize == 4); return; // FNSTENV
        case 7: writeSeg(eaSeg, eaOffset, 2, cw()); return; // FNSTCW
      }
      break;
    case 0xdb:
      if (reg == 1 || reg == 4 || reg == 6) {
        raise(UD);
        return;
      }
      break;
    case 0xdd:
      switch (reg) {
        case 1: case 5: raise(UD); return;
        case 4: if (pendingCheck()) restoreState(eaSeg, eaOffset, opSize == 4); return; // FRSTOR
        case 6: saveState(eaSeg, eaOffset, opSize == 4); return; // FNSAVE
        case 7: writeSeg(eaSeg, eaOffset, 2, sw()); return; // FNSTSW m16
      }
      break;
    case 0xdf:
      if (reg == 1) {
        raise(UD);
        return;
      }
      break;
  }
  if (!pendingCheck()) return;
  begin();
  switch (op) {
    case 0xd8: case 0xda: case 0xdc: case 0xde: arithmeticMemory(op); break;
    case 0xd9:
      if (reg == 0) loadFloat(op, 4);
      else storeFloat(op, 4, reg == 3);
      break;
    case 0xdb:
      switch (reg) {
        case 0: loadInt(op, 4); break;
        case 2: case 3: storeInt(op, 4, reg == 3); break;
        case 5: loadTenBytes(op, false); break;
        default: storeTenBytes(op, false); // 7: FSTP m80fp
      }
      break;
    case 0xdd:
      if (reg == 0) loadFloat(op, 8);
      else storeFloat(op, 8, reg == 3);
      break;
    default: // 0xdf
      switch (reg) {
        case 0: loadInt(op, 2); break;
        case 2: case 3: storeInt(op, 2, reg == 3); break;
        case 4: loadTenBytes(op, true); break;
        case 5: loadInt(op, 8); break;
        case 6: storeTenBytes(op, true); break;
        default: storeInt(op, 8, true); // 7: FISTP m64int
      }
  }
}

/** Records FOP/FIP/FCS and FDP/FDS for a memory-operand instruction. */
function recordMemory(op: u32): void {
  recordInstruction(op);
  recordData();
}

/** An m64 read as hi:lo; faults leave 0. */
function readM64(): u64 {
  const lo = readSeg(eaSeg, eaOffset, 4);
  if (faulted()) return 0;
  return <u64>lo | (<u64>readSeg(eaSeg, eaOffset + 4, 4) << 32);
}

/**
 * Reads an m32fp (`bytes` 4) or m64fp operand into the result by loadF32/loadF64; false when
 * the read faulted.
 */
// @ts-ignore: decorator
@inline function readFloat(bytes: i32): bool {
  if (bytes == 4) {
    const bits = readSeg(eaSeg, eaOffset, 4);
    if (faulted()) return false;
    loadF32(bits);
  } else {
    const bits = readM64();
    if (faulted()) return false;
    loadF64(bits);
  }
  return true;
}

/**
 * D8/DA/DC/DE with a memory operand: m32fp, m32int, m64fp or m16int against ST(0). ModRM reg
 * selects FADD FMUL FCOM FCOMP FSUB FSUBR FDIV FDIVR.
 */
function arithmeticMemory(op: u32): void {
  let denormal = false;
  if (op == 0xd8 || op == 0xdc) {
    if (!readFloat(op == 0xd8 ? 4 : 8)) return;
    denormal = loadWasDenormal();
  } else {
    const size = op == 0xda ? 4 : 2;
    const value = readSeg(eaSeg, eaOffset, size);
    if (faulted()) return;
    loadInteger(size == 4 ? <i64><i32>value : <i64><i16>value);
  }
  recordMemory(op);
  const kind = modrmReg;
  const bSe = resSe;
  const bSig = resSig;
  if (kind == 2 || kind == 3) {
    compareST0(bSe, bSig, denormal, true, kind == 3 ? 1 : 0);
    return;
  }
  if (isEmpty(0)) {
    underflowInto(0, false);
    return;
  }
  if (compute(kind, stSe(0), stSig(0), bSe, bSig, denormal)) setStResult(0);
}

/**
 * Runs arithmetic `kind` (D8's ModRM reg numbering: 0 add, 1 mul, 4 sub, 5 subr, 6 div, 7 divr)
 * on a (the destination) and b (the source) at the precision control's precision, and commits
 * the exceptions. Returns true when the result is to be stored.
 */
function compute(kind: i32, aSe: u32, aSig: u64, bSe: u32, bSig: u64, bDenormal: bool): bool {
  const reversed = kind == 5 || kind == 7;
  if (bDenormal) markDenormal(reversed ? 1 : 2);
  switch (kind) {
    case 0: add(aSe, aSig, bSe, bSig, false, precision); break;
    case 1: mul(aSe, aSig, bSe, bSig, precision); break;
    case 4: add(aSe, aSig, bSe, bSig, true, precision); break;
    case 5: add(bSe, bSig, aSe, aSig, true, precision); break;
    case 6: div(aSe, aSig, bSe, bSig, precision); break;
    default: div(bSe, bSig, aSe, aSig, precision);
  }
  return commit(exceptions);
}

/** The condition codes of a comparison result (SDM vol. 2, FCOM table). */
function compareCodes(result: i32): u32 {
  if (result == CMP_UNORDERED) return CC_ALL;
  if (result == CMP_LESS) return SW_C0;
  return result == CMP_EQUAL ? SW_C3 : 0;
}

/**
 * FCOM/FUCOM family: compares ST(0) with b (`signaling` for FCOM, FICOM, FTST), sets C3 C2 C0,
 * clears C1, and pops `pops` times. An empty ST(0) is a stack underflow (unordered). The
 * condition codes are written even when the comparison raises an unmasked exception, as the
 * processor does; only the pops are held back then.
 */
function compareST0(bSe: u32, bSig: u64, bDenormal: bool, signaling: bool, pops: i32): void {
  let result = CMP_UNORDERED;
  let ex = STACK_UNDERFLOW;
  if (!isEmpty(0)) {
    if (bDenormal) markDenormal(2);
    result = compare(stSe(0), stSig(0), bSe, bSig, signaling);
    ex = exceptions;
  }
  finishCompare(result, ex, pops);
}

/** Sets the condition codes of a comparison, commits its exceptions and pops unless stopped. */
function finishCompare(result: i32, ex: u32, pops: i32): void {
  setCC(CC_ALL, compareCodes(result));
  if (!commit(ex)) return;
  for (let n = 0; n < pops; n++) pop();
}

/** FCOM/FUCOM(P) ST(i) and FCOMPP/FUCOMPP: an empty ST(i) is a stack underflow too. */
function compareRegister(i: i32, signaling: bool, pops: i32): void {
  if (isEmpty(i)) {
    finishCompare(CMP_UNORDERED, STACK_UNDERFLOW, pops);
    return;
  }
  compareST0(stSe(i), stSig(i), false, signaling, pops);
}

/** FCOMI/FUCOMI(P): the comparison into ZF, PF and CF (OF, SF and AF cleared); C1 kept. */
function compareFlags(i: i32, signaling: bool, popAfter: bool): void {
  let result = CMP_UNORDERED;
  let ex = STACK_UNDERFLOW;
  if (!isEmpty(0) && !isEmpty(i)) {
    result = compare(stSe(0), stSig(0), stSe(i), stSig(i), signaling);
    ex = exceptions;
  }
  let value: u32 = 0;
  if (result == CMP_UNORDERED) value = ZF | PF | CF;
  else if (result == CMP_LESS) value = CF;
  else if (result == CMP_EQUAL) value = ZF;
  setArith(value);
  if (commitKeepC1(ex) && popAfter) pop();
}

/** FLD m32fp/m64fp: SNaNs are quieted (IE), denormals raise DE. */
function loadFloat(op: u32, bytes: i32): void {
  if (!readFloat(bytes)) return;
  recordMemory(op);
  // An SNaN loads quieted with IE; a denormal loads normalized with DE, which does not stop
  // the load even when unmasked.
  const quiet = loadedClass() == SNAN ? QUIET_BIT : 0;
  const se = resSe;
  const sig = resSig | quiet;
  if (!isEmpty(7)) {
    pushChecked(se, sig, 0);
    return;
  }
  commit(loadExceptions);
  if ((loadExceptions & ~cw() & EX_IE) == 0) push(se, sig);
}

/** FILD m16int/m32int/m64int. */
function loadInt(op: u32, bytes: i32): void {
  let value: i64;
  if (bytes == 8) {
    value = <i64>readM64();
  } else {
    const raw = readSeg(eaSeg, eaOffset, bytes);
    value = bytes == 4 ? <i64><i32>raw : <i64><i16>raw;
  }
  if (faulted()) return;
  recordMemory(op);
  loadInteger(value);
  pushChecked(resSe, resSig, 0);
}

/** FLD m80fp (loaded as is, whatever the encoding) or FBLD m80bcd (`bcd`). */
function loadTenBytes(op: u32, bcd: bool): void {
  const lo = readM64();
  if (faulted()) return;
  const hi = readSeg(eaSeg, eaOffset + 8, 2);
  if (faulted()) return;
  recordMemory(op);
  if (bcd) loadBcd(lo, hi);
  else setResult(hi, lo);
  pushChecked(resSe, resSig, 0);
}

/**
 * Finishes a store of ST(0) to memory: `blocked` (an unmasked exception) writes nothing and
 * keeps the stack; otherwise the image is written (a fault undoes the instruction) and the stack
 * pops when asked.
 */
function finishStore(op: u32, bytes: i32, lo: u64, hi: u32, ex: u32, blocked: bool, popAfter: bool): void {
  if (!blocked) {
    writeOperand(eaSeg, eaOffset, bytes, lo, hi);
    if (faulted()) return;
  }
  recordMemory(op);
  commit(ex);
  if (!blocked && popAfter) pop();
}

/** Unmasked exceptions that stop a store to memory: invalid, overflow, underflow. */
function storeBlocked(ex: u32): bool {
  return (ex & ~cw() & (EX_IE | EX_OE | EX_UE)) != 0;
}

/** FST/FSTP m32fp/m64fp. */
function storeFloat(op: u32, bytes: i32, popAfter: bool): void {
  if (isEmpty(0)) {
    finishStore(op, bytes, indefiniteBinary(bytes), 0, STACK_UNDERFLOW, storeBlocked(STACK_UNDERFLOW), popAfter);
    return;
  }
  if (bytes == 4) storeF32(stSe(0), stSig(0));
  else storeF64(stSe(0), stSig(0));
  finishStore(op, bytes, memLo, 0, exceptions, storeBlocked(exceptions), popAfter);
}

/** FIST/FISTP m16int/m32int/m64int. */
function storeInt(op: u32, bytes: i32, popAfter: bool): void {
  if (isEmpty(0)) {
    finishStore(op, bytes, indefiniteInteger(bytes), 0, STACK_UNDERFLOW, storeBlocked(STACK_UNDERFLOW), popAfter);
    return;
  }
  storeInteger(stSe(0), stSig(0), bytes);
  finishStore(op, bytes, memLo, 0, exceptions, storeBlocked(exceptions), popAfter);
}

/** FSTP m80fp (stored as is) or FBSTP m80bcd (`bcd`). */
function storeTenBytes(op: u32, bcd: bool): void {
  if (isEmpty(0)) {
    // The QNaN indefinite's image is also the packed BCD indefinite (SDM vol. 1, 4.7).
    finishStore(op, 10, INDEFINITE_SIG, INDEFINITE_SE, STACK_UNDERFLOW, storeBlocked(STACK_UNDERFLOW), true);
    return;
  }
  if (!bcd) {
    finishStore(op, 10, stSig(0), stSe(0), 0, false, true);
    return;
  }
  storeBcd(stSe(0), stSig(0));
  finishStore(op, 10, memLo, memHi, exceptions, storeBlocked(exceptions), true);
}

// ---- Register forms ----

/** Reserved register-form encodings (#UD). */
function reservedRegister(op: u32, reg: i32, rm: i32): bool {
  switch (op) {
    case 0xd9:
      return (reg == 2 && rm != 0) || (reg == 4 && (rm == 2 || rm == 3 || rm >= 6)) || (reg == 5 && rm == 7);
    case 0xda: return reg >= 6 || reg == 4 || (reg == 5 && rm != 1);
    case 0xdb: return reg == 7 || (reg == 4 && rm >= 5);
    case 0xdd: return reg >= 6;
    case 0xde: return reg == 3 && rm != 1;
    case 0xdf: return reg == 7 || (reg == 4 && rm != 0);
    default: return false;
  }
}

/** The register forms (mod == 3). */
function registerForm(op: u32): void {
  const reg = modrmReg;
  const i = modrmRm;
  if (reservedRegister(op, reg, i)) {
    raise(UD);
    return;
  }
  // The no-wait control instructions.
  if (op == 0xdb && reg == 4) {
    if (i == 2) setSw(sw() & ~(0x7f | SW_ES | SW_B)); // FNCLEX
    else if (i == 3) initialize(); // FNINIT
    return; // FNENI, FNDISI, FNSETPM: no-ops since the 387
  }
  if (op == 0xdf && reg == 4) {
    setReg16(0, sw()); // FNSTSW AX
    return;
  }
  if (!pendingCheck()) return;
  begin();
  recordInstruction(op);
  switch (op) {
    case 0xd8:
      if (reg == 2 || reg == 3) compareRegister(i, true, reg == 3 ? 1 : 0);
      else arithmeticRegister(reg, 0, i, false);
      break;
    case 0xd9: groupD9(reg, i); break;
    case 0xda:
      if (reg == 5) compareRegister(1, false, 2); // FUCOMPP
      else conditionalMove(reg, i, false);
      break;
    case 0xdb:
      if (reg < 4) conditionalMove(reg, i, true);
      else compareFlags(i, reg == 6, false); // FUCOMI (5), FCOMI (6)
      break;
    case 0xdc:
      if (reg == 2 || reg == 3) compareRegister(i, true, reg == 3 ? 1 : 0); // FCOM2, FCOMP3
      else arithmeticRegister(reg >= 4 ? reg ^ 1 : reg, i, 0, false);
      break;
    case 0xdd:
      switch (reg) {
        case 0: setPhysTag(physical(i), TAG_EMPTY); commit(0); break; // FFREE
        case 1: exchange(i); break; // FXCH4
        case 2: storeRegister(i, false); break;
        case 3: storeRegister(i, true); break;
        default: compareRegister(i, false, reg == 5 ? 1 : 0); // FUCOM, FUCOMP
      }
      break;
    case 0xde:
      if (reg == 2) compareRegister(i, true, 1); // FCOMP5
      else if (reg == 3) compareRegister(1, true, 2); // FCOMPP
      else arithmeticRegister(reg >= 4 ? reg ^ 1 : reg, i, 0, true);
      break;
    default: // 0xdf
      switch (reg) {
        case 0: setPhysTag(physical(i), TAG_EMPTY); commit(0); pop(); break; // FFREEP
        case 1: exchange(i); break; // FXCH7
        case 2: case 3: storeRegister(i, true); break; // FSTP8, FSTP9
        default: compareFlags(i, reg == 6, true); // FUCOMIP (5), FCOMIP (6)
      }
  }
}

/** FADD/FMUL/FSUB(R)/FDIV(R) with register operands, ST(dst) = ST(dst) op ST(src). */
function arithmeticRegister(kind: i32, dst: i32, src: i32, popAfter: bool): void {
  if (isEmpty(dst) || isEmpty(src)) {
    underflowInto(dst, popAfter);
    return;
  }
  if (!compute(kind, stSe(dst), stSig(dst), stSe(src), stSig(src), false)) return;
  setStResult(dst);
  if (popAfter) pop();
}

/** FCMOVcc: DA /0-3 are B, E, BE, U; DB /0-3 their negations. */
function conditionalMove(reg: i32, i: i32, negated: bool): void {
  if (isEmpty(0) || isEmpty(i)) {
    underflowInto(0, false);
    return;
  }
  const codes: i32 = reg == 0 ? 2 : reg == 1 ? 4 : reg == 2 ? 6 : 10; // B E BE P
  if (condition(negated ? codes | 1 : codes)) setSt(0, stSe(i), stSig(i));
}

/** FXCH ST(i): masked underflow turns the empty ones into the indefinite first. */
function exchange(i: i32): void {
  const empty0 = isEmpty(0);
  const emptyI = isEmpty(i);
  if (empty0 || emptyI) {
    if (!commit(STACK_UNDERFLOW)) return;
    if (empty0) setSt(0, INDEFINITE_SE, INDEFINITE_SIG);
    if (emptyI) setSt(i, INDEFINITE_SE, INDEFINITE_SIG);
  } else {
    commit(0);
  }
  const se = stSe(0);
  const sig = stSig(0);
  setSt(0, stSe(i), stSig(i));
  setSt(i, se, sig);
}

/** FST/FSTP ST(i). */
function storeRegister(i: i32, popAfter: bool): void {
  if (isEmpty(0)) {
    underflowInto(i, popAfter);
    return;
  }
  commit(0);
  setSt(i, stSe(0), stSig(0));
  if (popAfter) pop();
}

/** D9 with a register operand: FLD ST(i), FXCH, FNOP, FSTP1, and the no-operand group. */
function groupD9(reg: i32, i: i32): void {
  switch (reg) {
    case 0: // FLD ST(i): an empty source is an underflow, whatever ST(7) holds
      if (!isEmpty(i)) pushChecked(stSe(i), stSig(i), 0);
      else if (commit(STACK_UNDERFLOW)) push(INDEFINITE_SE, INDEFINITE_SIG);
      return;
    case 1: exchange(i); return;
    case 2: return; // FNOP
    case 3: // FSTP1: this alias stores nothing and signals nothing when ST(0) is empty
      if (isEmpty(0)) {
        commit(0);
        pop();
      } else {
        storeRegister(i, true);
      }
      return;
    case 4: unaryGroup(i); return;
    case 5: loadConstant(i); return;
    case 6: group6(i); return;
    default: group7(i);
  }
}

/** D9 E0-E5: FCHS FABS FTST FXAM. */
function unaryGroup(i: i32): void {
  if (i == 5) {
    examine();
    return;
  }
  if (i == 4) {
    compareST0(0, 0, false, true, 0); // FTST: against +0.0
    return;
  }
  if (isEmpty(0)) {
    underflowInto(0, false);
    return;
  }
  commit(0);
  const se = stSe(0);
  setSt(0, i == 0 ? se ^ 0x8000 : se & 0x7fff, stSig(0));
}

/** FXAM: C1 = sign, C3 C2 C0 = class (SDM vol. 2, FXAM table). */
function examine(): void {
  const se = stSe(0);
  let codes: u32;
  if (isEmpty(0)) {
    codes = SW_C3 | SW_C0;
  } else {
    switch (classify(se, stSig(0))) {
      case UNSUPPORTED: codes = 0; break;
      case QNAN: case SNAN: codes = SW_C0; break;
      case NORMAL: codes = SW_C2; break;
      case INF: codes = SW_C2 | SW_C0; break;
      case ZERO: codes = SW_C3; break;
      default: codes = SW_C3 | SW_C2; // DENORMAL
    }
  }
  setCC(CC_ALL | SW_C1, codes | ((se & 0x8000) != 0 ? SW_C1 : 0));
}

// FLD1 FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2 FLDZ: the significands, and the 64 bits below each.
// The SDM (vol. 1, 8.3.8) describes 66-bit internal constants rounded by RC; processors round
// as if from the exact value (FLDLG2 rounds up to ...F799 to nearest, where a 66-bit
// ...F798|10 would tie to even), which these bits reproduce.
const CONSTANT_SIG: StaticArray<u64> = [
  0x8000000000000000, 0xd49a784bcd1b8afe, 0xb8aa3b295c17f0bb, 0xc90fdaa22168c234, 0x9a209a84fbcff798,
  0xb17217f7d1cf79ab, 0,
];
const CONSTANT_EXTRA: StaticArray<u64> = [
  0, 0x492bf6ff4dafdb4c, 0xbe87fed0691d3e88, 0xc4c6628b80dc1cd1, 0x8f8959ac0b7c9178, 0xc9e3b39803f2f6af, 0,
];
const CONSTANT_SE: StaticArray<u16> = [0x3fff, 0x4000, 0x3fff, 0x4000, 0x3ffd, 0x3ffe, 0];

/** D9 E8-EE: pushes a constant rounded by the rounding mode. */
function loadConstant(i: i32): void {
  const sig = unchecked(CONSTANT_SIG[i]);
  const extra = unchecked(CONSTANT_EXTRA[i]);
  const se = <u32>unchecked(CONSTANT_SE[i]);
  if (sig == 0) {
    pushChecked(0, 0, 0);
    return;
  }
  roundPack(0, <i32>se, sig, extra, 64);
  pushChecked(resSe, resSig, 0);
}
