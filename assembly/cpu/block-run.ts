// Executes a decoded block (blocks.ts): its records one after another through a dense switch,
// with EIP kept in a local until the block ends. Each record does what the interpreter's handler
// for its instruction does, through the same helpers (alu.ts, flags.ts, memory.ts, stack.ts). A
// record that faults (an x87 one included: K_X87 calls the x87 unit with the record's operands)
// is ended by the interpreter's own exception path, at its own EIP; a record that stores into a
// page holding blocks, reaches a device, or whose store gives the acceptance point something to
// look at, ends the block after it; K_STEP hands its instruction to step().

import { EXIT_HLT, EXIT_NONE } from "../abi/layout";
import { alu, dec, imul, inc, neg, shift } from "./alu";
import {
  B_COUNT, B_RECORDS, K_ALU_MI, K_ALU_MR, K_ALU_RI, K_ALU_RI32, K_ALU_RM, K_ALU_RR, K_ALU_RR32, K_CALL, K_CMOV_RM, K_CMOV_RR,
  K_CONVERT, K_CONVERT_WIDE, K_DEC, K_DEC32, K_IMUL_RM, K_IMUL_RR, K_IMUL_RRI, K_INC, K_INC32, K_INTERPRET,
  K_JCC, K_JMP, K_LEA, K_MOV_MI, K_MOV_MR, K_MOV_RI, K_MOV_RM, K_MOV_RR, K_MOV_RR32, K_MOVX_RM, K_MOVX_RR,
  K_NEG, K_NOP, K_NOT, K_POP_R, K_PUSH_I, K_PUSH_R, K_RET, K_SETCC, K_SHIFT_RC, K_SHIFT_RI, K_STEP, K_X87,
  ADDR16, MOVX_SIGNED, NO_REG, R_A, R_B, R_BASE, R_DISP, R_IMM, R_INDEX, R_KIND, R_LEN, R_OP, R_SIZE,
  RECORD_SIZE,
} from "../abi/block-records";
import { clearCodeChanged, codeChanged } from "./blocks";
import { setX87Operands } from "./decode";
import { unfinished } from "./exit";
import { faulted } from "./fault";
import { condition, LAZY_DEC, LAZY_INC, setLazy } from "./flags";
import { blockFault, eventCheck, step } from "./interp";
import { codePage, readSeg, writeSeg } from "./memory";
import { pop, push, setStackPointer, stackOffset } from "./stack";
import {
  beginInstructionAt, csBase, csBig, csLimit, EAX, ECX, EDX, eip, getReg, reg16, reg32, reg8, setEip, setReg,
  setReg16, setReg32,
} from "./state";
import { x87 } from "./x87";

/** Instructions the last runBlock() retired (as run() counts them). */
export let blockRetired: i32 = 0;

/** The offset of a record's memory operand. */
// @ts-ignore: decorator
@inline function effectiveAddress(rec: usize): u32 {
  const base = <u32>load<u8>(rec, R_BASE);
  const index = <u32>load<u8>(rec, R_INDEX);
  let offset = load<u32>(rec, R_DISP);
  if ((base & NO_REG) == 0) offset += reg32(<i32>(base & 7));
  if ((index & NO_REG) == 0) offset += reg32(<i32>(index & 7)) << ((index >> 4) & 3);
  return (index & ADDR16) != 0 ? offset & 0xffff : offset;
}

// @ts-ignore: decorator
@inline function segmentOf(rec: usize): i32 {
  return <i32>(load<u8>(rec, R_BASE) >> 4);
}

/** A near branch target at the operand size. */
// @ts-ignore: decorator
@inline function target(to: u32, size: i32): u32 {
  return size == 4 ? to : to & 0xffff;
}

/** The instruction record `i` of the block faulted: delivers it as step() would. */
export function faultAt(i: i32): i32 {
  blockRetired = i;
  const exit = blockFault();
  if (exit == EXIT_NONE) blockRetired++;
  return exit;
}

/** Runs the interpreter for the instruction at `at`, the block's last (record `i`). */
function stepAt(i: i32, at: u32): i32 {
  setEip(at);
  const exit = step();
  blockRetired = i + (exit == EXIT_HLT || (exit == EXIT_NONE && !unfinished) ? 1 : 0);
  return exit;
}

/**
 * Runs the interpreter for record `i`'s instruction at `at`; returns -1 when the block may go on
 * at `next`, else the exit reason (blockRetired set): the instruction stopped the vCPU, moved
 * elsewhere (a fault delivered), or changed what the block's decoding and checks relied on.
 */
function interpretAt(i: i32, at: u32, next: u32, big: bool): i32 {
  const page = codePage;
  const base = csBase;
  const limit = csLimit;
  setEip(at);
  const exit = step();
  if (exit == EXIT_NONE && !unfinished && eip == next && codePage == page && csBase == base && csLimit == limit &&
    csBig == big && !eventCheck && !codeChanged) return -1;
  blockRetired = i + (exit == EXIT_HLT || (exit == EXIT_NONE && !unfinished) ? 1 : 0);
  return exit;
}

/**
 * Runs `block` from EIP (in code of the size `big` says); returns EXIT_NONE, or why the vCPU
 * stops. Sets blockRetired.
 */
export function runBlock(block: usize, big: bool): i32 {
  clearCodeChanged();
  return runRecords(block, 0, eip, big);
}

/** Runs `block`'s records from number `from` on, the first at `pc`; as runBlock(). */
export function runRecords(block: usize, from: i32, pc: u32, big: bool): i32 {
  const count = <i32>load<u16>(block + B_COUNT);
  let rec = block + B_RECORDS + <usize>from * RECORD_SIZE;
  for (let i = from; i < count; i++, rec += RECORD_SIZE) {
    const start = pc;
    pc += <u32>load<u8>(rec, R_LEN);
    const result = runRecord(rec, i, start, pc, big);
    if (result == BRANCH) pc = branchTarget;
    else if (result != NEXT) return result;
  }
  blockRetired = count;
  setEip(big ? pc : pc & 0xffff);
  return EXIT_NONE;
}

/**
 * Runs record `i` of `block`, at `start` in 32-bit code, for a compiled block (jit.ts): one that
 * is neither the block's last nor a branch. Returns NEXT, or the exit that ends the block.
 */
export function runMiddleRecord(block: usize, i: i32, start: u32): i32 {
  const rec = block + B_RECORDS + <usize>i * RECORD_SIZE;
  return runRecord(rec, i, start, start + <u32>load<u8>(rec, R_LEN), true);
}

/** runRecord(): the block goes on after the record. */
export const NEXT: i32 = -1;
/** runRecord(): the block goes on at branchTarget (JMP, CALL, RET). */
const BRANCH: i32 = -2;
let branchTarget: u32 = 0;

/**
 * Runs the record at `rec`, number `i` of its block, for the instruction from `start` to `pc`:
 * returns NEXT or BRANCH, or the exit that ends the block (blockRetired and EIP set).
 */
// @ts-ignore: decorator
@inline function runRecord(rec: usize, i: i32, start: u32, pc: u32, big: bool): i32 {
  const a = <i32>load<u8>(rec, R_A);
  const size = <i32>load<u8>(rec, R_SIZE);
  const op = <i32>load<u8>(rec, R_OP);
  switch (<i32>load<u8>(rec, R_KIND)) {
    case K_STEP:
      return stepAt(i, start);
    case K_ALU_RR: {
      const res = alu(op & 7, getReg(a, size), getReg(<i32>load<u8>(rec, R_B), size), size);
      if (op < 7) setReg(a, size, res); // not CMP, not TEST
      break;
    }
    case K_ALU_RI: {
      const res = alu(op & 7, getReg(a, size), load<u32>(rec, R_IMM), size);
      if (op < 7) setReg(a, size, res);
      break;
    }
    case K_ALU_RM: {
      beginInstructionAt(start);
      const src = readSeg(segmentOf(rec), effectiveAddress(rec), size);
      if (faulted()) return faultAt(i);
      const res = alu(op & 7, getReg(a, size), src, size);
      if (op < 7) setReg(a, size, res);
      if (codeChanged) return leave(i, pc, big);
      break;
    }
    case K_ALU_MR: case K_ALU_MI: {
      beginInstructionAt(start);
      const seg = segmentOf(rec);
      const offset = effectiveAddress(rec);
      const dst = readSeg(seg, offset, size);
      if (faulted()) return faultAt(i);
      const src = load<u8>(rec, R_KIND) == K_ALU_MR ? getReg(<i32>load<u8>(rec, R_B), size) : load<u32>(rec, R_IMM);
      const res = alu(op & 7, dst, src, size);
      if (op < 7) {
        writeSeg(seg, offset, size, res);
        if (faulted()) return faultAt(i);
      }
      if (codeChanged || eventCheck) return leave(i, pc, big);
      break;
    }
    case K_MOV_RR:
      setReg(a, size, getReg(<i32>load<u8>(rec, R_B), size));
      break;
    case K_MOV_RI:
      setReg(a, size, load<u32>(rec, R_IMM));
      break;
    case K_MOV_RM: {
      beginInstructionAt(start);
      const value = readSeg(segmentOf(rec), effectiveAddress(rec), size);
      if (faulted()) return faultAt(i);
      setReg(a, size, value);
      if (codeChanged) return leave(i, pc, big);
      break;
    }
    case K_MOV_MR: case K_MOV_MI: {
      beginInstructionAt(start);
      const value = load<u8>(rec, R_KIND) == K_MOV_MR ? getReg(<i32>load<u8>(rec, R_B), size) : load<u32>(rec, R_IMM);
      writeSeg(segmentOf(rec), effectiveAddress(rec), size, value);
      if (faulted()) return faultAt(i);
      if (codeChanged || eventCheck) return leave(i, pc, big);
      break;
    }
    case K_LEA:
      setReg(a, size, effectiveAddress(rec));
      break;
    case K_INC:
      setReg(a, size, inc(getReg(a, size), size));
      break;
    case K_DEC:
      setReg(a, size, dec(getReg(a, size), size));
      break;
    case K_NOT:
      setReg(a, size, ~getReg(a, size));
      break;
    case K_NEG:
      setReg(a, size, neg(getReg(a, size), size));
      break;
    case K_SHIFT_RI:
      setReg(a, size, shift(op, getReg(a, size), load<u32>(rec, R_IMM) & 31, size));
      break;
    case K_SHIFT_RC:
      setReg(a, size, shift(op, getReg(a, size), reg8(ECX) & 31, size));
      break;
    case K_IMUL_RR:
      setReg(a, size, <u32>imul(getReg(a, size), getReg(<i32>load<u8>(rec, R_B), size), size));
      break;
    case K_IMUL_RM: {
      beginInstructionAt(start);
      const src = readSeg(segmentOf(rec), effectiveAddress(rec), size);
      if (faulted()) return faultAt(i);
      setReg(a, size, <u32>imul(getReg(a, size), src, size));
      if (codeChanged) return leave(i, pc, big);
      break;
    }
    case K_IMUL_RRI:
      setReg(a, size, <u32>imul(getReg(<i32>load<u8>(rec, R_B), size), load<u32>(rec, R_IMM), size));
      break;
    case K_MOVX_RR:
      setReg(a, size, extend(getReg(<i32>load<u8>(rec, R_B), op & 7), op));
      break;
    case K_MOVX_RM: {
      beginInstructionAt(start);
      const value = readSeg(segmentOf(rec), effectiveAddress(rec), op & 7);
      if (faulted()) return faultAt(i);
      setReg(a, size, extend(value, op));
      if (codeChanged) return leave(i, pc, big);
      break;
    }
    case K_CMOV_RR:
      if (condition(op)) setReg(a, size, getReg(<i32>load<u8>(rec, R_B), size));
      break;
    case K_CMOV_RM: {
      // The source is read (and may fault) whatever the condition.
      beginInstructionAt(start);
      const value = readSeg(segmentOf(rec), effectiveAddress(rec), size);
      if (faulted()) return faultAt(i);
      if (condition(op)) setReg(a, size, value);
      if (codeChanged) return leave(i, pc, big);
      break;
    }
    case K_SETCC:
      setReg(a, 1, condition(op) ? 1 : 0);
      break;
    case K_PUSH_R: case K_PUSH_I: {
      beginInstructionAt(start);
      push(load<u8>(rec, R_KIND) == K_PUSH_R ? getReg(a, size) : load<u32>(rec, R_IMM), size);
      if (faulted()) return faultAt(i);
      if (codeChanged || eventCheck) return leave(i, pc, big);
      break;
    }
    case K_POP_R: {
      beginInstructionAt(start);
      const value = pop(size);
      if (faulted()) return faultAt(i);
      setReg(a, size, value);
      if (codeChanged) return leave(i, pc, big);
      break;
    }
    case K_CONVERT: // CBW / CWDE
      if (size == 2) setReg16(EAX, <u32><i32><i8>reg8(EAX));
      else setReg32(EAX, <u32><i32><i16>reg16(EAX));
      break;
    case K_CONVERT_WIDE: // CWD / CDQ
      if (size == 2) setReg16(EDX, (reg16(EAX) & 0x8000) != 0 ? 0xffff : 0);
      else setReg32(EDX, <u32>(<i32>reg32(EAX) >> 31));
      break;
    case K_NOP:
      break;
    case K_X87: {
      beginInstructionAt(start);
      const modrm = <u32>load<u8>(rec, R_B);
      setX87Operands(modrm, segmentOf(rec), modrm < 0xc0 ? effectiveAddress(rec) : 0, size);
      x87(0xd8 | <u32>op);
      if (faulted()) return faultAt(i);
      if (codeChanged || eventCheck) return leave(i, pc, big);
      break;
    }
    case K_INTERPRET: {
      const exit = interpretAt(i, start, pc, big);
      if (exit >= 0) return exit;
      break;
    }
    case K_ALU_RR32: {
      const res = alu(op & 7, reg32(a), reg32(<i32>load<u8>(rec, R_B)), 4);
      if (op < 7) setReg32(a, res);
      break;
    }
    case K_ALU_RI32: {
      const res = alu(op & 7, reg32(a), load<u32>(rec, R_IMM), 4);
      if (op < 7) setReg32(a, res);
      break;
    }
    case K_MOV_RR32:
      setReg32(a, reg32(<i32>load<u8>(rec, R_B)));
      break;
    case K_INC32: { // inc() and dec() inlined: the hottest loop counters
      const value = reg32(a);
      setLazy(LAZY_INC, value, 1, value + 1, 4);
      setReg32(a, value + 1);
      break;
    }
    case K_DEC32: {
      const value = reg32(a);
      setLazy(LAZY_DEC, value, 1, value - 1, 4);
      setReg32(a, value - 1);
      break;
    }
    case K_JCC:
      if (condition(op)) return leave(i, target(pc + load<u32>(rec, R_IMM), size), big);
      break;
    case K_JMP:
      branchTarget = target(pc + load<u32>(rec, R_IMM), size);
      return BRANCH;
    case K_CALL: {
      beginInstructionAt(start);
      push(pc, size);
      if (faulted()) return faultAt(i);
      branchTarget = target(pc + load<u32>(rec, R_IMM), size);
      if (codeChanged || eventCheck) return leave(i, branchTarget, big);
      return BRANCH;
    }
    case K_RET: {
      beginInstructionAt(start);
      const to = pop(size);
      if (faulted()) return faultAt(i);
      setStackPointer(stackOffset(load<u32>(rec, R_IMM)));
      branchTarget = target(to, size);
      return BRANCH;
    }
  }
  return NEXT;
}

/**
 * Ends the block after record `i` at `pc`: a conditional jump was taken, a store changed cached
 * code, an access reached a device (which may have written code), or a store reached the local
 * APIC (EOI, TPR) so that the acceptance point has to look before the next instruction.
 */
export function leave(i: i32, pc: u32, big: bool): i32 {
  blockRetired = i + 1;
  setEip(big ? pc : pc & 0xffff);
  return EXIT_NONE;
}

/** MOVZX/MOVSX: `value` of the source size in `how` (1 or 2), extended as `how` says. */
// @ts-ignore: decorator
@inline function extend(value: u32, how: i32): u32 {
  if ((how & MOVX_SIGNED) == 0) return value;
  return (how & 7) == 1 ? <u32><i32><i8>value : <u32><i32><i16>value;
}
