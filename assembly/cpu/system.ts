// System instructions (SDM vol. 2 under each mnemonic; vol. 3 chapters 2-5): descriptor-table
// registers (LGDT SGDT LIDT SIDT LLDT SLDT LTR STR), segment inspection (LAR LSL VERR VERW ARPL),
// control and debug registers, MSRs (RDMSR WRMSR), fast system calls (SYSENTER SYSEXIT) and
// CPUID. CPL-0-only ones raise #GP(0) elsewhere.

import {
  REG_DR_U64, REG_GDTR_BASE_U64, REG_GDTR_LIMIT_U32, REG_IDTR_BASE_U64, REG_IDTR_LIMIT_U32,
  REG_SYSENTER_CS_U32, REG_SYSENTER_EIP_U32, REG_SYSENTER_ESP_U32, REG_TSC_OFFSET_U64, SEG_CS, SEG_LDTR,
  SEG_SS, SEG_TR, TSC_HZ, REG_EFER_U32, VCPU_INDEX_U32,
} from "../abi/layout";
import { apicPresent, apicVisible, MSR_APIC_BASE, MSR_TSC_DEADLINE, readApicMsr, writeApicMsr } from "../apic/apic";
import { modrmMod, modrmReg, modrmRm, eaOffset, eaSeg, lockPrefix, opSize, readE, readG, writeE, writeG } from "./decode";
import {
  descAttrs, descBase, descDpl, descLimit, DESC_CODE, DESC_CONFORMING, DESC_P, DESC_RW, DESC_S, setBusyBit,
  readDescriptor, READ_OUTSIDE, TYPE_LDT, TYPE_TSS16_AVAILABLE, TYPE_TSS32_AVAILABLE,
} from "./descriptors";
 "./exit";
import { faulted, GP, NP, raise, raiseCode, UD } from "./fault";
import { getFlags, setArith, setFlags } from "./flags";
import { flushTlb, flushTlbPage, readSeg, updatePrivilege, writeSeg } from "./memory";
import { isKvmClockMsr, KVM_FEATURES, readKvmClockMsr, writeKvmClockMsr } from "./kvmclock";
import { selectorFault } from "./segments";
import {
  cpl, cpu, cr, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, EAX, EBX, ECX, EDX, EFER_NXE, ESP, IF,
  protectedMode, reg32,
  RF, segBase, segSelector, setCr, setEip, setReg32, setSegment, VM, ZF,
} from "./state";

export const CR0_TS: u32 = 1 << 3;
const CR4_TSD: u32 = 1 << 2;
const CR4_DE: u32 = 1 << 3;
/** Flat 4 GiB segments as SYSENTER/SYSEXIT load them: G, D/B, present, code or data, and the DPL. */
const FLAT_CODE: u32 = 0xc09b;
const FLAT_DATA: u32 = 0xc093;

/** System instructions that need CPL 0 raise #GP(0) otherwise. */
export function privileged(): bool {
  if (cpl() != 0) {
    raiseCode(GP, 0);
    return false;
  }
  return true;
}

/** The protected-mode-only instructions raise #UD in real mode. */
function protectedOnly(): bool {
  if (!protectedMode()) {
    raise(UD);
    return false;
  }
  return true;
}

// ---- Group 6: SLDT STR LLDT LTR VERR VERW ----

export function group6(): void {
  if (!protectedOnly()) return;
  switch (modrmReg) {
    case 0: case 1: // SLDT / STR: a register destination takes the zero-extended selector
      writeE(modrmMod == 3 ? opSize : 2, segSelector(modrmReg == 0 ? SEG_LDTR : SEG_TR));
      return;
    case 2: case 3: {
      if (!privileged()) return;
      const selector = readE(2);
      if (!faulted()) {
        if (modrmReg == 2) loadLdt(selector);
        else loadTaskRegister(selector);
      }
      return;
    }
    case 4: case 5: {
      const selector = readE(2);
      if (!faulted()) verify(selector, modrmReg == 5);
      return;
    }
    default:
      raise(UD);
  }
}

/** LLDT: a null selector leaves the LDT unusable; otherwise an LDT descriptor from the GDT. */
function loadLdt(selector: u32): void {
  if ((selector & 0xfffc) == 0) {
    setSegment(SEG_LDTR, selector, 0, 0, 0);
    return;
  }
  if ((selector & 4) != 0 || readDescriptor(selector) == READ_OUTSIDE) {
    selectorFault(GP, selector, 0);
    return;
  }
  if (faulted()) return;
  if ((descAttrs & 0x1f) != TYPE_LDT) {
    selectorFault(GP, selector, 0);
    return;
  }
  if ((descAttrs & DESC_P) == 0) {
    selectorFault(NP, selector, 0);
    return;
  }
  setSegment(SEG_LDTR, selector, descBase, descLimit, descAttrs);
}

/** LTR: an available TSS from the GDT, which becomes busy. */
function loadTaskRegister(selector: u32): void {
  if ((selector & 0xfffc) == 0) {
    raiseCode(GP, 0);
    return;
  }
  if ((selector & 4) != 0 || readDescriptor(selector) == READ_OUTSIDE) {
    selectorFault(GP, selector, 0);
    return;
  }
  if (faulted()) return;
  const type = descAttrs & 0x1f;
  if (type != TYPE_TSS16_AVAILABLE && type != TYPE_TSS32_AVAILABLE) {
    selectorFault(GP, selector, 0);
    return;
  }
  if ((descAttrs & DESC_P) == 0) {
    selectorFault(NP, selector, 0);
    return;
  }
  setBusyBit(true);
  if (!faulted()) setSegment(SEG_TR, selector, descBase, descLimit, descAttrs);
}

/**
 * Whether the descriptor `selector` names may be inspected at the current CPL and its RPL (the
 * LAR/LSL/VERR/VERW privilege rule: DPL >= CPL and DPL >= RPL, except for conforming code).
 */
function inspectable(selector: u32): bool {
  if ((selector & 0xfffc) == 0 || readDescriptor(selector) != 0) return false;
  const conformingCode = (descAttrs & (DESC_S | DESC_CODE | DESC_CONFORMING)) == (DESC_S | DESC_CODE | DESC_CONFORMING);
  return conformingCode || (descDpl() >= cpl() && descDpl() >= (selector & 3));
}

function setZf(on: bool): void {
  setArith(on ? getFlags() | ZF : getFlags() & ~ZF);
}

/** VERR (readable) / VERW (writable) at the current privilege: ZF. */
function verify(selector: u32, write: bool): void {
  const ok = inspectable(selector) && (descAttrs & DESC_S) != 0;
  if (faulted()) return;
  const code = (descAttrs & DESC_CODE) != 0;
  setZf(ok && (write ? !code && (descAttrs & DESC_RW) != 0 : !code || (descAttrs & DESC_RW) != 0));
}

/** LAR (access rights) / LSL (segment limit): ZF, and the result when the descriptor qualifies. */
export function loadAccessRightsOrLimit(limit: bool): void {
  if (!protectedOnly()) return;
  const selector = readE(2);
  if (faulted()) return;
  let ok = inspectable(selector);
  if (faulted()) return;
  if (ok && (descAttrs & DESC_S) == 0) {
    // System types LAR accepts: TSSs, LDT, call and task gates; LSL: TSSs and LDT only.
    const type = descAttrs & 0xf;
    ok = type == 1 || type == 2 || type == 3 || type == 9 || type == 0xb || (!limit && (type == 4 || type == 5 || type == 0xc));
  }
  setZf(ok);
  if (!ok) return;
  if (limit) writeG(opSize, descLimit);
  else writeG(opSize, (((descAttrs & 0xff) << 8) | ((descAttrs & 0xf000) << 8)) & (opSize == 2 ? 0xff00 : 0xf0ff00));
}

/** ARPL Ew,Gw: raises the destination selector's RPL to the source's. */
export function adjustRpl(): void {
  if (!protectedOnly()) return;
  const dst = readE(2);
  if (faulted()) return;
  const src = readG(2);
  if ((dst & 3) < (src & 3)) {
    writeE(2, (dst & ~3) | (src & 3));
    if (!faulted()) setZf(true);
  } else {
    setZf(false);
  }
}

// ---- Group 7: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG ----

export function group7(): void {
  const memory = modrmMod != 3;
  switch (modrmReg) {
    case 0: case 1: { // SGDT / SIDT: limit, then a 32-bit base (24 bits with a 16-bit operand size)
      if (!memory) {
        raise(UD);
        return;
      }
      const base = <u32>load<u64>(cpu + (modrmReg == 0 ? REG_GDTR_BASE_U64 : REG_IDTR_BASE_U64));
      const limit = load<u32>(cpu + (modrmReg == 0 ? REG_GDTR_LIMIT_U32 : REG_IDTR_LIMIT_U32));
      writeSeg(eaSeg, eaOffset, 2, limit);
      writeSeg(eaSeg, eaOffset + 2, 4, opSize == 2 ? base & 0xffffff : base);
      return;
    }
    case 2: case 3: { // LGDT / LIDT
      if (!memory) {
        raise(UD);
        return;
      }
      if (!privileged()) return;
      const limit = readSeg(eaSeg, eaOffset, 2);
      const base = readSeg(eaSeg, eaOffset + 2, 4);
      if (faulted()) return;
      store<u64>(cpu + (modrmReg == 2 ? REG_GDTR_BASE_U64 : REG_IDTR_BASE_U64), <u64>(opSize == 2 ? base & 0xffffff : base));
      store<u32>(cpu + (modrmReg == 2 ? REG_GDTR_LIMIT_U32 : REG_IDTR_LIMIT_U32), limit);
      return;
    }
    case 4: // SMSW: the low bits of CR0 (all of them into a 32-bit register)
      writeE(memory ? 2 : opSize, cr(0));
      return;
    case 6: { // LMSW: sets PE MP EM TS; cannot clear PE
      if (!privileged()) return;
      const value = readE(2);
      if (faulted()) return;
      writeCr0((cr(0) & ~0xe) | (value & 0xf) | (cr(0) & CR0_PE));
      return;
    }
    case 7: // INVLPG
      if (!memory) {
        raise(UD);
        return;
      }
      if (privileged()) flushTlbPage(segBase(eaSeg) + eaOffset);
      return;
    default:
      raise(UD);
  }
}

// ---- Control and debug registers ----

/** Writes CR0, flushing the TLB when paging or write protection changes. */
function writeCr0(value: u32): void {
  const old = cr(0);
  setCr(0, value | 0x10); // ET is hardwired to 1
  if (((old ^ value) & (CR0_PG | CR0_PE | CR0_WP)) != 0) flushTlb(false);
  updatePrivilege();
}

/** MOV r32,CRn (0F 20) and MOV CRn,r32 (0F 22). The ModRM mod field is ignored. */
export function moveControlRegister(toCr: bool): void {
  if (lockPrefix) {
    raise(UD);
    return;
  }
  if (!privileged()) return;
  const n = modrmReg;
  if (n == 1 || n > 4) {
    raise(UD);
    return;
  }
  if (!toCr) {
    setReg32(modrmRm, cr(n));
    return;
  }
  const value = reg32(modrmRm);
  switch (n) {
    case 0:
      if ((value & CR0_PG) != 0 && (value & CR0_PE) == 0) {
        raiseCode(GP, 0);
        return;
      }
      writeCr0(value);
      break;
    case 3:
      setCr(3, value);
      flushTlb(true);
      break;
    case 4: {
      const old = cr(4);
      setCr(4, value);
      if (((old ^ value) & (CR4_PGE | CR4_PSE | CR4_PAE)) != 0) flushTlb(false);
      break;
    }
    default:
      setCr(n, value);
  }
}

/** MOV r32,DRn (0F 21) and MOV DRn,r32 (0F 23); DR4/DR5 alias DR6/DR7 unless CR4.DE. Breakpoints are not armed. */
export function moveDebugRegister(toDr: bool): void {
  if (!privileged()) return;
  let n = modrmReg;
  if (n == 4 || n == 5) {
    if ((cr(4) & CR4_DE) != 0) {
      raise(UD);
      return;
    }
    n += 2;
  }
  const at = cpu + REG_DR_U64 + (<usize>n << 3);
  if (toDr) store<u64>(at, <u64>reg32(modrmRm));
  else setReg32(modrmRm, <u32>load<u64>(at));
}

// ---- MSRs and fast system calls ----

const MSR_TSC: u32 = 0x10;
const MSR_SYSENTER_CS: u32 = 0x174;
const MSR_SYSENTER_ESP: u32 = 0x175;
const MSR_SYSENTER_EIP: u32 = 0x176;

const MSR_EFER: u32 = 0xc0000080;

/** IA32_APIC_BASE and IA32_TSC_DEADLINE exist while the APIC is not hidden (apic/apic.ts). */
function isApicMsr(index: u32): bool {
  return (index == MSR_APIC_BASE || index == MSR_TSC_DEADLINE) && apicVisible();
}

/** Block address of MSR `index`, or 0 for one the core does not implement. */
function msrField(index: u32): usize {
  switch (index) {
    case MSR_EFER: return cpu + REG_EFER_U32;
    case MSR_SYSENTER_CS: return cpu + REG_SYSENTER_CS_U32;
    case MSR_SYSENTER_ESP: return cpu + REG_SYSENTER_ESP_U32;
    case MSR_SYSENTER_EIP: return cpu + REG_SYSENTER_EIP_U32;
    default: return 0;
  }
}

/** Host import: the host clock in nanoseconds (the same epoch in every worker of the VM). */
@external("env", "hostNanoseconds")
export declare function hostNanoseconds(): f64;

/** The time-stamp counter: the host clock at TSC_HZ plus the guest-written offset. */
function timeStampCounter(): u64 {
  const ticks = <u64>(hostNanoseconds() * (<f64>TSC_HZ / 1e9));
  return ticks + load<u64>(cpu + REG_TSC_OFFSET_U64);
}

/** RDTSC: EDX:EAX = TSC; #GP(0) at CPL > 0 when CR4.TSD is set. */
export function readTimeStampCounter(): void {
  if ((cr(4) & CR4_TSD) != 0 && cpl() != 0) {
    raiseCode(GP, 0);
    return;
  }
  const tsc = timeStampCounter();
  setReg32(EAX, <u32>tsc);
  setReg32(EDX, <u32>(tsc >> 32));
}

/** RDMSR: EDX:EAX = MSR[ECX]; #GP(0) for an MSR that does not exist. */
export function readMsr(): void {
  if (!privileged()) return;
  if (reg32(ECX) == MSR_TSC) {
    readTimeStampCounter();
    return;
  }
  if (isKvmClockMsr(reg32(ECX)) || isApicMsr(reg32(ECX))) {
    const value = isApicMsr(reg32(ECX)) ? readApicMsr(reg32(ECX)) : readKvmClockMsr(reg32(ECX));
    setReg32(EAX, <u32>value);
    setReg32(EDX, <u32>(value >> 32));
    return;
  }
  const field = msrField(reg32(ECX));
  if (field == 0) {
    raiseCode(GP, 0);
    return;
  }
  setReg32(EAX, load<u32>(field));
  setReg32(EDX, 0);
}

/** WRMSR: MSR[ECX] = EDX:EAX; #GP(0) for an MSR that does not exist. */
export function writeMsr(): void {
  if (!privileged()) return;
  if (reg32(ECX) == MSR_TSC) {
    const wanted = (<u64>reg32(EDX) << 32) | <u64>reg32(EAX);
    store<u64>(cpu + REG_TSC_OFFSET_U64, wanted - (timeStampCounter() - load<u64>(cpu + REG_TSC_OFFSET_U64)));
    return;
  }
  if (isKvmClockMsr(reg32(ECX))) {
    writeKvmClockMsr(reg32(ECX), (<u64>reg32(EDX) << 32) | <u64>reg32(EAX), timeStampCounter(), hostNanoseconds());
    return;
  }
  if (isApicMsr(reg32(ECX))) {
    if (!writeApicMsr(reg32(ECX), (<u64>reg32(EDX) << 32) | <u64>reg32(EAX))) raiseCode(GP, 0);
    return;
  }
  const field = msrField(reg32(ECX));
  // EFER has only NXE; setting any other bit is #GP like writing an MSR that does not exist.
  if (field == 0 || (reg32(ECX) == MSR_EFER && ((reg32(EAX) & ~EFER_NXE) != 0 || reg32(EDX) != 0))) {
    raiseCode(GP, 0);
    return;
  }
  store<u32>(field, reg32(EAX));
  if (reg32(ECX) == MSR_EFER) flushTlb(false);
}

/** SYSENTER: to flat ring 0 at SYSENTER_CS:SYSENTER_EIP, stack SYSENTER_CS+8:SYSENTER_ESP. */
export function sysenter(): void {
  const selector = load<u32>(cpu + REG_SYSENTER_CS_U32) & 0xfffc;
  if (!protectedMode() || selector == 0) {
    raiseCode(GP, 0);
    return;
  }
  setFlags(0, VM | IF | RF);
  setSegment(SEG_CS, selector, 0, 0xffffffff, FLAT_CODE);
  setSegment(SEG_SS, selector + 8, 0, 0xffffffff, FLAT_DATA);
  setReg32(ESP, load<u32>(cpu + REG_SYSENTER_ESP_U32));
  setEip(load<u32>(cpu + REG_SYSENTER_EIP_U32));
  updatePrivilege();
}

/** SYSEXIT: to flat ring 3 at SYSENTER_CS+16:EDX, stack SYSENTER_CS+24:ECX. */
export function sysexit(): void {
  const selector = load<u32>(cpu + REG_SYSENTER_CS_U32) & 0xfffc;
  if (!protectedMode() || selector == 0 || cpl() != 0) {
    raiseCode(GP, 0);
    return;
  }
  setSegment(SEG_CS, (selector + 16) | 3, 0, 0xffffffff, FLAT_CODE | 0x60);
  setSegment(SEG_SS, (selector + 24) | 3, 0, 0xffffffff, FLAT_DATA | 0x60);
  setReg32(ESP, reg32(ECX));
  setEip(reg32(EDX));
  updatePrivilege();
}

/**
 * CPUID (SDM vol. 2, "CPUID"): leaf 0 gives the highest leaf and the vendor string, leaf 1 the
 * family/model/stepping, the initial APIC ID (the vCPU index) and the features this core
 * implements and its tests check (FPU, PSE, TSC, PAE, CX8, SEP, PGE, CMOV, FXSR; APIC and
 * TSC-deadline while the APIC is present) with the hypervisor bit; 80000001h reports NX. The
 * hypervisor range 40000000h-40000001h is KVM's (Linux Documentation/virt/kvm/x86/cpuid.rst),
 * offering kvmclock. Other leaves read as zero.
 */
export function cpuid(): void {
  const leaf = reg32(EAX);
  let a: u32 = 0;
  let b: u32 = 0;
  let c: u32 = 0;
  let d: u32 = 0;
  if (leaf == 0x40000000) {
    a = 0x40000001; // the highest hypervisor leaf
    // "KVMKVMKVM\0\0\0" in EBX, ECX, EDX.
    b = 0x4b4d564b;
    c = 0x564b4d56;
    d = 0x0000004d;
  } else if (leaf == 0x40000001) {
    a = KVM_FEATURES;
  } else if (leaf == 0x80000000) {
    a = 0x80000001; // the highest extended leaf
  } else if (leaf == 0x80000001) {
    d = 1 << 20; // NX
  } else if (leaf == 0) {
    a = 1;
    // "WebVMx86Core": an honest vendor string, in EBX, EDX, ECX order.
    b = 0x56626557; // "WebV"
    d = 0x3638784d; // "Mx86"
    c = 0x65726f43; // "Core"
  } else if (leaf == 1) {
    a = 0x0633; // family 6, model 3, stepping 3 (a P6-class part; SYSENTER is valid from model 3)
    c = 1 << 31; // running under a hypervisor: look at the 40000000h leaves
    d = (1 << 0) | (1 << 3) | (1 << 4) | (1 << 6) | (1 << 8) | (1 << 11) | (1 << 13) | (1 << 15) | (1 << 24); // FPU PSE TSC PAE CX8 SEP PGE CMOV FXSR
    b = load<u32>(cpu + VCPU_INDEX_U32) << 24;
    // The APIC flag follows IA32_APIC_BASE's global enable (SDM 11.4.3).
    if (apicPresent()) {
      d |= 1 << 9;
      c |= 1 << 24; // TSC-deadline timer
    }
  }
  setReg32(EAX, a);
  setReg32(EBX, b);
  setReg32(ECX, c);
  setReg32(EDX, d);
}
