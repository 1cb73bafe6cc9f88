// What the interrupt acceptance point (cpu/interp.ts) asks of the interrupt controller: take the
// inbox other agents filled and fire the timer (at run() entry), pick the next event to deliver
// in priority order (SDM vol. 3, 6.9: NMI, then maskable interrupts), and the HLT activity state
// the APIC wakes from. Maskable sources: the owner's injected interrupt, the 8259's INT through
// LINT0 in ExtINT mode (or the INTR pin while the APIC is disabled or hidden), the APIC's IRR.

import {
  ACTIVITY_ACTIVE, ACTIVITY_HLT, APIC_ACTIVITY_U32, APIC_EVENT_INIT, APIC_EVENT_LINT1, APIC_EVENT_NMI,
  APIC_EVENT_SIPI, APIC_EXTINT_LEVEL_U32, APIC_INBOX_EVENTS_U32, APIC_INBOX_IRR_U32, APIC_INBOX_SIPI_U32,
  APIC_INBOX_TMR_U32, APIC_INIT_U32, APIC_NMI_U32, APIC_REG_LVT_LINT0, APIC_REG_LVT_LINT1, APIC_SIPI_U32,
  EXIT_HLT, INJECT_PENDING, NMI_BLOCKED, NMI_PENDING, REG_INJECT_U32, SIPI_RECEIVED,
} from "../abi/layout";
import { requestExit } from "../cpu/exit";
import { noteEvent } from "../cpu/interp";
import { syncForExit } from "../cpu/sync";
import { cpu } from "../cpu/state";
import { apicPresent, claimPage } from "./apic";
import { checkTimer } from "./timer";
import { apicReg, deliverableVector, LVT_MASKED, requestVector, serviceVector } from "./vectors";

/** Nothing to deliver. */
export const NO_EVENT: i32 = -1;
/** Something is pending but blocked by an interrupt shadow: look again at the next boundary. */
const EVENT_WAITING: i32 = -2;
/** Added to vector 2 when the event is an NMI. */
export const EVENT_NMI: i32 = 0x100;
const NMI_VECTOR: i32 = 2;
/** LVT delivery modes, bits 8-10 (SDM figure 11-8). */
const LVT_FIXED: u32 = 0;
const LVT_NMI: u32 = 4;
const LVT_EXTINT: u32 = 7;

/**
 * Host import: the INTA cycle to the 8259 whose INT is high; returns the vector it supplies, or
 * -1 when it supplies none. The vCPU worker answers it (today through its owner).
 */
@external("env", "acknowledgeExtInt")
declare function acknowledgeExtInt(block: usize): i32;

function lvtMode(lvt: u32): u32 {
  return (lvt >> 8) & 7;
}

function raiseNmi(): void {
  store<u32>(cpu + APIC_NMI_U32, load<u32>(cpu + APIC_NMI_U32) | NMI_PENDING);
}

/** An edge on LINT1: as its LVT entry says, or an NMI when there is no APIC (the NMI pin). */
function lint1Edge(): void {
  if (!apicPresent()) {
    raiseNmi();
    return;
  }
  const lvt = apicReg(APIC_REG_LVT_LINT1);
  if ((lvt & LVT_MASKED) != 0) return;
  if (lvtMode(lvt) == LVT_NMI) raiseNmi();
  else if (lvtMode(lvt) == LVT_FIXED) requestVector(lvt & 0xff, false);
}

/** Moves what other agents posted into the APIC: fixed vectors (with their trigger mode) and events. */
function takeInbox(): void {
  const events = atomic.xchg<u32>(cpu + APIC_INBOX_EVENTS_U32, 0);
  if ((events & APIC_EVENT_NMI) != 0) raiseNmi();
  if ((events & APIC_EVENT_LINT1) != 0) lint1Edge();
  // INIT and start-up IPIs are recorded for the SMP start-up that will act on them.
  if ((events & APIC_EVENT_INIT) != 0) store<u32>(cpu + APIC_INIT_U32, load<u32>(cpu + APIC_INIT_U32) + 1);
  if ((events & APIC_EVENT_SIPI) != 0) store<u32>(cpu + APIC_SIPI_U32, atomic.load<u32>(cpu + APIC_INBOX_SIPI_U32) | SIPI_RECEIVED);
  const present = apicPresent();
  for (let i: u32 = 0; i < 8; i++) {
    const at: usize = <usize>i << 2;
    if (atomic.load<u32>(cpu + APIC_INBOX_IRR_U32 + at) == 0) continue;
    const bits = atomic.xchg<u32>(cpu + APIC_INBOX_IRR_U32 + at, 0);
    // Senders set a level interrupt's TMR bit before its IRR bit, so it is in by now.
    const level = atomic.and<u32>(cpu + APIC_INBOX_TMR_U32 + at, ~bits) & bits;
    if (!present) continue;
    for (let rest = bits; rest != 0; rest &= rest - 1) {
      const bit = ctz(rest);
      requestVector((i << 5) | bit, (level & (<u32>1 << bit)) != 0);
    }
  }
}

/** Whether the 8259's INT reaches the processor: LINT0 unmasked in ExtINT mode, or no APIC. */
function extIntRouted(): bool {
  if (!apicPresent()) return true;
  const lvt = apicReg(APIC_REG_LVT_LINT0);
  return (lvt & LVT_MASKED) == 0 && lvtMode(lvt) == LVT_EXTINT;
}

function extIntPending(): bool {
  return atomic.load<u32>(cpu + APIC_EXTINT_LEVEL_U32) != 0 && extIntRouted();
}

export function halted(): bool {
  return load<u32>(cpu + APIC_ACTIVITY_U32) == ACTIVITY_HLT;
}

/**
 * At run() entry: claims the APIC page as the MSR and the owner's hidden flag now say, takes the
 * inbox and fires the timer if due. Returns whether the acceptance point has anything to do.
 */
export function takeEvents(): bool {
  claimPage();
  takeInbox();
  if (apicPresent()) checkTimer();
  return halted() || (load<u32>(cpu + APIC_NMI_U32) & NMI_PENDING) != 0 || extIntPending() || (apicPresent() && deliverableVector() >= 0);
}

/**
 * The next event to deliver: vector 2 | EVENT_NMI, a maskable vector, NO_EVENT, or EVENT_WAITING
 * when one waits behind an interrupt shadow. `unshadowed`: no STI/MOV SS shadow; `interruptible`:
 * that and IF set. An NMI blocks further NMIs until IRET (SDM 6.7.1); a vector the APIC hands
 * over moves to its ISR. The caller has begun an instruction: the INTA import may exit to the
 * owner. What IF alone holds back needs no look until setFlags() notes IF being set, and a
 * blocked NMI none until IRET.
 */
export function nextEvent(unshadowed: bool, interruptible: bool): i32 {
  const nmiReady = (load<u32>(cpu + APIC_NMI_U32) & (NMI_PENDING | NMI_BLOCKED)) == NMI_PENDING;
  if (nmiReady && unshadowed) {
    store<u32>(cpu + APIC_NMI_U32, NMI_BLOCKED);
    return NMI_VECTOR | EVENT_NMI;
  }
  const injected = atomic.load<u32>(cpu + REG_INJECT_U32);
  const extInt = extIntPending();
  const vector = apicPresent() ? deliverableVector() : -1;
  if ((injected & INJECT_PENDING) == 0 && !extInt && vector < 0) return nmiReady ? EVENT_WAITING : NO_EVENT;
  if (!interruptible) return nmiReady || !unshadowed ? EVENT_WAITING : NO_EVENT;
  if ((injected & INJECT_PENDING) != 0) {
    atomic.store<u32>(cpu + REG_INJECT_U32, 0);
    return <i32>(injected & 0xff);
  }
  if (extInt) {
    syncForExit();
    const supplied = acknowledgeExtInt(cpu);
    if (supplied >= 0) return supplied & 0xff;
    // No vector after all (the 8259 dropped its request): the APIC's own may still go.
  }
  if (vector < 0) return NO_EVENT;
  serviceVector(vector);
  return vector;
}

/**
 * HLT at CPL 0: with an APIC the vCPU enters the HLT state in the core (the acceptance point
 * wakes it; the worker sleeps meanwhile); without one, an exit to the owner as before.
 */
export function halt(): void {
  if (!apicPresent()) {
    requestExit(EXIT_HLT);
    return;
  }
  store<u32>(cpu + APIC_ACTIVITY_U32, ACTIVITY_HLT);
  noteEvent();
}

/** An event was delivered: a halted vCPU resumes after its HLT. */
export function wake(): void {
  store<u32>(cpu + APIC_ACTIVITY_U32, ACTIVITY_ACTIVE);
}

/** IRET ends NMI blocking (SDM 6.7.1); a latched NMI may then go. */
export function endNmiBlocking(): void {
  const nmi = load<u32>(cpu + APIC_NMI_U32);
  if ((nmi & NMI_BLOCKED) == 0) return;
  store<u32>(cpu + APIC_NMI_U32, nmi & ~NMI_BLOCKED);
  if ((nmi & NMI_PENDING) != 0) noteEvent();
}
