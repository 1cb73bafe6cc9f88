// The local APIC's register file in xAPIC mode (SDM vol. 3, 11.4): the IA32_APIC_BASE MSR and the
// 4 KiB page it places, reads and writes of that page (handled here, never an exit), and the
// power-up state. The registers live in the vCPU block's register image (layout.ts), so the host
// reads and snapshots them by tag; PPR, APR and the current count are computed when read.

import {
  APIC_BASE_MSR_U64, APIC_ESR_PENDING_U32, APIC_HIDDEN_U32, APIC_PAGE_U64, APIC_REG_APR, APIC_REG_DFR, APIC_REG_EOI,
  APIC_REG_ESR, APIC_REG_ICR_HIGH, APIC_REG_ICR_LOW, APIC_REG_ID, APIC_REG_IRR, APIC_REG_ISR, APIC_REG_LDR,
  APIC_REG_LVT_ERROR, APIC_REG_LVT_LINT0, APIC_REG_LVT_LINT1, APIC_REG_LVT_PERF, APIC_REG_LVT_THERMAL,
  APIC_REG_LVT_TIMER, APIC_REG_PPR, APIC_REG_SVR, APIC_REG_TIMER_CURRENT, APIC_REG_TIMER_DIVIDE,
  APIC_REG_TIMER_INITIAL, APIC_REG_TMR, APIC_REG_TPR, APIC_REG_VERSION, APIC_REGS_BASE, APIC_REGS_SIZE, APIC_END,
  IOAPIC_EOI_GPA, VCPU_INDEX_U32,
} from "../abi/layout";
import { writePhys } from "../guest-memory";
import { noteEvent } from "../cpu/interp";
import { flushTlb } from "../cpu/memory";
import { cpu } from "../cpu/state";
import { sendIpi } from "./ipi";
import { currentCount, loadCount, readTscDeadline, writeDivide, writeTimerLvt, writeTscDeadline } from "./timer";
import {
  apicError, apicReg, arbitrationPriority, endOfInterrupt, ESR_ILLEGAL_REGISTER, LVT_MASKED, processorPriority,
  setApicReg, SVR_ENABLED,
} from "./vectors";

export const MSR_APIC_BASE: u32 = 0x1b;
export const MSR_TSC_DEADLINE: u32 = 0x6e0;
/** IA32_APIC_BASE bits (SDM 11.4.4): BSP flag, global enable, the page (MAXPHYADDR 36). */
const BASE_BSP: u64 = 1 << 8;
const BASE_ENABLE: u64 = 1 << 11;
const BASE_ADDRESS: u64 = 0xffffff000;
const DEFAULT_BASE: u64 = 0xfee00000;
/** Version register: version 14h (an integrated APIC), max LVT entry 5 (six LVTs). */
const VERSION: u32 = 0x00050014;
/** Writable bits of each LVT entry (SDM figure 11-8): vector, delivery mode, polarity, trigger, mask, timer mode. */
const LVT_TIMER_BITS: u32 = 0x600ff | LVT_MASKED;
const LVT_LOCAL_BITS: u32 = 0x7ff | LVT_MASKED;
const LVT_LINT_BITS: u32 = 0xa7ff | LVT_MASKED;
const LVT_ERROR_BITS: u32 = 0xff | LVT_MASKED;
/** SVR: vector, APIC software enable, focus processor checking (EOI-broadcast suppression is not offered). */
const SVR_BITS: u32 = 0x3ff;

/** Whether the guest sees an APIC at all: not hidden by the owner and globally enabled. */
export function apicPresent(): bool {
  return load<u32>(cpu + APIC_HIDDEN_U32) == 0 && (load<u64>(cpu + APIC_BASE_MSR_U64) & BASE_ENABLE) != 0;
}

/** Whether the guest may use the APIC's MSRs and CPUID bits (not hidden). */
export function apicVisible(): bool {
  return load<u32>(cpu + APIC_HIDDEN_U32) == 0;
}

/** Recomputes which physical page the APIC claims (APIC_PAGE_U64, read by guest-memory.ts). */
export function claimPage(): void {
  const base = load<u64>(cpu + APIC_BASE_MSR_U64);
  store<u64>(cpu + APIC_PAGE_U64, apicPresent() ? (base & BASE_ADDRESS) | 1 : 0);
}

/**
 * Power-up and RESET state (SDM 11.4.7.1): IRR, ISR, TMR, ICR, LDR, TPR, the timer and ESR zero,
 * DFR all ones, every LVT masked, SVR 0FFh (software-disabled); the ID is the vCPU index; the
 * APIC is globally enabled at FEE00000h, the BSP flag set on vCPU 0. The owner's hidden flag and
 * the inbox are not the APIC's to reset.
 */
export function resetApic(): void {
  memory.fill(cpu + APIC_REGS_BASE, 0, APIC_REGS_SIZE);
  memory.fill(cpu + APIC_BASE_MSR_U64, 0, APIC_END - APIC_BASE_MSR_U64);
  const index = load<u32>(cpu + VCPU_INDEX_U32);
  setApicReg(APIC_REG_ID, index << 24);
  setApicReg(APIC_REG_VERSION, VERSION);
  setApicReg(APIC_REG_DFR, 0xffffffff);
  setApicReg(APIC_REG_SVR, 0xff);
  for (let reg = APIC_REG_LVT_TIMER; reg <= APIC_REG_LVT_ERROR; reg += 0x10) setApicReg(reg, LVT_MASKED);
  store<u64>(cpu + APIC_BASE_MSR_U64, DEFAULT_BASE | BASE_ENABLE | (index == 0 ? BASE_BSP : 0));
  claimPage();
}

/** RDMSR of IA32_APIC_BASE or IA32_TSC_DEADLINE; the caller raises #GP when the APIC is hidden. */
export function readApicMsr(index: u32): u64 {
  return index == MSR_APIC_BASE ? load<u64>(cpu + APIC_BASE_MSR_U64) : readTscDeadline();
}

/**
 * WRMSR of IA32_APIC_BASE or IA32_TSC_DEADLINE; returns false for a value the SDM makes #GP
 * (reserved bits, or x2APIC enable, bit 10, which this APIC does not offer). The BSP flag is
 * read-only here.
 */
export function writeApicMsr(index: u32, value: u64): bool {
  if (index == MSR_TSC_DEADLINE) {
    writeTscDeadline(value);
    return true;
  }
  if ((value & ~(BASE_ADDRESS | BASE_ENABLE | BASE_BSP)) != 0) return false;
  const old = load<u64>(cpu + APIC_BASE_MSR_U64);
  store<u64>(cpu + APIC_BASE_MSR_U64, (value & (BASE_ADDRESS | BASE_ENABLE)) | (old & BASE_BSP));
  claimPage();
  // The TLB may hold RAM at the page the APIC now covers.
  flushTlb(false);
  noteEvent();
  return true;
}

/** ISR, TMR and IRR: 24 read-only registers from 100h to 27Fh. */
function inBitmaps(reg: u32): bool {
  return reg >= <u32>APIC_REG_ISR && reg < <u32>APIC_REG_IRR + 0x80;
}

/** The 32-bit register at `reg` (a 16-byte-aligned offset) as the guest reads it. */
function readRegister(reg: u32): u32 {
  switch (reg) {
    case APIC_REG_ID: case APIC_REG_VERSION: case APIC_REG_TPR: case APIC_REG_LDR: case APIC_REG_DFR:
    case APIC_REG_SVR: case APIC_REG_ESR: case APIC_REG_ICR_LOW: case APIC_REG_ICR_HIGH: case APIC_REG_LVT_TIMER:
    case APIC_REG_LVT_THERMAL: case APIC_REG_LVT_PERF: case APIC_REG_LVT_LINT0: case APIC_REG_LVT_LINT1:
    case APIC_REG_LVT_ERROR: case APIC_REG_TIMER_INITIAL: case APIC_REG_TIMER_DIVIDE:
      return apicReg(reg);
    case APIC_REG_APR: return arbitrationPriority();
    case APIC_REG_PPR: return processorPriority();
    case APIC_REG_EOI: return 0;
    case APIC_REG_TIMER_CURRENT: return currentCount();
    default:
      if (inBitmaps(reg)) return apicReg(reg);
      apicError(ESR_ILLEGAL_REGISTER);
      return 0;
  }
}

/**
 * A read of the APIC page at `offset`. Registers are 32 bits at 16-byte-aligned offsets (SDM
 * 11.4.1); a narrower read inside those 32 bits gets its bytes (model-specific on hardware), and
 * the other 12 bytes of each slot read as zero.
 */
export function readApicPage(offset: u32, size: i32): u64 {
  const byte = offset & 0xf;
  if (byte + <u32>size > 4) return 0;
  const value = <u64>readRegister(offset & 0xff0) >> (<u64>byte << 3);
  return size == 4 ? value : value & ((<u64>1 << (<u64>size << 3)) - 1);
}

/** A write of the APIC page: only 32-bit writes at a register's offset take effect (SDM 11.4.1). */
export function writeApicPage(offset: u32, size: i32, value: u32): void {
  if (size != 4 || (offset & 0xf) != 0) return;
  const softwareEnabled = (apicReg(APIC_REG_SVR) & SVR_ENABLED) != 0;
  // A software-disabled APIC keeps every LVT masked (SDM 11.4.7.2).
  const forcedMask: u32 = softwareEnabled ? 0 : LVT_MASKED;
  switch (offset) {
    case APIC_REG_ID: case APIC_REG_LDR: case APIC_REG_ICR_HIGH:
      setApicReg(offset, value & 0xff000000);
      break;
    case APIC_REG_TPR:
      setApicReg(offset, value & 0xff);
      noteEvent();
      break;
    case APIC_REG_EOI: {
      const level = endOfInterrupt();
      // A level-triggered interrupt's EOI goes to the IOAPIC as a posted write, not waited for.
      if (level >= 0) writePhys(cpu, IOAPIC_EOI_GPA, 4, <u64>level, true);
      noteEvent();
      break;
    }
    case APIC_REG_DFR:
      setApicReg(offset, value | 0x0fffffff);
      break;
    case APIC_REG_SVR:
      setApicReg(offset, value & SVR_BITS);
      if ((value & SVR_ENABLED) == 0) {
        for (let reg = APIC_REG_LVT_TIMER; reg <= APIC_REG_LVT_ERROR; reg += 0x10) setApicReg(reg, apicReg(reg) | LVT_MASKED);
      }
      noteEvent();
      break;
    case APIC_REG_ESR: // write, then read (SDM 11.5.3): the errors logged since the last write
      setApicReg(offset, load<u32>(cpu + APIC_ESR_PENDING_U32));
      store<u32>(cpu + APIC_ESR_PENDING_U32, 0);
      break;
    case APIC_REG_ICR_LOW:
      setApicReg(offset, value & 0xccfff);
      sendIpi();
      break;
    case APIC_REG_LVT_TIMER: writeTimerLvt((value & LVT_TIMER_BITS) | forcedMask); break;
    case APIC_REG_LVT_THERMAL: case APIC_REG_LVT_PERF: setApicReg(offset, (value & LVT_LOCAL_BITS) | forcedMask); break;
    case APIC_REG_LVT_LINT0: case APIC_REG_LVT_LINT1:
      setApicReg(offset, (value & LVT_LINT_BITS) | forcedMask);
      noteEvent();
      break;
    case APIC_REG_LVT_ERROR: setApicReg(offset, (value & LVT_ERROR_BITS) | forcedMask); break;
    case APIC_REG_TIMER_INITIAL: loadCount(value); break;
    case APIC_REG_TIMER_DIVIDE: writeDivide(value); break;
    case APIC_REG_VERSION: case APIC_REG_APR: case APIC_REG_PPR: case APIC_REG_TIMER_CURRENT:
      break;
    default:
      if (!inBitmaps(offset)) apicError(ESR_ILLEGAL_REGISTER);
  }
}
