// The APIC timer (SDM vol. 3, 11.5.4): one-shot, periodic and TSC-deadline modes. The counter
// runs at the APIC bus clock, taken as 1 GHz (KVM's default APIC bus cycle of 1 ns), divided by
// the divide configuration, on the host clock the TSC runs from. Nothing counts per instruction:
// the deadline (host nanoseconds) sits in APIC_TIMER_DEADLINE_U64, the core compares it with the
// clock at run() entry, and the vCPU worker ends slices and HLT sleeps there.

import {
  APIC_REG_LVT_TIMER, APIC_REG_TIMER_DIVIDE, APIC_REG_TIMER_INITIAL, APIC_TIMER_DEADLINE_U64, APIC_TIMER_START_U64,
  APIC_TSC_DEADLINE_U64, REG_TSC_OFFSET_U64, REQ_KICK, TSC_HZ, VCPU_REQUEST_U32,
} from "../abi/layout";
import { hostNanoseconds } from "../cpu/system";
import { cpu } from "../cpu/state";
import { apicReg, LVT_MASKED, requestVector, setApicReg } from "./vectors";

/** LVT timer bits 17-18 (SDM figure 11-8). */
const TIMER_MODE_MASK: u32 = 3 << 17;
const TIMER_PERIODIC: u32 = 1 << 17;
const TIMER_TSC_DEADLINE: u32 = 2 << 17;

function now(): u64 {
  return <u64>hostNanoseconds();
}

function timerMode(): u32 {
  return apicReg(APIC_REG_LVT_TIMER) & TIMER_MODE_MASK;
}

/** Bus clocks per count: divide configuration bits 0, 1 and 3 (SDM figure 11-10); 111b is 1. */
function divisor(): u64 {
  const config = apicReg(APIC_REG_TIMER_DIVIDE);
  const code = (config & 3) | ((config & 8) >> 1);
  return code == 7 ? 1 : <u64>2 << code;
}

/**
 * Arms the timer for `deadline` (host ns; 0 disarms). A new deadline may fall inside the slice
 * the worker sized for the old one, so the core leaves the slice and the worker re-sizes it.
 */
function setDeadline(deadline: u64): void {
  store<u64>(cpu + APIC_TIMER_DEADLINE_U64, deadline);
  if (deadline != 0) atomic.or<u32>(cpu + VCPU_REQUEST_U32, REQ_KICK);
}

/** A write of the initial-count register (ignored in TSC-deadline mode): counting starts; 0 stops. */
export function loadCount(count: u32): void {
  if (timerMode() == TIMER_TSC_DEADLINE) return;
  setApicReg(APIC_REG_TIMER_INITIAL, count);
  const start = now();
  store<u64>(cpu + APIC_TIMER_START_U64, start);
  setDeadline(count == 0 ? 0 : start + <u64>count * divisor());
}

/**
 * A write of the divide configuration: a count in progress goes on from where it is at the new
 * rate (the divider sits between the bus clock and the counter).
 */
export function writeDivide(value: u32): void {
  const remaining = <u64>currentCount();
  setApicReg(APIC_REG_TIMER_DIVIDE, value & 0xb);
  if (remaining == 0) return;
  const initial = <u64>apicReg(APIC_REG_TIMER_INITIAL);
  const time = now();
  store<u64>(cpu + APIC_TIMER_START_U64, time - (initial - remaining) * divisor());
  setDeadline(time + remaining * divisor());
}

/** The current-count register: what is left of the count (0 when stopped or in TSC-deadline mode). */
export function currentCount(): u32 {
  const initial = <u64>apicReg(APIC_REG_TIMER_INITIAL);
  if (load<u64>(cpu + APIC_TIMER_DEADLINE_U64) == 0 || initial == 0 || timerMode() == TIMER_TSC_DEADLINE) return 0;
  const elapsed = (now() - load<u64>(cpu + APIC_TIMER_START_U64)) / divisor();
  if (timerMode() == TIMER_PERIODIC) return <u32>(initial - elapsed % initial);
  return elapsed >= initial ? 0 : <u32>(initial - elapsed);
}

/**
 * A write of the LVT timer entry. Changing the mode disarms the timer (SDM 11.5.4.1: moving
 * between TSC-deadline and the other modes disarms it), as KVM also does for one-shot/periodic.
 */
export function writeTimerLvt(value: u32): void {
  const changed = ((apicReg(APIC_REG_LVT_TIMER) ^ value) & TIMER_MODE_MASK) != 0;
  setApicReg(APIC_REG_LVT_TIMER, value);
  if (!changed) return;
  setApicReg(APIC_REG_TIMER_INITIAL, 0);
  store<u64>(cpu + APIC_TSC_DEADLINE_U64, 0);
  setDeadline(0);
}

/** IA32_TSC_DEADLINE: reads 0 outside TSC-deadline mode (SDM 11.5.4.1). */
export function readTscDeadline(): u64 {
  return timerMode() == TIMER_TSC_DEADLINE ? load<u64>(cpu + APIC_TSC_DEADLINE_U64) : 0;
}

/** A write of IA32_TSC_DEADLINE arms the timer for that TSC value (0 disarms); ignored in other modes. */
export function writeTscDeadline(value: u64): void {
  if (timerMode() != TIMER_TSC_DEADLINE) return;
  store<u64>(cpu + APIC_TSC_DEADLINE_U64, value);
  if (value == 0) {
    setDeadline(0);
    return;
  }
  // The TSC is the host clock at TSC_HZ plus REG_TSC_OFFSET_U64 (system.ts).
  const ticks = <i64>(value - load<u64>(cpu + REG_TSC_OFFSET_U64));
  setDeadline(ticks <= 0 ? 1 : <u64>(<f64>ticks * (1e9 / <f64>TSC_HZ)));
}

/**
 * Fires the timer when its deadline has passed: the LVT's vector is requested unless masked
 * (the count runs either way). One-shot stops; TSC-deadline stops and clears the MSR; periodic
 * reloads, with periods missed while nobody looked coalesced into this one interrupt.
 */
export function checkTimer(): void {
  const deadline = load<u64>(cpu + APIC_TIMER_DEADLINE_U64);
  if (deadline == 0) return;
  const time = now();
  if (time < deadline) return;
  const lvt = apicReg(APIC_REG_LVT_TIMER);
  const mode = lvt & TIMER_MODE_MASK;
  if (mode == TIMER_PERIODIC) {
    const period = <u64>apicReg(APIC_REG_TIMER_INITIAL) * divisor();
    const start = deadline + (time - deadline) / period * period;
    store<u64>(cpu + APIC_TIMER_START_U64, start);
    store<u64>(cpu + APIC_TIMER_DEADLINE_U64, start + period);
  } else {
    if (mode == TIMER_TSC_DEADLINE) store<u64>(cpu + APIC_TSC_DEADLINE_U64, 0);
    store<u64>(cpu + APIC_TIMER_DEADLINE_U64, 0);
  }
  if ((lvt & LVT_MASKED) == 0) requestVector(lvt & 0xff, false);
}
