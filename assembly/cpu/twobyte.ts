// The two-byte (0F) opcode map (SDM vol. 2, appendix A, table A-3): bit operations, MOVZX and
// MOVSX, conditional moves and sets, near conditional jumps, SHLD/SHRD, CMPXCHG, XADD, BSWAP,
// and the system instructions the core models so far. Others stop the vCPU with
// EXIT_UNSUPPORTED (detail 0x0F00 | opcode).

import { SEG_FS, SEG_GS, SEG_SS, VCPU_MAGIC_U32 } from "../abi/layout";
import { alu, ALU_CMP, bitScan, doubleShift, imul, maskOf } from "./alu";
import {
  eaOffset, eaSeg, imm, lockedOperand, modrmMod, modrmReg, opSize, readE, readG, relative, setEa,
  writeE, writeG,
} from "./decode";
import { unsupported } from "./exit";
import { fxrstor, fxsave } from "./x87-env";
import { faulted, raise, UD } from "./fault";
import { condition, getFlags, setArith } from "./flags";
import { loadFarPointer } from "./onebyte";
import { atomicLoadHost, compareExchangeHost, readSeg, writeSeg } from "./memory";
import { loadSegment } from "./segments";
import {
  CR0_TS, cpuid, group6, group7, loadAccessRightsOrLimit, moveControlRegister, moveDebugRegister, privileged,
  readMsr, readTimeStampCounter, sysenter, sysexit, writeMsr,
} from "./system";
import { pop, push } from "./stack";
import { CF, cpu, cr, EAX, EBX, ECX, EDX, eip, getReg, reg32, segSelector, setCr, setEip, setReg, setReg32, ZF } from "./state";


/** Executes 0F `op`, whose operands decodeOperands() has read. */
export function twoByte(op: u32): void {
  switch (op) {
    case 0x00: group6(); break;
    case 0x01: group7(); break;
    case 0x02: case 0x03: loadAccessRightsOrLimit(op == 0x03); break;
    case 0x06: if (privileged()) setCr(0, cr(0) & ~CR0_TS); break; // CLTS
    case 0x08: case 0x09: privileged(); break; // INVD, WBINVD: no caches to write back
    case 0x0b: raise(UD); break; // UD2
    case 0x0d: case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
      break; // prefetch hints and multi-byte NOP: the operand is decoded, never accessed
    case 0x20: case 0x22: moveControlRegister(op == 0x22); break;
    case 0x21: case 0x23: moveDebugRegister(op == 0x23); break;
    case 0x30: writeMsr(); break;
    case 0x31: readTimeStampCounter(); break;
    case 0x32: readMsr(); break;
    case 0x34: sysenter(); break;
    case 0x35: sysexit(); break;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
      // CMOVcc: the source is read (and may fault) whatever the condition.
      const value = readE(opSize);
      if (!faulted() && condition(<i32>(op & 15))) writeG(opSize, value);
      break;
    }
    case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
    case 0x88: case 0x89: case 0x8a: case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x8f: {
      if (!condition(<i32>(op & 15))) break;
      const target = eip + relative();
      setEip(opSize == 4 ? target : target & 0xffff);
      break;
    }
    case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
    case 0x98: case 0x99: case 0x9a: case 0x9b: case 0x9c: case 0x9d: case 0x9e: case 0x9f:
      writeE(1, condition(<i32>(op & 15)) ? 1 : 0);
      break;
    case 0xa0: push(segSelector(SEG_FS), opSize); break;
    case 0xa1: popSegment(SEG_FS); break;
    case 0xa2: cpuid(); break;
    case 0xae:
      if (modrmMod != 3 && modrmReg == 0) fxsave(eaSeg, eaOffset);
      else if (modrmMod != 3 && modrmReg == 1) fxrstor(eaSeg, eaOffset);
      // LFENCE, MFENCE, SFENCE: this core completes every access in order, so a fence only has
      // to keep the host from reordering around it: a sequentially consistent read-modify-write
      // that changes nothing does (Linux uses MFENCE whatever CPUID says).
      else if (modrmMod == 3 && modrmReg >= 5) atomic.or<u32>(cpu + VCPU_MAGIC_U32, 0);
      else unsupported(0x0f00 | op);
      break;
    case 0xa3: bitTest(0, false); break;
    case 0xa4: case 0xa5: case 0xac: case 0xad: { // SHLD/SHRD Ev,Gv,Ib/CL
      const count = (op & 1) != 0 ? getReg(ECX, 1) : imm;
      const dst = readE(opSize);
      if (faulted()) break;
      writeE(opSize, doubleShift(op < 0xa8, dst, readG(opSize), count & 31, opSize));
      break;
    }
    case 0xa8: push(segSelector(SEG_GS), opSize); break;
    case 0xa9: popSegment(SEG_GS); break;
    case 0xab: bitTest(1, false); break;
    case 0xaf: { // IMUL Gv,Ev
          const src = readE(opSize);
      if (!faulted()) writeG(opSize, <u32>imul(readG(opSize), src, opSize));
      break;
    }
    case 0xb0: case 0xb1: compareExchange(op == 0xb0 ? 1 : opSize); break;
    case 0xb2: loadFarPointer(SEG_SS); break;
    case 0xb3: bitTest(2, false); break;
    case 0xb4: loadFarPointer(SEG_FS); break;
    case 0xb5: loadFarPointer(SEG_GS); break;
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: { // MOVZX / MOVSX
      const size = (op & 1) != 0 ? 2 : 1;
          const value = readE(size);
      if (faulted()) break;
      const extended = op < 0xb8 ? value : size == 1 ? <u32><i32><i8>value : <u32><i32><i16>value;
      writeG(opSize, extended);
      break;
    }
    case 0xba: bitTest(-1, true); break;
    case 0xbb: bitTest(3, false); break;
    case 0xbc: case 0xbd: { // BSF / BSR
          const src = readE(opSize);
      if (!faulted()) writeG(opSize, bitScan(op == 0xbc, src, readG(opSize), opSize));
      break;
    }
    case 0xc0: case 0xc1: exchangeAdd(op == 0xc0 ? 1 : opSize); break;
    case 0xc7: compareExchange8(); break;
    case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xce: case 0xcf: {
      const r = <i32>(op & 7);
      if (opSize == 4) setReg32(r, bswap<u32>(reg32(r)));
      else setReg(r, 2, 0); // BSWAP of a 16-bit register: undefined; zero, as Intel and AMD parts give
      break;
    }
    default:
      unsupported(0x0f00 | op);
  }
}

function popSegment(seg: i32): void {
  const selector = pop(opSize);
  if (!faulted()) loadSegment(seg, selector & 0xffff);
}

/**
 * BT (0) BTS (1) BTR (2) BTC (3) with a register bit offset, or group 8 (kind -1, the operation
 * from ModRM reg 4-7, an immediate offset). A register offset reaches beyond a memory operand:
 * the address moves by whole operands (SDM "BT").
 */
function bitTest(kind: i32, immediate: bool): void {
  let offset: u32;
  if (immediate) {
    if (modrmReg < 4) {
      raise(UD);
      return;
    }
    kind = modrmReg - 4;
    offset = imm;
  } else {
    offset = readG(opSize);
  }
  if (faulted()) return;
  const bits = <u32>(opSize << 3);
  if (!immediate && modrmMod != 3) {
    // The memory operand moves by whole operands to the one holding the bit.
    const signed = opSize == 2 ? <i32><i16>offset : <i32>offset;
    setEa(eaSeg, eaOffset + <u32>((signed >> (opSize == 2 ? 4 : 5)) * opSize));
  }
  const bit = offset & (bits - 1);
  const mask: u32 = 1 << bit;
  const host: usize = kind == 0 ? 0 : lockedOperand(opSize);
  if (faulted()) return;
  for (;;) {
    const value = host != 0 ? atomicLoadHost(host, opSize)
      : readE(opSize);
    if (faulted()) return;
    // CF takes the bit; ZF is kept, OF SF AF PF are undefined (kept here).
    setArith((getFlags() & ~CF) | ((value & mask) != 0 ? CF : 0));
    if (kind == 0) return;
    const result = kind == 1 ? value | mask : kind == 2 ? value & ~mask : value ^ mask;
    if (host != 0) {
      if (compareExchangeHost(host, opSize, value, result) == value) return;
      continue;
    }
    writeE(opSize, result);
    return;
  }
}

/** CMPXCHG Eb/Ev,Gb/Gv: compares the accumulator with the destination (always written). */
function compareExchange(size: i32): void {
  const host = lockedOperand(size);
  if (faulted()) return;
  const accumulator = getReg(EAX, size);
  const replacement = readG(size);
  if (host != 0) {
    const m = maskOf(size);
    const old = compareExchangeHost(host, size, accumulator, replacement);
    alu(ALU_CMP, accumulator, old & m, size);
    if ((old & m) != (accumulator & m)) setReg(EAX, size, old);
    return;
  }
  const dst = readE(size);
  if (faulted()) return;
  alu(ALU_CMP, accumulator, dst, size);
  if (dst == (accumulator & maskOf(size))) {
    writeE(size, replacement);
  } else {
    writeE(size, dst); // the processor writes the destination back either way
    if (!faulted()) setReg(EAX, size, dst);
  }
}

/** XADD Eb/Ev,Gb/Gv. */
function exchangeAdd(size: i32): void {
  const host = lockedOperand(size);
  if (faulted()) return;
  const src = readG(size);
  for (;;) {
    const dst = host != 0 ? atomicLoadHost(host, size) : readE(size);
    if (faulted()) return;
    const sum = alu(0, dst, src, size);
    if (host != 0) {
      if (compareExchangeHost(host, size, dst, sum) != dst) continue;
      writeG(size, dst);
      return;
    }
    // SRC <- DEST, then DEST <- SUM: with one register as both, it ends with the sum.
    if (modrmMod == 3) {
      writeG(size, dst);
      writeE(size, sum);
      return;
    }
    writeE(size, sum);
    if (!faulted()) writeG(size, dst);
    return;
  }
}

/** 0F C7 /1: CMPXCHG8B m64 (EDX:EAX with the operand; ECX:EBX stored when equal). */
function compareExchange8(): void {
  if (modrmReg != 1 || modrmMod == 3) {
    raise(UD);
    return;
  }
  const expected = (<u64>reg32(EDX) << 32) | <u64>reg32(EAX);
  const replacement = (<u64>reg32(ECX) << 32) | <u64>reg32(EBX);
  const host = lockedOperand(4);
  if (faulted()) return;
  let old: u64;
  if (host != 0 && (eaOffset & 7) == 0) {
    old = atomic.cmpxchg<u64>(host, expected, replacement);
  } else {
    const lo = readSeg(eaSeg, eaOffset, 4);
    const hi = readSeg(eaSeg, eaOffset + 4, 4);
    if (faulted()) return;
    old = (<u64>hi << 32) | <u64>lo;
    const stored = old == expected ? replacement : old;
    writeSeg(eaSeg, eaOffset, 4, <u32>stored);
    writeSeg(eaSeg, eaOffset + 4, 4, <u32>(stored >> 32));
    if (faulted()) return;
  }
  if (old == expected) {
    setArith(getFlags() | ZF);
  } else {
    setArith(getFlags() & ~ZF);
    setReg32(EAX, <u32>old);
    setReg32(EDX, <u32>(old >> 32));
  }
}
