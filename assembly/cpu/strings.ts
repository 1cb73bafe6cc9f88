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
import { faulted } from "./fault";
import { flags, getZF } from "./flags";
import { readSeg, writeSeg } from "./memory";
import { cpu, DF, ECX, EDI, EDX, ESI, getReg, reg16, reg32, setEip, setReg, setReg16, setReg32, startEip } from "./state";

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
    if (!iterate(op, size, delta)) return;
    if (addrSize == 4) setReg32(ECX, count - 1);
    else setReg16(ECX, count - 1);
    if (compares && (getZF() != 0) != (repPrefix == 0xf3)) return;
    if (count == 1) return;
  }
  setEip(startEip); // not finished: run this instruction again
  runAgain();
}
