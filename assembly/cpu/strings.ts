// String instructions (MOVS CMPS STOS LODS SCAS INS OUTS) with their REP prefixes (SDM vol. 2,
// "REP/REPE/REPZ/REPNE/REPNZ"). The source is DS:(E)SI unless overridden, the destination
// ES:(E)DI; the address size picks SI/DI/CX or ESI/EDI/ECX. A repeated instruction runs a bounded
// number of iterations per step and is then restarted, so requests and interrupts are seen
// between iterations; a fault leaves the registers at the faulting iteration, as on hardware.

import { SEG_ES } from "../abi/layout";
import { readPort, writePort } from "../guest-memory";
import { alu, ALU_CMP } from "./alu";
import { runAgain } from "./exit";
import { addrSize, dataSeg, repPrefix } from "./decode";
import { clearFault, faulted } from "./fault";
import { flags, getZF } from "./flags";
import { cachedHost, linearAddress, noteBulkWrite, readSeg, writeSeg } from "./memory";
import {
  cpu, DF, EAX, ECX, EDI, EDX, ESI, getReg, reg16, reg32, reg8, segBase, setEip, setReg, setReg16, setReg32, startEip,
} from "./state";

export const STR_MOVS = 0;
export const STR_CMPS = 1;
export const STR_STOS = 2;
export const STR_LODS = 3;
export const STR_SCAS = 4;
export const STR_INS = 5;
export const STR_OUTS = 6;

/** Iterations of a repeated instruction per step before it is restarted. */
const ITERATIONS_PER_STEP = 4096;

function index(reg: i32): u32 {
  return addrSize == 4 ? reg32(reg) : reg16(reg);
}

function advance(reg: i32, delta: u32): void {
  if (addrSize == 4) setReg32(reg, reg32(reg) + delta);
  else setReg16(reg, reg16(reg) + delta);
}

/** One iteration; returns false when it faulted. */
function iterate(op: i32, size: i32, delta: u32): bool {
  switch (op) {
    case STR_MOVS: {
      const value = readSeg(dataSeg(), index(ESI), size);
      if (faulted()) return false;
      writeSeg(SEG_ES, index(EDI), size, value);
      if (faulted()) return false;
      advance(ESI, delta);
      advance(EDI, delta);
      break;
    }
    case STR_CMPS: {
      const src = readSeg(dataSeg(), index(ESI), size);
      if (faulted()) return false;
      const dst = readSeg(SEG_ES, index(EDI), size);
      if (faulted()) return false;
      alu(ALU_CMP, src, dst, size);
      advance(ESI, delta);
      advance(EDI, delta);
      break;
    }
    case STR_STOS:
      writeSeg(SEG_ES, index(EDI), size, getReg(0, size));
      if (faulted()) return false;
      advance(EDI, delta);
      break;
    case STR_LODS: {
      const value = readSeg(dataSeg(), index(ESI), size);
      if (faulted()) return false;
      setReg(0, size, value);
      advance(ESI, delta);
      break;
    }
    case STR_SCAS: {
      const value = readSeg(SEG_ES, index(EDI), size);
      if (faulted()) return false;
      alu(ALU_CMP, getReg(0, size), value, size);
      advance(EDI, delta);
      break;
    }
    case STR_INS: {
      // The port is read first; a fault on the store would lose the datum, as on hardware.
      const value = readPort(cpu, reg16(EDX), size);
      writeSeg(SEG_ES, index(EDI), size, value);
      if (faulted()) return false;
      advance(EDI, delta);
      break;
    }
    default: { // OUTS
      const value = readSeg(dataSeg(), index(ESI), size);
      if (faulted()) return false;
      writePort(cpu, reg16(EDX), size, value);
      advance(ESI, delta);
    }
  }
  return true;
}

/**
 * REP MOVS/STOS over plain RAM, forwards with 32-bit addressing: as many elements as stay within
 * one source and one destination page (and the segment limits) are moved with one memory.copy or
 * fill. Returns how many, or 0 when this chunk must take the element-by-element path (a TLB miss,
 * MMIO, DF set, 16-bit addressing, or a forward overlap whose byte-by-byte result differs from a
 * block copy).
 */
function bulk(op: i32, size: i32, count: u32): u32 {
  if (addrSize != 4 || (flags & DF) != 0) return 0;
  const dstOffset = reg32(EDI);
  const dstLinear = segBase(SEG_ES) + dstOffset;
  let elements = min(count, (0x1000 - (dstLinear & 0xfff)) / <u32>size);
  let srcLinear: u32 = 0;
  if (op == STR_MOVS) {
    srcLinear = segBase(dataSeg()) + reg32(ESI);
    elements = min(elements, (0x1000 - (srcLinear & 0xfff)) / <u32>size);
  }
  if (elements == 0) return 0;
  const bytes = elements * <u32>size;
  linearAddress(SEG_ES, dstOffset, <i32>bytes, true);
  if (op == STR_MOVS) linearAddress(dataSeg(), reg32(ESI), <i32>bytes, false);
  if (faulted()) {
    clearFault(); // the element path raises the same fault at the exact element
    return 0;
  }
  const dst = cachedHost(dstLinear, bytes, true);
  if (dst == 0) return 0;
  if (op == STR_MOVS) {
    const src = cachedHost(srcLinear, bytes, false);
    if (src == 0 || (dst > src && dst < src + <usize>bytes)) return 0;
    memory.copy(dst, src, bytes);
    setReg32(ESI, reg32(ESI) + bytes);
  } else if (size == 1) {
    memory.fill(dst, <u8>reg8(EAX), bytes);
  } else {
    const value = getReg(EAX, size);
    for (let at: u32 = 0; at < bytes; at += <u32>size) {
      if (size == 4) store<u32>(dst + <usize>at, value);
      else store<u16>(dst + <usize>at, <u16>value);
    }
  }
  noteBulkWrite(dst, <i32>bytes);
  setReg32(EDI, dstOffset + bytes);
  return elements;
}

/** Executes string instruction `op` on `size`-byte elements, honouring REP prefixes. */
export function stringOp(op: i32, size: i32): void {
  const delta: u32 = (flags & DF) != 0 ? <u32>-size : <u32>size;
  if (repPrefix == 0) {
    iterate(op, size, delta);
    return;
  }
  const compares = op == STR_CMPS || op == STR_SCAS;
  for (let n = 0; n < ITERATIONS_PER_STEP; n++) {
    const count = index(ECX);
    if (count == 0) return;
    const done = op == STR_MOVS || op == STR_STOS ? bulk(op, size, count) : 0;
    if (done != 0) {
      setReg32(ECX, count - done);
      if (count == done) return;
      continue;
    }
    if (!iterate(op, size, delta)) return;
    if (addrSize == 4) setReg32(ECX, count - 1);
    else setReg16(ECX, count - 1);
    if (compares && (getZF() != 0) != (repPrefix == 0xf3)) return;
    if (count == 1) return;
  }
  setEip(startEip); // not finished: run this instruction again
  runAgain();
}
