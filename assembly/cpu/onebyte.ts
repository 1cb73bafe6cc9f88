// The one-byte opcode map (SDM vol. 2, appendix A, table A-2): the handlers step() dispatches
// to through a dense switch (a br_table), grouped by family: ALU forms and groups 1-5, moves,
// stack operations, control transfers, flag operations, port I/O and software interrupts. The
// 0F map is in twobyte.ts, the x87 escape (D8-DF) in x87.ts.

import { SEG_CS, SEG_DS, SEG_ES, SEG_SS } from "../abi/layout";
import { halt } from "../apic/accept";
import { readPort, writePort } from "../guest-memory";
import {
  aad, aam, alu, ALU_CMP, asciiAdjust, daa, das, dec, div, idiv, imul, inc, maskOf, mul, neg, quotient,
  remainder, shift,
} from "./alu";
import {
  addrSize, dataSeg, eaBaseIsEsp, eaOffset, eaSeg, imm, imm2, lockedOperand, modrmMod,
  modrmReg, opSize, readE, readEAt, readG, relative, setEa, simm8, writeE, writeG,
} from "./decode";
import { BP, BR, faulted, GP, OF_, raise, raiseCode, UD } from "./fault";
import { condition, flags, getCF, getFlags, setArith, setFlags } from "./flags";
import { atomicLoadHost, compareExchangeHost, readSeg, writeSeg } from "./memory";
import { farCall, farJump, farReturn, interruptReturn, loadSegment } from "./segments";
import { deliverInterrupt } from "./interrupts";
import { adjustRpl } from "./system";
import { peek, pop, push, setStackPointer, stackOffset } from "./stack";
import {
  AC, AF, CF, cpl, cpu, DF, EAX, EBP, EBX, ECX, EDX, eip, ESP, getReg, ID, IF, IOPL, NT, OF, PF, protectedMode,
  reg16, reg32, reg8, RF, segSelector, setEip, setReg, setReg16, setReg32, setReg8, SF, stackIs32, TF, VM, ZF,
} from "./state";
import { STR_CMPS, STR_INS, STR_LODS, STR_MOVS, STR_OUTS, STR_SCAS, STR_STOS, stringOp } from "./strings";
import { fwait, x87 } from "./x87";
import { unsupported } from "./exit";
import { blockInterruptsForOne } from "./interp";

/** An ALU operation on the r/m operand, atomically under LOCK. CMP writes nothing. */
// @ts-ignore: decorator
@inline function aluE(aluOp: i32, src: u32, size: i32): void {
  const host = lockedOperand(size);
  if (faulted()) return;
  if (host != 0) {
    lockedRmw(host, size, aluOp, src);
    return;
  }
  const dst = readE(size);
  if (faulted()) return;
  const res = alu(aluOp, dst, src, size);
  if (aluOp != ALU_CMP) writeE(size, res);
}

/** Compare-and-swap loop for a locked ALU operation on shared memory. */
function lockedRmw(host: usize, size: i32, aluOp: i32, src: u32): void {
  for (;;) {
    const old = atomicLoadHost(host, size);
    const res = alu(aluOp, old, src, size);
    if (compareExchangeHost(host, size, old, res) == old) return;
  }
}

/** Group 1 and the ALU opcodes 00-3F in their six forms. */
// @ts-ignore: decorator
@inline function aluForm(op: u32): void {
  const aluOp = <i32>((op >> 3) & 7);
  const size = (op & 1) != 0 ? opSize : 1;
  switch (op & 7) {
    case 0: case 1: // Eb,Gb / Ev,Gv
      aluE(aluOp, readG(size), size);
      break;
    case 2: case 3: { // Gb,Eb / Gv,Ev
      const src = readE(size);
      if (faulted()) return;
      const res = alu(aluOp, readG(size), src, size);
      if (aluOp != ALU_CMP) writeG(size, res);
      break;
    }
    default: { // AL,Ib / eAX,Iz
      const res = alu(aluOp, getReg(EAX, size), imm, size);
      if (aluOp != ALU_CMP) setReg(EAX, size, res);
    }
  }
}

/** INC/DEC (and, with `negate`, NEG/NOT) on the r/m operand, atomically under LOCK. */
function unaryE(kind: i32, size: i32): void {
  const host = lockedOperand(size);
  if (faulted()) return;
  for (;;) {
    const dst = host != 0
      ? atomicLoadHost(host, size)
      : readE(size);
    if (faulted()) return;
    let res: u32;
    if (kind == 0) res = inc(dst, size);
    else if (kind == 1) res = dec(dst, size);
    else if (kind == 2) res = ~dst & maskOf(size); // NOT: flags unchanged
    else res = neg(dst, size);
    if (host == 0) {
      writeE(size, res);
      return;
    }
    if (compareExchangeHost(host, size, dst, res) == dst) return;
  }
}

/** Near relative jump by `rel`, truncated to 16 bits with a 16-bit operand size. */
function jumpRelative(rel: u32): void {
  const target = eip + rel;
  setEip(opSize == 4 ? target : target & 0xffff);
}

/** A near jump to an absolute offset (checked against the CS limit when executed next). */
function jumpAbsolute(target: u32): void {
  setEip(opSize == 4 ? target : target & 0xffff);
}

function callRelative(rel: u32): void {
  push(eip, opSize);
  if (!faulted()) jumpRelative(rel);
}

/** Group 2: shifts and rotates by `count` (masked to 5 bits). */
function shiftE(size: i32, count: u32): void {
  const dst = readE(size);
  if (faulted()) return;
  const res = shift(modrmReg, dst, count & 31, size);
  writeE(size, res);
}

/** Group 3: TEST NOT NEG MUL IMUL DIV IDIV on the r/m operand. */
function group3(size: i32): void {
  switch (modrmReg) {
    case 0: case 1: { // TEST Ev,Iz
      const dst = readE(size);
      if (faulted()) return;
      alu(4, dst, imm, size);
      return;
    }
    case 2: unaryE(2, size); return;
    case 3: unaryE(3, size); return;
  }
  const src = readE(size);
  if (faulted()) return;
  const a = getReg(EAX, size);
  switch (modrmReg) {
    case 4: case 5: {
      const product = modrmReg == 4 ? mul(a, src, size) : imul(a, src, size);
      storeWide(product, size);
      return;
    }
    default: {
      let dividend: u64;
      if (size == 1) dividend = <u64>reg16(EAX);
      else if (size == 2) dividend = (<u64>reg16(EDX) << 16) | <u64>reg16(EAX);
      else dividend = (<u64>reg32(EDX) << 32) | <u64>reg32(EAX);
      if (modrmReg == 6) div(dividend, src, size);
      else idiv(dividend, src, size);
      if (faulted()) return;
      if (size == 1) setReg16(EAX, (remainder & 0xff) << 8 | (quotient & 0xff));
      else {
        setReg(EAX, size, quotient);
        setReg(EDX, size, remainder);
      }
    }
  }
}

/** Stores a double-width product in AX, DX:AX or EDX:EAX. */
function storeWide(product: u64, size: i32): void {
  if (size == 1) setReg16(EAX, <u32>product & 0xffff);
  else {
    setReg(EAX, size, <u32>product);
    setReg(EDX, size, <u32>(product >> <u64>(size << 3)));
  }
}

/** Group 5: INC DEC CALL CALLF JMP JMPF PUSH on Ev. */
function group5(): void {
  switch (modrmReg) {
    case 0: unaryE(0, opSize); return;
    case 1: unaryE(1, opSize); return;
    case 7: raise(UD); return;
  }
  if ((modrmReg == 3 || modrmReg == 5) && modrmMod == 3) {
    raise(UD);
    return;
  }
  const target = readE(opSize);
  if (faulted()) return;
  switch (modrmReg) {
    case 2: // CALL Ev
      push(eip, opSize);
      if (!faulted()) jumpAbsolute(target);
      return;
    case 3: case 5: { // CALL/JMP Mp
      const selector = readEAt(<u32>opSize, 2);
      if (faulted()) return;
      if (modrmReg == 3) farCall(selector, target, opSize);
      else farJump(selector, target, opSize);
      return;
    }
    case 4: // JMP Ev
      jumpAbsolute(target);
      return;
    default: // PUSH Ev
      push(target, opSize);
  }
}

/** Far pointer loads: LDS LES LSS LFS LGS. */
export function loadFarPointer(seg: i32): void {
  if (modrmMod == 3) {
    raise(UD);
    return;
  }
  const offset = readE(opSize);
  if (faulted()) return;
  const selector = readEAt(<u32>opSize, 2);
  if (faulted()) return;
  loadSegment(seg, selector);
  if (!faulted()) writeG(opSize, offset);
}

/** POPF (and IRET's flag load): which bits the current privilege may change (SDM "POPF"). */
export function writableFlags(size: i32): u32 {
  let mask: u32 = CF | PF | AF | ZF | SF | TF | DF | OF | NT | AC | ID;
  if (!protectedMode() || cpl() == 0) mask |= IOPL | IF;
  else if (cpl() <= ((getFlags() & IOPL) >> 12)) mask |= IF;
  return size == 2 ? mask & 0xffff : mask;
}

/** Executes one-byte opcode `op`, whose operands decodeOperands() has read. */
export function execute(op: u32): void {
  switch (op) {
    case 0x00: case 0x01: case 0x02: case 0x03: case 0x04: case 0x05:
    case 0x08: case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d:
    case 0x10: case 0x11: case 0x12: case 0x13: case 0x14: case 0x15:
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d:
    case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25:
    case 0x28: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d:
    case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35:
    case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x3c: case 0x3d:
      aluForm(op);
      break;
    case 0x06: push(segSelector(SEG_ES), opSize); break;
    case 0x07: popSegment(SEG_ES); break;
    case 0x0e: push(segSelector(SEG_CS), opSize); break;
    case 0x16: push(segSelector(SEG_SS), opSize); break;
    case 0x17: popSegment(SEG_SS); if (!faulted()) blockInterruptsForOne(); break;
    case 0x1e: push(segSelector(SEG_DS), opSize); break;
    case 0x1f: popSegment(SEG_DS); break;
    case 0x27: setReg8(EAX, daa(reg8(EAX))); break;
    case 0x2f: setReg8(EAX, das(reg8(EAX))); break;
    case 0x37: setReg16(EAX, asciiAdjust(reg16(EAX), false)); break;
    case 0x3f: setReg16(EAX, asciiAdjust(reg16(EAX), true)); break;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
      setReg(<i32>(op & 7), opSize, inc(getReg(<i32>(op & 7), opSize), opSize));
      break;
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
      setReg(<i32>(op & 7), opSize, dec(getReg(<i32>(op & 7), opSize), opSize));
      break;
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
      push(getReg(<i32>(op & 7), opSize), opSize);
      break;
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
      const value = pop(opSize);
      if (!faulted()) setReg(<i32>(op & 7), opSize, value);
      break;
    }
    case 0x60: pushAll(); break;
    case 0x61: popAll(); break;
    case 0x62: bound(); break;
    case 0x68: push(imm, opSize); break;
    case 0x69: case 0x6b: { // IMUL Gv,Ev,Iz/Ib
      const src = readE(opSize);
      if (faulted()) return;
      writeG(opSize, <u32>imul(src, op == 0x69 ? imm : simm8(), opSize));
      break;
    }
    case 0x6a: push(simm8(), opSize); break;
    case 0x6c: stringOp(STR_INS, 1); break;
    case 0x6d: stringOp(STR_INS, opSize); break;
    case 0x6e: stringOp(STR_OUTS, 1); break;
    case 0x6f: stringOp(STR_OUTS, opSize); break;
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
      if (condition(<i32>(op & 15))) jumpRelative(simm8());
      break;
    }
    case 0x80: case 0x82: aluE(modrmReg, imm, 1); break;
    case 0x81: aluE(modrmReg, imm, opSize); break;
    case 0x83: aluE(modrmReg, simm8(), opSize); break;
    case 0x84: case 0x85: { // TEST Eb,Gb / Ev,Gv
      const size = op == 0x84 ? 1 : opSize;
      const dst = readE(size);
      if (!faulted()) alu(4, dst, readG(size), size);
      break;
    }
    case 0x86: case 0x87: xchgE(op == 0x86 ? 1 : opSize); break;
    case 0x88: case 0x89: { // MOV Eb,Gb / Ev,Gv
      const size = op == 0x88 ? 1 : opSize;
      writeE(size, readG(size));
      break;
    }
    case 0x8a: case 0x8b: { // MOV Gb,Eb / Gv,Ev
      const size = op == 0x8a ? 1 : opSize;
      const value = readE(size);
      if (!faulted()) writeG(size, value);
      break;
    }
    case 0x8c: { // MOV Ev,Sreg: a register destination takes the zero-extended selector
      if (modrmReg > 5) raise(UD);
      else writeE(modrmMod == 3 ? opSize : 2, segSelector(modrmReg));
      break;
    }
    case 0x8d: { // LEA
      if (modrmMod == 3) raise(UD);
      else writeG(opSize, opSize == 2 ? eaOffset & 0xffff : eaOffset);
      break;
    }
    case 0x8e: { // MOV Sreg,Ew
      if (modrmReg == SEG_CS || modrmReg > 5) {
        raise(UD);
        return;
      }
      const selector = readE(2);
      if (!faulted()) loadSegment(modrmReg, selector);
      if (!faulted() && modrmReg == SEG_SS) blockInterruptsForOne();
      break;
    }
    case 0x8f: { // POP Ev: an ESP-based address uses ESP after the pop (SDM "POP")
      if (modrmReg != 0) {
        raise(UD);
        return;
      }
      const value = peek(0, opSize);
      if (faulted()) return;
      setStackPointer(stackOffset(<u32>opSize));
      if (eaBaseIsEsp) setEa(eaSeg, eaOffset + <u32>opSize);
      writeE(opSize, value);
      break;
    }
    case 0x90: break; // NOP (PAUSE with F3)
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: {
      const r = <i32>(op & 7);
      const value = getReg(r, opSize);
      setReg(r, opSize, getReg(EAX, opSize));
      setReg(EAX, opSize, value);
      break;
    }
    case 0x98: // CBW / CWDE
      if (opSize == 2) setReg16(EAX, <u32><i32><i8>reg8(EAX));
      else setReg32(EAX, <u32><i32><i16>reg16(EAX));
      break;
    case 0x99: // CWD / CDQ
      if (opSize == 2) setReg16(EDX, (reg16(EAX) & 0x8000) != 0 ? 0xffff : 0);
      else setReg32(EDX, <u32>(<i32>reg32(EAX) >> 31));
      break;
    case 0x9a: { // CALL Ap
      farCall(imm2, imm, opSize);
      break;
    }
    case 0x9b: fwait(); break;
    case 0x9c: push(getFlags() & (opSize == 2 ? 0xffff : ~(VM | RF)), opSize); break;
    case 0x9d: { // POPF
      const value = pop(opSize);
      if (!faulted()) setFlags(value, writableFlags(opSize));
      break;
    }
    case 0x9e: setArith(reg8(4) & (CF | PF | AF | ZF | SF) | (getFlags() & OF)); break; // SAHF
    case 0x9f: setReg8(4, getFlags() & 0xff); break; // LAHF
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: { // MOV AL/eAX <-> moffs
      const size = (op & 1) != 0 ? opSize : 1;
      setEa(dataSeg(), imm);
      if (op < 0xa2) {
        const value = readSeg(eaSeg, eaOffset, size);
        if (!faulted()) setReg(EAX, size, value);
      } else {
        writeSeg(eaSeg, eaOffset, size, getReg(EAX, size));
      }
      break;
    }
    case 0xa4: stringOp(STR_MOVS, 1); break;
    case 0xa5: stringOp(STR_MOVS, opSize); break;
    case 0xa6: stringOp(STR_CMPS, 1); break;
    case 0xa7: stringOp(STR_CMPS, opSize); break;
    case 0xa8: alu(4, reg8(EAX), imm, 1); break;
    case 0xa9: alu(4, getReg(EAX, opSize), imm, opSize); break;
    case 0xaa: stringOp(STR_STOS, 1); break;
    case 0xab: stringOp(STR_STOS, opSize); break;
    case 0xac: stringOp(STR_LODS, 1); break;
    case 0xad: stringOp(STR_LODS, opSize); break;
    case 0xae: stringOp(STR_SCAS, 1); break;
    case 0xaf: stringOp(STR_SCAS, opSize); break;
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7: {
      setReg8(<i32>(op & 7), imm);
      break;
    }
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf: {
      setReg(<i32>(op & 7), opSize, imm);
      break;
    }
    case 0xc0: case 0xc1: { // group 2 Ib
      const size = op == 0xc0 ? 1 : opSize;
      shiftE(size, imm);
      break;
    }
    case 0xc2: case 0xc3: { // RET (imm16)
      const release = op == 0xc2 ? imm : 0;
      const target = pop(opSize);
      if (faulted()) return;
      setStackPointer(stackOffset(release));
      jumpAbsolute(target);
      break;
    }
    case 0xc4: loadFarPointer(SEG_ES); break;
    case 0xc5: loadFarPointer(SEG_DS); break;
    case 0xc6: case 0xc7: { // MOV Ev,Iz
      const size = op == 0xc6 ? 1 : opSize;
      if (modrmReg != 0) raise(UD);
      else writeE(size, imm);
      break;
    }
    case 0xc8: enter(); break;
    case 0xc9: { // LEAVE
      const frame = reg32(EBP);
      setStackPointer(frame);
      const saved = pop(opSize);
      if (!faulted()) setReg(EBP, opSize, saved);
      break;
    }
    case 0xca: case 0xcb: { // RETF (imm16)
      farReturn(op == 0xca ? imm : 0, opSize);
      break;
    }
    case 0xcc: softwareInterrupt(BP); break; // INT3
    case 0xcd: softwareInterrupt(<i32>imm); break;
    case 0xce: if ((getFlags() & OF) != 0) softwareInterrupt(OF_); break; // INTO
    case 0xcf: interruptReturn(opSize); break;
    case 0xd0: case 0xd1: shiftE(op == 0xd0 ? 1 : opSize, 1); break;
    case 0xd2: case 0xd3: shiftE(op == 0xd2 ? 1 : opSize, reg8(ECX)); break;
    case 0xd4: { const ax = aam(reg8(EAX), imm); if (!faulted()) setReg16(EAX, ax); break; }
    case 0xd5: setReg16(EAX, aad(reg16(EAX), imm)); break;
    case 0xd6: setReg8(EAX, getCF() != 0 ? 0xff : 0); break; // SALC
    case 0xd7: { // XLAT
      const offset = (addrSize == 4 ? reg32(EBX) : reg16(EBX)) + reg8(EAX);
      const value = readSeg(dataSeg(), addrSize == 4 ? offset : offset & 0xffff, 1);
      if (!faulted()) setReg8(EAX, value);
      break;
    }
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: loop(op); break;
    case 0xe4: case 0xe5: portIn(imm, op == 0xe4 ? 1 : opSize); break;
    case 0xe6: case 0xe7: portOut(imm, op == 0xe6 ? 1 : opSize); break;
    case 0xe8: callRelative(relative()); break;
    case 0xe9: jumpRelative(relative()); break;
    case 0xea: { // JMP Ap
      farJump(imm2, imm, opSize);
      break;
    }
    case 0xeb: jumpRelative(simm8()); break;
    case 0xec: case 0xed: portIn(reg16(EDX), op == 0xec ? 1 : opSize); break;
    case 0xee: case 0xef: portOut(reg16(EDX), op == 0xee ? 1 : opSize); break;
    case 0xf1: softwareInterrupt(1); break; // INT1 (ICEBP)
    case 0xf4: // HLT
      if (cpl() != 0) raiseCode(GP, 0);
      else halt();
      break;
    case 0xf5: setArith(getFlags() ^ CF); break; // CMC
    case 0xf6: group3(1); break;
    case 0xf7: group3(opSize); break;
    case 0xf8: setArith(getFlags() & ~CF); break; // CLC
    case 0xf9: setArith(getFlags() | CF); break; // STC
    case 0xfa: case 0xfb: { // CLI / STI
      if (protectedMode() && cpl() > ((getFlags() & IOPL) >> 12)) raiseCode(GP, 0);
      else {
        // STI delays interrupts by one instruction when it sets IF (the STI; HLT idiom).
        if (op == 0xfb && (getFlags() & IF) == 0) blockInterruptsForOne();
        setFlags(op == 0xfb ? IF : 0, IF);
      }
      break;
    }
    case 0xfc: setFlags(0, DF); break; // CLD
    case 0xfd: setFlags(DF, DF); break; // STD
    case 0xfe: { // group 4: INC/DEC Eb
      if (modrmReg > 1) raise(UD);
      else unaryE(modrmReg, 1);
      break;
    }
    case 0xff: group5(); break;
    case 0x63: adjustRpl(); break;
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf: x87(op); break;
    default: unsupported(op);
  }
}

function popSegment(seg: i32): void {
  const selector = peek(0, opSize);
  if (faulted()) return;
  loadSegment(seg, selector & 0xffff);
  if (!faulted()) setStackPointer(stackOffset(<u32>opSize));
}

function xchgE(size: i32): void {
  const value = readE(size);
  if (faulted()) return;
  writeE(size, readG(size));
  if (!faulted()) writeG(size, value);
}

function pushAll(): void {
  const sp = getReg(ESP, opSize);
  for (let r = 0; r < 8; r++) {
    // Write all eight slots before moving the stack pointer, so a fault changes nothing.
    writeSeg(SEG_SS, stackOffset(<u32>(-(r + 1) * opSize)), opSize, r == ESP ? sp : getReg(r, opSize));
    if (faulted()) return;
  }
  setStackPointer(stackOffset(<u32>(-8 * opSize)));
}

function popAll(): void {
  // Read every slot first (EDI is nearest the top), so a fault changes no register; the slot
  // holding the pushed ESP is skipped.
  for (let r = 0; r < 8; r++) {
    peek(<u32>((7 - r) * opSize), opSize);
    if (faulted()) return;
  }
  for (let r = 0; r < 8; r++) {
    if (r != ESP) setReg(r, opSize, peek(<u32>((7 - r) * opSize), opSize));
  }
  setStackPointer(stackOffset(<u32>(8 * opSize)));
}

function bound(): void {
  if (modrmMod == 3) {
    raise(UD);
    return;
  }
  const lower = readE(opSize);
  if (faulted()) return;
  const upper = readEAt(<u32>opSize, opSize);
  if (faulted()) return;
  const shift = opSize == 2 ? 16 : 0;
  const index = <i32>(getReg(modrmReg, opSize) << shift) >> shift;
  if (index < (<i32>(lower << shift) >> shift) || index > (<i32>(upper << shift) >> shift)) raise(BR);
}

/**
 * ENTER (SDM vol. 2, "ENTER"): pushes EBP, copies `level - 1` frame pointers from the enclosing
 * frame, pushes the new frame pointer, and allocates `imm` bytes. The frame pointers are read
 * through EBP or BP as the stack's size says; values pushed are of the operand size.
 */
function enter(): void {
  const frameSize = imm;
  const level = imm2 & 31;
  const stack32 = stackIs32();
  const framePointer = stack32 ? reg32(EBP) : reg16(EBP);
  push(getReg(EBP, opSize), opSize);
  if (faulted()) return;
  const frame = stackOffset(0);
  for (let i: u32 = 1; i < level; i++) {
    const at = framePointer - i * <u32>opSize;
    const value = readSeg(SEG_SS, stack32 ? at : at & 0xffff, opSize);
    if (faulted()) return;
    push(value, opSize);
    if (faulted()) return;
  }
  if (level > 0) {
    push(frame, opSize);
    if (faulted()) return;
  }
  setReg(EBP, stack32 ? 4 : 2, frame);
  setStackPointer(stackOffset(<u32>-frameSize));
}

function loop(op: u32): void {
  const rel = simm8();
  let count: u32;
  if (op == 0xe3) {
    count = addrSize == 4 ? reg32(ECX) : reg16(ECX);
    if (count == 0) jumpRelative(rel);
    return;
  }
  if (addrSize == 4) {
    count = reg32(ECX) - 1;
    setReg32(ECX, count);
  } else {
    count = (reg16(ECX) - 1) & 0xffff;
    setReg16(ECX, count);
  }
  let taken = count != 0;
  if (op == 0xe0) taken = taken && (getFlags() & ZF) == 0; // LOOPNE
  else if (op == 0xe1) taken = taken && (getFlags() & ZF) != 0; // LOOPE
  if (taken) jumpRelative(rel);
}

/** Port access permission (SDM vol. 1, 19.5): CPL <= IOPL, or (not yet modelled) the TSS bitmap. */
function portAllowed(): bool {
  if (protectedMode() && cpl() > ((getFlags() & IOPL) >> 12)) {
    raiseCode(GP, 0);
    return false;
  }
  return true;
}

function portIn(port: u32, size: i32): void {
  if (portAllowed()) setReg(EAX, size, readPort(cpu, port, size));
}

function portOut(port: u32, size: i32): void {
  if (portAllowed()) writePort(cpu, port, size, getReg(EAX, size));
}

/** INT n, INT3, INTO, INT1: delivered as traps, returning after the instruction; a fault in delivery restarts it. */
function softwareInterrupt(vector: i32): void {
  deliverInterrupt(vector, false, 0, true, eip);
}
