// kvmclock, KVM's paravirtual clock (Linux Documentation/virt/kvm/x86/msr.rst and cpuid.rst): the
// guest writes the guest physical address of a structure to an MSR and the hypervisor keeps the
// time in it. Ours is exact forever, so each structure is written once, when its MSR is written:
// the TSC runs at TSC_HZ = 1 GHz from the host clock, so system time in nanoseconds *is* the TSC
// (scale 1: shift 1, multiplier 2^31), and the wall clock is the host's time at system time 0.

import { REG_KVM_SYSTEM_TIME_U64, REG_KVM_WALL_CLOCK_U64, TSC_HZ, VMH_BASE, VMH_DIRTY_LOG_U32 } from "../abi/layout";
import { markDirty, pageHost } from "../guest-memory";
import { cpu } from "./state";

/** The MSRs (msr.rst): the "new" numbers, and the old ones Linux uses without CLOCKSOURCE2. */
export const MSR_KVM_WALL_CLOCK: u32 = 0x11;
export const MSR_KVM_SYSTEM_TIME: u32 = 0x12;
export const MSR_KVM_WALL_CLOCK_NEW: u32 = 0x4b564d00;
export const MSR_KVM_SYSTEM_TIME_NEW: u32 = 0x4b564d01;

/** KVM_CPUID_FEATURES bits (cpuid.rst): CLOCKSOURCE, CLOCKSOURCE2, CLOCKSOURCE_STABLE_BIT. */
export const KVM_FEATURES: u32 = (1 << 0) | (1 << 3) | (1 << 24);

/** pvclock_vcpu_time_info.flags: PVCLOCK_TSC_STABLE_BIT, the TSC agrees across vCPUs. */
const PVCLOCK_TSC_STABLE: u8 = 1;
/** struct pvclock_vcpu_time_info and struct pvclock_wall_clock sizes. */
const TIME_INFO_SIZE: u32 = 32;
const WALL_CLOCK_SIZE: u32 = 12;

// The scale is for a 1 GHz TSC; a change of TSC_HZ needs another multiplier and shift.
const SCALE_OK: bool = TSC_HZ == 1000000000;

/** Whether `index` is one of the kvmclock MSRs. */
export function isKvmClockMsr(index: u32): bool {
  return index == MSR_KVM_WALL_CLOCK || index == MSR_KVM_SYSTEM_TIME || index == MSR_KVM_WALL_CLOCK_NEW || index == MSR_KVM_SYSTEM_TIME_NEW;
}

export function readKvmClockMsr(index: u32): u64 {
  return load<u64>(cpu + (index == MSR_KVM_WALL_CLOCK || index == MSR_KVM_WALL_CLOCK_NEW ? REG_KVM_WALL_CLOCK_U64 : REG_KVM_SYSTEM_TIME_U64));
}

/**
 * Shared-memory address of a structure of `size` bytes at guest physical `gpa`, or 0 when it
 * is not wholly inside one RAM page (KVM requires the structures not to cross a page).
 */
function structureHost(gpa: u64, size: u32): usize {
  if ((gpa & 0xfff) + <u64>size > 0x1000) return 0;
  const page = pageHost(cpu, gpa, true);
  return page == 0 ? 0 : page + <usize>(gpa & 0xfff);
}

function published(at: usize, size: u32): void {
  if (load<u32>(VMH_BASE + VMH_DIRTY_LOG_U32) != 0) markDirty(at, <i32>size);
}

/**
 * WRMSR to a kvmclock MSR, with `tsc` the TSC now and `hostNs` the host's wall clock in
 * nanoseconds. A structure outside RAM is not written (the guest reads zeros and sees no clock).
 */
export function writeKvmClockMsr(index: u32, value: u64, tsc: u64, hostNs: f64): void {
  if (index == MSR_KVM_WALL_CLOCK || index == MSR_KVM_WALL_CLOCK_NEW) {
    store<u64>(cpu + REG_KVM_WALL_CLOCK_U64, value);
    const at = structureHost(value, WALL_CLOCK_SIZE);
    if (at == 0) return;
    // The host's time when system time (the TSC) was zero.
    const boot = hostNs - <f64>tsc;
    const seconds = Math.floor(boot / 1e9);
    // pvclock_wall_clock: version, sec, nsec; an odd version means "being updated".
    store<u32>(at, load<u32>(at) | 1);
    store<u32>(at, <u32>seconds, 4);
    store<u32>(at, <u32>(boot - seconds * 1e9), 8);
    atomic.store<u32>(at, (load<u32>(at) + 1) & ~1);
    published(at, WALL_CLOCK_SIZE);
    return;
  }
  store<u64>(cpu + REG_KVM_SYSTEM_TIME_U64, value);
  if ((value & 1) == 0 || !SCALE_OK) return;
  const at = structureHost(value & ~<u64>1, TIME_INFO_SIZE);
  if (at == 0) return;
  // pvclock_vcpu_time_info: version, pad, tsc_timestamp, system_time, tsc_to_system_mul,
  // tsc_shift, flags. Time = system_time + ((TSC - tsc_timestamp) << shift) * mul >> 32.
  store<u32>(at, load<u32>(at) | 1);
  store<u64>(at, tsc, 8);
  store<u64>(at, tsc, 16);
  store<u32>(at, 0x80000000, 24);
  store<i8>(at, 1, 28);
  store<u8>(at, PVCLOCK_TSC_STABLE, 29);
  atomic.store<u32>(at, (load<u32>(at) + 1) & ~1);
  published(at, TIME_INFO_SIZE);
}
