// The local APIC's fixed-interrupt state (SDM vol. 3, 11.8): IRR, ISR and TMR as 256-bit sets in
// the register image, the processor priority, acceptance of a vector into the IRR, the hand-over
// of the highest deliverable vector to the ISR, EOI, and the error status register's log.

import {
  APIC_ESR_PENDING_U32, APIC_REG_ISR, APIC_REG_IRR, APIC_REG_LVT_ERROR, APIC_REG_SVR, APIC_REG_TMR, APIC_REG_TPR,
  APIC_REGS_BASE,
} from "../abi/layout";
import { cpu } from "../cpu/state";

/** LVT bit 16: the entry is masked (SDM 11.5.1). */
export const LVT_MASKED: u32 = 1 << 16;
/** SVR bit 8: the APIC is software-enabled (SDM 11.4.7.2). */
export const SVR_ENABLED: u32 = 1 << 8;
/** ESR bits (SDM 11.5.3, figure 11-9). */
export const ESR_SEND_ILLEGAL_VECTOR: u32 = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR: u32 = 1 << 6;
export const ESR_ILLEGAL_REGISTER: u32 = 1 << 7;

/** A register of the image (its xAPIC offset). */
// @ts-ignore: decorator
@inline export function apicReg(offset: u32): u32 {
  return load<u32>(cpu + APIC_REGS_BASE + <usize>offset);
}

// @ts-ignore: decorator
@inline export function setApicReg(offset: u32, value: u32): void {
  store<u32>(cpu + APIC_REGS_BASE + <usize>offset, value);
}

/** The word of the 256-bit register at `set` holding `vector`: eight registers 16 bytes apart. */
// @ts-ignore: decorator
@inline function wordOf(set: u32, vector: u32): usize {
  return cpu + APIC_REGS_BASE + <usize>set + (<usize>(vector >> 5) << 4);
}

function setBit(set: u32, vector: u32): void {
  const at = wordOf(set, vector);
  store<u32>(at, load<u32>(at) | (<u32>1 << (vector & 31)));
}

function clearBit(set: u32, vector: u32): void {
  const at = wordOf(set, vector);
  store<u32>(at, load<u32>(at) & ~(<u32>1 << (vector & 31)));
}

function testBit(set: u32, vector: u32): bool {
  return (load<u32>(wordOf(set, vector)) & (<u32>1 << (vector & 31))) != 0;
}

/** The highest vector in the 256-bit register at `set`, or -1 when it is empty. */
function highestVector(set: u32): i32 {
  for (let i: i32 = 7; i >= 0; i--) {
    const bits = load<u32>(cpu + APIC_REGS_BASE + <usize>set + (<usize>i << 4));
    if (bits != 0) return (i << 5) | (31 - <i32>clz(bits));
  }
  return -1;
}

/**
 * PPR (SDM 11.8.3.1): the TPR when its priority class is at least that of the highest vector in
 * service, otherwise that class with sub-class 0.
 */
export function processorPriority(): u32 {
  const tpr = apicReg(APIC_REG_TPR) & 0xff;
  const isrv = highestVector(APIC_REG_ISR);
  const isrClass: u32 = isrv < 0 ? 0 : <u32>isrv & 0xf0;
  return (tpr & 0xf0) >= isrClass ? tpr : isrClass;
}

/**
 * APR (SDM 11.8.3, P6 family): the TPR when its class is at least the highest requested one and
 * above the highest in service; otherwise the highest of the three classes.
 */
export function arbitrationPriority(): u32 {
  const tpr = apicReg(APIC_REG_TPR) & 0xff;
  const irrv = highestVector(APIC_REG_IRR);
  const isrv = highestVector(APIC_REG_ISR);
  const irrClass: u32 = irrv < 0 ? 0 : <u32>irrv & 0xf0;
  const isrClass: u32 = isrv < 0 ? 0 : <u32>isrv & 0xf0;
  if ((tpr & 0xf0) >= irrClass && (tpr & 0xf0) > isrClass) return tpr;
  return max(tpr & 0xf0, max(irrClass, isrClass));
}

/**
 * Records an APIC error in the ESR's log (read after the next ESR write) and signals it through
 * the LVT error entry when that is unmasked (SDM 11.5.3).
 */
export function apicError(bits: u32): void {
  store<u32>(cpu + APIC_ESR_PENDING_U32, load<u32>(cpu + APIC_ESR_PENDING_U32) | bits);
  const lvt = apicReg(APIC_REG_LVT_ERROR);
  if ((lvt & LVT_MASKED) == 0 && (lvt & 0xff) >= 16) requestVector(lvt & 0xff, false);
}

/**
 * A fixed interrupt accepted by this APIC (SDM 11.8.4): its IRR bit set, its TMR bit set for a
 * level-triggered one and cleared for an edge. Vectors 0-15 are illegal (ESR bit 6); a
 * software-disabled APIC takes none (its LVTs are masked and fixed messages are dropped).
 */
export function requestVector(vector: u32, level: bool): void {
  if (vector < 16) {
    apicError(ESR_RECEIVE_ILLEGAL_VECTOR);
    return;
  }
  if ((apicReg(APIC_REG_SVR) & SVR_ENABLED) == 0) return;
  setBit(APIC_REG_IRR, vector);
  if (level) setBit(APIC_REG_TMR, vector);
  else clearBit(APIC_REG_TMR, vector);
}

/** The highest requested vector whose priority class is above the PPR's (SDM 11.8.3.1), or -1. */
export function deliverableVector(): i32 {
  const irrv = highestVector(APIC_REG_IRR);
  if (irrv < 0) return -1;
  return (<u32>irrv & 0xf0) > (processorPriority() & 0xf0) ? irrv : -1;
}

/** The processor takes `vector`: it moves from the IRR to the ISR (SDM 11.8.4). */
export function serviceVector(vector: i32): void {
  clearBit(APIC_REG_IRR, <u32>vector);
  setBit(APIC_REG_ISR, <u32>vector);
}

/**
 * EOI (SDM 11.8.5): clears the highest ISR bit. Returns that vector when its TMR bit is set (a
 * level-triggered interrupt, whose EOI goes on to the IOAPIC), otherwise -1.
 */
export function endOfInterrupt(): i32 {
  const vector = highestVector(APIC_REG_ISR);
  if (vector < 0) return -1;
  clearBit(APIC_REG_ISR, <u32>vector);
  return testBit(APIC_REG_TMR, <u32>vector) ? vector : -1;
}
