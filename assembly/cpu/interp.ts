// The interpreter's step: prefixes, then the whole instruction fetched and decoded before any of
// it executes, then the handler from onebyte.ts or twobyte.ts. A faulting instruction is rolled
// back (EIP, ESP) and its exception delivered by interrupts.ts, escalating to a double fault and
// a shutdown as the SDM says (vol. 3, 6.15). Also the acceptance point for interrupts (picked by
// apic/accept.ts) and injected exceptions, and the interrupt shadow.

import {
  EXCEPTION_HAS_CODE, EXCEPTION_PENDING, EXIT_EXCEPTION, EXIT_HALTED, EXIT_NONE, EXIT_SHUTDOWN, INJECT_PENDING,
  REG_INJECT_U32, REG_INTERRUPT_SHADOW_U32, REG_PENDING_ERROR_CODE_U32, REG_PENDING_EXCEPTION_U32,
  RUN_EXIT_DETAIL_U32, RUN_EXIT_ERROR_CODE_U32, RUN_EXIT_HAS_ERROR_CODE_U32, SEG_CS, SEG_DS, SEG_ES, SEG_FS,
  SEG_GS, SEG_SS, VCPU_EXCEPTION_EXITS_U32,
} from "../abi/layout";
import {
  decodeOperands, fetch, lockAllowed, lockPrefix, resetPrefixes, setLock, setRep, setSegOverride,
  toggleAddrSize, toggleOpSize,
} from "./decode";
import {
  clearFault, DE, DF_, faultCode, faulted, faultHasCode, faultVector, GP, PF_, raise, raiseCode, STOP, TS, UD,
} from "./fault";
import { getFlags } from "./flags";
import { deliverInterrupt } from "./interrupts";
import { beginInstruction, cpu, csBig, eip, ESP, IF, reg32, setEip, setReg32, startEip } from "./state";
import { twoByte } from "./twobyte";
import { execute } from "./onebyte";
import { clearExit, exitReason } from "./exit";
import { halted, nextEvent, NO_EVENT, takeEvents, wake } from "../apic/accept";

/** ESP at the start of the instruction, restored when it faults. */
let startEsp: u32 = 0;
/**
 * Set by STI (when it sets IF), MOV SS and POP SS: no interrupt is accepted before the next
 * instruction completes (SDM vol. 3, 6.8.3). Kept in the block between run() calls.
 */
let interruptShadow = false;

/**
 * Whether the acceptance point has anything to look at (a shadow to end, an interrupt or NMI
 * waiting, the HLT state): false on almost every instruction, so the check is one global load.
 * Whatever arrives from outside comes with a kick, so it is seen at the next run() entry, where
 * this is recomputed; the guest's own changes (TPR, EOI, IRET after an NMI, setting IF) call
 * noteEvent().
 */
export let eventCheck = false;

/** Called by STI (when it sets IF), MOV SS and POP SS: the next instruction runs before any interrupt. */
export function blockInterruptsForOne(): void {
  interruptShadow = true;
  eventCheck = true;
}

/** Makes the next acceptance point look for events (the interrupt controller's state changed). */
export function noteEvent(): void {
  eventCheck = true;
}

export function loadShadow(): void {
  interruptShadow = load<u32>(cpu + REG_INTERRUPT_SHADOW_U32) != 0;
  eventCheck = takeEvents() || interruptShadow || (atomic.load<u32>(cpu + REG_INJECT_U32) & INJECT_PENDING) != 0;
}

export function storeShadow(): void {
  store<u32>(cpu + REG_INTERRUPT_SHADOW_U32, interruptShadow ? 1 : 0);
}

/**
 * The interrupt acceptance point, before each instruction: an NMI, or when IF is set and no
 * shadow is active a maskable interrupt (injected, ExtINT or the APIC's), is delivered; the
 * shadow lasts only up to here. Returns an exit reason when the delivery ends in one (a
 * shutdown, an unsupported transfer), or EXIT_HALTED when the vCPU is in HLT with nothing to take.
 */
// @ts-ignore: decorator
@inline export function acceptInterrupts(): i32 {
  return eventCheck ? acceptPending() : EXIT_NONE;
}

function acceptPending(): i32 {
  const shadowed = interruptShadow;
  interruptShadow = false;
  beginInstruction();
  clearFault();
  clearExit();
  startEsp = reg32(ESP);
  const event = nextEvent(!shadowed, !shadowed && (getFlags() & IF) != 0);
  // After a delivery another event may be pending behind it: look again at the next boundary.
  eventCheck = event != NO_EVENT;
  if (event < 0) return halted() ? EXIT_HALTED : EXIT_NONE;
  wake();
  deliverInterrupt(event & 0xff, false, 0, false, eip);
  if (faultVector == STOP) {
    setReg32(ESP, startEsp);
    clearFault();
    return exitReason;
  }
  return faulted() ? exception() : EXIT_NONE;
}

/**
 * Raises the exception the owner left in REG_PENDING_EXCEPTION_U32 (at run() entry, before any
 * instruction): delivered to the guest, escalating like any other, never as an exception exit.
 */
export function deliverPendingException(): i32 {
  const pending = load<u32>(cpu + REG_PENDING_EXCEPTION_U32);
  if ((pending & EXCEPTION_PENDING) == 0) return EXIT_NONE;
  store<u32>(cpu + REG_PENDING_EXCEPTION_U32, 0);
  // Like any event delivered to a halted vCPU, the exception ends the HLT state.
  wake();
  beginInstruction();
  clearFault();
  clearExit();
  startEsp = reg32(ESP);
  if ((pending & EXCEPTION_HAS_CODE) != 0) raiseCode(<i32>(pending & 0xff), load<u32>(cpu + REG_PENDING_ERROR_CODE_U32));
  else raise(<i32>(pending & 0xff));
  return exception(false);
}

/** Executes one instruction; returns EXIT_NONE, or why the vCPU stops. */
export function step(): i32 {
  beginInstruction();
  clearFault();
  clearExit();
  startEsp = reg32(ESP);
  const big = csBig;
  resetPrefixes(big);
  let op = fetch(1);
  // Prefixes, at most 14 before the opcode (an instruction is at most 15 bytes).
  for (let n = 0; unchecked(PREFIXES[op]) != 0 && applyPrefix(op, big); n++) {
    if (n == 14) {
      raiseCode(GP, 0);
      break;
    }
    op = fetch(1);
  }
  // The whole instruction is fetched before any of it executes, so a fetch fault changes nothing.
  const index = op == 0x0f ? 0x100 | <i32>fetch(1) : <i32>op;
  if (!faulted()) decodeOperands(index);
  if (!faulted() && lockPrefix && !lockAllowed(index)) raise(UD);
  if (!faulted()) {
    if (index >= 0x100) twoByte(<u32>index & 0xff);
    else execute(op);
  }
  if (faultVector == STOP) {
    setEip(startEip);
    setReg32(ESP, startEsp);
    clearFault();
    return exitReason;
  }
  if (faulted()) return exception();
  // IP wraps at 64 KiB in 16-bit code: the code segment's size after the instruction counts
  // (a far jump may just have entered 32-bit code).
  if (!csBig) setEip(eip & 0xffff);
  return exitReason;
}

/** Non-zero for the prefix bytes, so an opcode costs one table load rather than a compare chain. */
const PREFIXES: StaticArray<u8> = [
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, // 26 ES, 2E CS
  0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, // 36 SS, 3E DS
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, // 64 FS, 65 GS, 66 operand size, 67 address size
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // F0 LOCK, F2 REPNE, F3 REP
];

/** Applies prefix byte `op` (in 32-bit code when `big`); returns true (false only for an opcode). */
function applyPrefix(op: u32, big: bool): bool {
  switch (op) {
    case 0x66: toggleOpSize(big); return true;
    case 0x67: toggleAddrSize(big); return true;
    case 0x26: setSegOverride(SEG_ES); return true;
    case 0x2e: setSegOverride(SEG_CS); return true;
    case 0x36: setSegOverride(SEG_SS); return true;
    case 0x3e: setSegOverride(SEG_DS); return true;
    case 0x64: setSegOverride(SEG_FS); return true;
    case 0x65: setSegOverride(SEG_GS); return true;
    case 0xf0: setLock(); return true;
    case 0xf2: case 0xf3: setRep(<i32>op); return true;
    default: return false;
  }
}

/**
 * Ends an instruction of a decoded block (block-run.ts) that faulted, as step() ends one: the
 * instruction is the one at startEip and has not moved ESP.
 */
export function blockFault(): i32 {
  startEsp = reg32(ESP);
  if (faultVector == STOP) {
    setEip(startEip);
    clearFault();
    return exitReason;
  }
  return exception();
}

/** Contributory exceptions (SDM vol. 3, table 6-5): two in a row make a double fault. */
function contributory(vector: i32): bool {
  return vector == DE || (vector >= TS && vector <= GP);
}

/**
 * Rolls the faulting instruction back and delivers its exception: through the IDT (or IVT), as a
 * double fault when delivering it faults in the SDM's combinations, as a shutdown (triple
 * fault) when the double fault cannot be delivered either, or as an exit when the owner asked
 * for this vector in VCPU_EXCEPTION_EXITS_U32.
 */
function exception(allowExits: bool = true): i32 {
  let vector = faultVector;
  let code = faultCode;
  let hasCode = faultHasCode;
  clearFault();
  for (;;) {
    setEip(startEip);
    setReg32(ESP, startEsp);
    if (allowExits && vector < 32 && (load<u32>(cpu + VCPU_EXCEPTION_EXITS_U32) & (<u32>1 << vector)) != 0) {
      return stopWithException(vector, code, hasCode);
    }
    deliverInterrupt(vector, hasCode, code, false, startEip);
    if (!faulted()) return EXIT_NONE;
    if (faultVector == STOP) {
      clearFault();
      return exitReason;
    }
    const second = faultVector;
    if (vector == DF_) {
      clearFault();
      return EXIT_SHUTDOWN;
    }
    if ((contributory(vector) && contributory(second)) || (vector == PF_ && (contributory(second) || second == PF_))) {
      vector = DF_;
      code = 0;
      hasCode = true;
    } else {
      vector = second;
      code = faultCode;
      hasCode = faultHasCode;
    }
    clearFault();
  }
  return EXIT_NONE; // not reached: every iteration returns or escalates towards a shutdown
}

function stopWithException(vector: i32, code: u32, hasCode: bool): i32 {
  store<u32>(cpu + RUN_EXIT_DETAIL_U32, <u32>vector);
  store<u32>(cpu + RUN_EXIT_ERROR_CODE_U32, code);
  store<u32>(cpu + RUN_EXIT_HAS_ERROR_CODE_U32, hasCode ? 1 : 0);
  clearFault();
  return EXIT_EXCEPTION;
}
