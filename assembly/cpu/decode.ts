// Instruction decoding: prefixes, immediates and ModRM/SIB effective addresses (SDM vol. 2,
// chapter 2), and the operand accessors the handlers use (E = ModRM r/m, G = ModRM reg). The
// decoded state lives in globals for the instruction being executed; handlers read it. Fetches
// go through the code segment's limit check and the TLB.

import { SEG_DS, SEG_SS } from "../abi/layout";
import { faulted, GP, raiseCode } from "./fault";
import { codeHost, codePage, fetchLinear, loadHost, lockedHost, linearAddress, readSeg, writeSeg } from "./memory";
import { csBase, csLimit, eip, getReg, reg16, reg32, setEip, setReg } from "./state";

/** Operand size in bytes (2 or 4) after the 0x66 prefix. */
export let opSize: i32 = 4;
/** Address size in bytes (2 or 4) after the 0x67 prefix. */
export let addrSize: i32 = 4;
/** Segment override prefix (a segment number), or -1. */
export let segOverride: i32 = -1;
/** 0xf3 (REP/REPE), 0xf2 (REPNE) or 0. */
export let repPrefix: i32 = 0;
export let lockPrefix: bool = false;

// ModRM fields of the current instruction.
export let modrmMod: i32 = 0;
export let modrmReg: i32 = 0;
export let modrmRm: i32 = 0;
/** Effective address of a memory operand: its segment and offset. */
export let eaSeg: i32 = SEG_DS;
export let eaOffset: u32 = 0;
/** Whether the effective address uses ESP as its base (POP Ev adjusts for the pop). */
export let eaBaseIsEsp = false;

export function resetPrefixes(big: bool): void {
  opSize = big ? 4 : 2;
  addrSize = big ? 4 : 2;
  segOverride = -1;
  repPrefix = 0;
  lockPrefix = false;
}

export function toggleOpSize(big: bool): void {
  opSize = big ? 2 : 4;
}

export function toggleAddrSize(big: bool): void {
  addrSize = big ? 2 : 4;
}

export function setSegOverride(seg: i32): void {
  segOverride = seg;
}

export function setRep(prefix: i32): void {
  repPrefix = prefix;
}

export function setLock(): void {
  lockPrefix = true;
}

// ---- Instruction fetch ----

/**
 * Fetches `size` code bytes at CS:EIP and advances EIP; raises #GP(0) past the CS limit. Inlined:
 * the common case is one compare against the page instructions were last fetched from.
 */
// @ts-ignore: decorator
@inline export function fetch(size: i32): u32 {
  const offset = eip;
  const linear = csBase + offset;
  const last = offset + <u32>size - 1;
  if ((linear & 0xfffff000) == codePage && (linear & 0xfff) <= <u32>(0x1000 - size) && last <= csLimit && last >= offset) {
    setEip(offset + <u32>size);
    const host = codeHost + <usize>(linear & 0xfff);
    return loadHost(host, size);
  }
  return fetchChecked(size);
}

function fetchChecked(size: i32): u32 {
  const offset = eip;
  const last = offset + <u32>size - 1;
  if (last > csLimit || last < offset) {
    raiseCode(GP, 0);
    return 0;
  }
  setEip(offset + <u32>size);
  return fetchLinear(csBase + offset, size);
}

// ---- Operand layout table ----

/** The instruction's immediates: the first (zero-extended) and, for far pointers and ENTER, the second. */
export let imm: u32 = 0;
export let imm2: u32 = 0;

// What follows an opcode (SDM vol. 2, appendix A): bit 0 a ModRM byte, bits 1-3 the immediates.
const M: u8 = 1; // ModRM
const IB: u8 = 2; // imm8
const IW: u8 = 4; // imm16
const IZ: u8 = 6; // imm16/32 by operand size
const FAR: u8 = 8; // imm16/32 offset, then imm16 selector
const ENT: u8 = 10; // imm16, then imm8 (ENTER)
const MOFFS: u8 = 12; // offset of the address size
const GRP3: u8 = 14; // group 3: imm8/16/32 only for TEST (reg 0 and 1)

/** Index by opcode; 0x100 + the second byte for the 0F map. */
const OPERANDS: StaticArray<u8> = [
  // 0x00-0x3f: ALU ops in six forms, segment push/pop, BCD
  M, M, M, M, IB, IZ, 0, 0, M, M, M, M, IB, IZ, 0, 0,
  M, M, M, M, IB, IZ, 0, 0, M, M, M, M, IB, IZ, 0, 0,
  M, M, M, M, IB, IZ, 0, 0, M, M, M, M, IB, IZ, 0, 0,
  M, M, M, M, IB, IZ, 0, 0, M, M, M, M, IB, IZ, 0, 0,
  // 0x40-0x5f: INC DEC PUSH POP
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  // 0x60: PUSHA POPA BOUND ARPL, prefixes, PUSH Iz, IMUL Gv,Ev,Iz, PUSH Ib, IMUL Gv,Ev,Ib, INS OUTS
  0, 0, M, M, 0, 0, 0, 0, IZ, M | IZ, IB, M | IB, 0, 0, 0, 0,
  // 0x70: Jcc rel8
  IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB,
  // 0x80: group 1, TEST, XCHG, MOV, MOV Sreg, LEA, POP Ev
  M | IB, M | IZ, M | IB, M | IB, M, M, M, M, M, M, M, M, M, M, M, M,
  // 0x90: XCHG, CBW CWD, CALL Ap, WAIT, PUSHF POPF SAHF LAHF
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, FAR, 0, 0, 0, 0, 0,
  // 0xa0: MOV moffs, string ops, TEST AL/eAX
  MOFFS, MOFFS, MOFFS, MOFFS, 0, 0, 0, 0, IB, IZ, 0, 0, 0, 0, 0, 0,
  // 0xb0: MOV r8,Ib / MOV r,Iz
  IB, IB, IB, IB, IB, IB, IB, IB, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ,
  // 0xc0: group 2 Ib, RET Iw, RET, LES LDS, MOV Ev,I, ENTER, LEAVE, RETF Iw, RETF, INT3, INT Ib, INTO, IRET
  M | IB, M | IB, IW, 0, M, M, M | IB, M | IZ, ENT, 0, IW, 0, 0, IB, 0, 0,
  // 0xd0: group 2 by 1 and CL, AAM AAD, SALC, XLAT, x87
  M, M, M, M, IB, IB, 0, 0, M, M, M, M, M, M, M, M,
  // 0xe0: LOOPcc JCXZ, IN OUT Ib, CALL JMP rel, JMP Ap, JMP rel8, IN OUT DX
  IB, IB, IB, IB, IB, IB, IB, IB, IZ, IZ, FAR, IB, 0, 0, 0, 0,
  // 0xf0: prefixes, INT1, HLT, CMC, group 3, flag ops, group 4, group 5
  0, 0, 0, 0, 0, 0, M | GRP3, M | GRP3, 0, 0, 0, 0, 0, 0, M, M,
  // 0F 00-0f: groups 6 and 7, LAR LSL, CLTS, INVD WBINVD, UD2, prefetch
  M, M, M, M, 0, 0, 0, 0, 0, 0, 0, 0, 0, M, 0, 0,
  // 0F 10-1f: (SSE, not modelled) hint NOPs
  0, 0, 0, 0, 0, 0, 0, 0, M, M, M, M, M, M, M, M,
  // 0F 20-2f: MOV CR/DR
  M, M, M, M, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  // 0F 30-3f: WRMSR RDTSC RDMSR RDPMC SYSENTER SYSEXIT
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  // 0F 40-4f: CMOVcc
  M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
  // 0F 50-7f: (SSE and MMX, not modelled)
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  // 0F 80-8f: Jcc rel16/32
  IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ,
  // 0F 90-9f: SETcc
  M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
  // 0F a0-af: PUSH/POP FS, CPUID, BT, SHLD, PUSH/POP GS, RSM, BTS, SHRD, (group 15), IMUL
  0, 0, 0, M, M | IB, M, 0, 0, 0, 0, 0, M, M | IB, M, M, M,
  // 0F b0-bf: CMPXCHG, LSS, BTR, LFS LGS, MOVZX, (POPCNT), group 8, BTC, BSF BSR, MOVSX
  M, M, M, M, M, M, M, M, 0, 0, M | IB, M, M, M, M, M,
  // 0F c0-cf: XADD, (SSE), group 9 (CMPXCHG8B), BSWAP
  M, M, 0, 0, 0, 0, 0, M, 0, 0, 0, 0, 0, 0, 0, 0,
  // 0F d0-ff: (SSE and MMX, not modelled)
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/**
 * Reads everything that follows opcode `index` (0x000-0x0ff, or 0x100 + the 0F map's byte):
 * ModRM with its SIB and displacement, then the immediates, so that execution starts only once
 * the whole instruction has been fetched without a fault.
 */
// @ts-ignore: decorator
@inline export function decodeOperands(index: i32): void {
  const layout = <i32>unchecked(OPERANDS[index]);
  if ((layout & M) != 0) decodeModrm();
  switch (layout >> 1) {
    case 1: imm = fetch(1); break;
    case 2: imm = fetch(2); break;
    case 3: imm = fetch(opSize); break;
    case 4: imm = fetch(opSize); imm2 = fetch(2); break;
    case 5: imm = fetch(2); imm2 = fetch(1); break;
    case 6: imm = fetch(addrSize); break;
    case 7: if (modrmReg < 2) imm = fetch((index & 1) != 0 ? opSize : 1); break;
  }
}

/**
 * Whether LOCK may prefix instruction `index` as decoded: only the read-modify-write forms with a
 * memory destination (SDM vol. 2, "LOCK"); anything else raises #UD.
 */
export function lockAllowed(index: i32): bool {
  if ((<i32>unchecked(OPERANDS[index]) & M) == 0 || modrmMod == 3) return false;
  if (index < 0x40) return (index & 6) == 0 && (index >> 3) != 7; // ALU Eb,Gb and Ev,Gv but CMP
  switch (index) {
    case 0x80: case 0x81: case 0x82: case 0x83: return modrmReg != 7; // group 1 but CMP
    case 0x86: case 0x87: return true; // XCHG
    case 0xf6: case 0xf7: return modrmReg == 2 || modrmReg == 3; // NOT, NEG
    case 0xfe: case 0xff: return modrmReg < 2; // INC, DEC
    case 0x1ab: case 0x1b3: case 0x1bb: return true; // BTS, BTR, BTC
    case 0x1ba: return modrmReg >= 5; // group 8 BTS, BTR, BTC
    case 0x1b0: case 0x1b1: case 0x1c0: case 0x1c1: return true; // CMPXCHG, XADD
    case 0x1c7: return modrmReg == 1; // CMPXCHG8B
    default: return false;
  }
}

/** The first immediate as a sign-extended imm8. */
// @ts-ignore: decorator
@inline export function simm8(): u32 {
  return <u32><i32><i8>imm;
}

/** The first immediate as a relative displacement of the operand size, sign-extended. */
// @ts-ignore: decorator
@inline export function relative(): u32 {
  return opSize == 2 ? <u32><i32><i16>imm : imm;
}

// ---- ModRM ----

/** Reads the ModRM byte (and SIB and displacement) and computes the effective address. */
function decodeModrm(): void {
  const modrm = fetch(1);
  modrmMod = <i32>(modrm >> 6);
  modrmReg = <i32>((modrm >> 3) & 7);
  modrmRm = <i32>(modrm & 7);
  if (modrmMod == 3) return;
  if (addrSize == 4) decodeEa32();
  else decodeEa16();
  if (segOverride >= 0) eaSeg = segOverride;
}

function decodeEa16(): void {
  let offset: u32;
  eaSeg = SEG_DS;
  eaBaseIsEsp = false;
  switch (modrmRm) {
    case 0: offset = reg16(3) + reg16(6); break; // BX+SI
    case 1: offset = reg16(3) + reg16(7); break; // BX+DI
    case 2: offset = reg16(5) + reg16(6); eaSeg = SEG_SS; break; // BP+SI
    case 3: offset = reg16(5) + reg16(7); eaSeg = SEG_SS; break; // BP+DI
    case 4: offset = reg16(6); break; // SI
    case 5: offset = reg16(7); break; // DI
    case 6:
      if (modrmMod == 0) {
        offset = fetch(2);
      } else {
        offset = reg16(5); // BP
        eaSeg = SEG_SS;
      }
      break;
    default: offset = reg16(3); // BX
  }
  if (modrmMod == 1) offset += <u32><i32><i8>fetch(1);
  else if (modrmMod == 2) offset += fetch(2);
  eaOffset = offset & 0xffff;
}

function decodeEa32(): void {
  let offset: u32;
  eaSeg = SEG_DS;
  eaBaseIsEsp = false;
  let base = modrmRm;
  if (base == 4) {
    const sib = fetch(1);
    const index = <i32>((sib >> 3) & 7);
    base = <i32>(sib & 7);
    offset = index == 4 ? 0 : reg32(index) << (sib >> 6);
    if (base == 5 && modrmMod == 0) {
      offset += fetch(4);
    } else {
      offset += reg32(base);
      if (base == 4 || base == 5) eaSeg = SEG_SS;
      eaBaseIsEsp = base == 4;
    }
  } else if (base == 5 && modrmMod == 0) {
    offset = fetch(4);
  } else {
    offset = reg32(base);
    if (base == 5) eaSeg = SEG_SS;
  }
  if (modrmMod == 1) offset += <u32><i32><i8>fetch(1);
  else if (modrmMod == 2) offset += fetch(4);
  eaOffset = offset;
}

/** Sets the operands of an x87 instruction that a decoded block (block-run.ts) runs. */
export function setX87Operands(modrm: u32, seg: i32, offset: u32, size: i32): void {
  modrmMod = <i32>(modrm >> 6);
  modrmReg = <i32>((modrm >> 3) & 7);
  modrmRm = <i32>(modrm & 7);
  eaSeg = seg;
  eaOffset = offset;
  opSize = size;
}

/** The segment of a memory operand without ModRM (string sources, moffs, XLAT): DS or the override. */
// @ts-ignore: decorator
@inline export function dataSeg(): i32 {
  return segOverride >= 0 ? segOverride : SEG_DS;
}

/** A memory operand at an explicit offset in the default data segment (moffs forms). */
export function setEa(seg: i32, offset: u32): void {
  eaSeg = seg;
  eaOffset = offset;
}

// ---- Operands ----

/** Reads the r/m operand. */
// @ts-ignore: decorator
@inline export function readE(size: i32): u32 {
  return modrmMod == 3 ? getReg(modrmRm, size) : readSeg(eaSeg, eaOffset, size);
}

/** Writes the r/m operand. */
// @ts-ignore: decorator
@inline export function writeE(size: i32, value: u32): void {
  if (modrmMod == 3) setReg(modrmRm, size, value);
  else writeSeg(eaSeg, eaOffset, size, value);
}

/** Reads the memory operand at a byte displacement from the effective address. */
export function readEAt(delta: u32, size: i32): u32 {
  return readSeg(eaSeg, eaOffset + delta, size);
}

/** Reads the reg operand. */
// @ts-ignore: decorator
@inline export function readG(size: i32): u32 {
  return getReg(modrmReg, size);
}

/** Writes the reg operand. */
// @ts-ignore: decorator
@inline export function writeG(size: i32, value: u32): void {
  setReg(modrmReg, size, value);
}

/**
 * For a LOCK-prefixed read-modify-write of a memory operand: the shared-memory address to use
 * atomically, or 0 when the operand is a register, unlocked, or not plain RAM.
 */
// @ts-ignore: decorator
@inline export function lockedOperand(size: i32): usize {
  return !lockPrefix || modrmMod == 3 ? 0 : lockedMemoryOperand(size);
}

function lockedMemoryOperand(size: i32): usize {
  const linear = linearAddress(eaSeg, eaOffset, size, true);
  if (faulted()) return 0;
  return lockedHost(linear, size);
}
