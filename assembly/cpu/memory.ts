// Linear and segmented memory access: segment checks (SDM vol. 3, 5.3-5.6), paging with 4 KiB
// and 4 MiB pages (SDM vol. 3, 4.3: 32-bit paging; accessed and dirty bits set as the hardware
// does, page-fault error codes, CR2), and the software TLB in front of both. A TLB entry caches
// the shared-memory address of a RAM page per access kind (supervisor/user, read/write); MMIO,
// page-crossing and first accesses take the slow path. Faults are recorded in fault.ts and the
// access returns 0.

import {
  TLB_BASE, TLB_ENTRIES, TLB_ENTRY_SIZE, TLB_READ_GLOBAL_U32, TLB_READ_HOST_U32, TLB_READ_SUPER_U32,
  TLB_READ_USER_U32, TLB_WRITE_GLOBAL_U32, TLB_WRITE_HOST_U32, TLB_WRITE_SUPER_U32, TLB_WRITE_USER_U32, VMH_BASE,
  TLB_FLAG_GLOBAL, TLB_FLAG_NO_EXECUTE, REG_EFER_U32,
  VMH_DIRTY_LOG_U32, SEG_SS, SEG_ATTR_DB,
} from "../abi/layout";
import { markDirty, pageHost, readPhys, writePhys } from "../guest-memory";
import { codeWritten, hasCode } from "./blocks";
import { fetchOutsideRam } from "./exit";
import { faulted, GP, PF_, raiseCode, SS_ } from "./fault";
import {
  cpu, cr, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, EFER_NXE, segAttrs, segBase, segLimit, segSelector,
  setCr,
} from "./state";

const ACCESS_READ = 0;
const ACCESS_WRITE = 1;
const ACCESS_FETCH = 2;

const PTE_P: u32 = 1;
const PTE_RW: u32 = 2;
const PTE_US: u32 = 4;
const PTE_A: u32 = 0x20;
const PTE_D: u32 = 0x40;
const PTE_PS: u32 = 0x80;
const PTE_G: u32 = 0x100;

/** 4 when the CPU runs at CPL 3 (user TLB tags sit 4 bytes after supervisor ones), else 0. */
export let userOffset: usize = 0;

/** Re-derives the privilege the TLB checks against; call after CS or CR0 changes. */
export function updatePrivilege(): void {
  forgetCodePage();
  const user = (cr(0) & CR0_PE) != 0 && (segSelector(1) & 3) == 3;
  userOffset = user ? 4 : 0;
}

/**
 * Has data accesses check privilege `level` until the next updatePrivilege(): a transfer to a
 * more privileged level pushes its frame on the new stack as that level does (SDM vol. 3,
 * 6.12.1), before CS changes.
 */
export function setAccessPrivilege(level: u32): void {
  userOffset = level == 3 ? 4 : 0;
}

// @ts-ignore: decorator
@inline function tlbEntry(linear: u32): usize {
  return cpu + TLB_BASE + <usize>((linear >> 12) & (TLB_ENTRIES - 1)) * TLB_ENTRY_SIZE;
}

/** Drops every TLB entry, or only the non-global ones. */
export function flushTlb(keepGlobal: bool): void {
  forgetCodePage();
  for (let i = 0; i < TLB_ENTRIES; i++) {
    const e = cpu + TLB_BASE + <usize>i * TLB_ENTRY_SIZE;
    if (!keepGlobal || (load<u32>(e + TLB_READ_GLOBAL_U32) & TLB_FLAG_GLOBAL) == 0) store<u64>(e + TLB_READ_SUPER_U32, 0);
    if (!keepGlobal || load<u32>(e + TLB_WRITE_GLOBAL_U32) == 0) store<u64>(e + TLB_WRITE_SUPER_U32, 0);
  }
}

/** INVLPG: drops the entries for one linear page. */
export function flushTlbPage(linear: u32): void {
  forgetCodePage();
  const e = tlbEntry(linear);
  store<u64>(e + TLB_READ_SUPER_U32, 0);
  store<u64>(e + TLB_WRITE_SUPER_U32, 0);
}

// ---- Paging ----

/** Effective U/S, R/W and G bits of the last successful translate(). */
let walkFlags: u32 = 0;
/** Whether the last successful translate() found the page no-execute (PAE with EFER.NXE). */
let walkNoExecute = false;

const PF_PRESENT: u32 = 1;
const PF_WRITE: u32 = 2;
const PF_USER: u32 = 4;
const PF_RESERVED: u32 = 8;
const PF_FETCH: u32 = 16;

function pageFault(linear: u32, access: i32, user: bool, code: u32): void {
  setCr(2, linear);
  if (access == ACCESS_WRITE) code |= PF_WRITE;
  if (user) code |= PF_USER;
  // The I/D bit is reported only where no-execute exists (PAE with NXE).
  if (access == ACCESS_FETCH && noExecuteEnabled()) code |= PF_FETCH;
  raiseCode(PF_, code);
}

/** Sets accessed (and dirty) bits in a paging entry, atomically where it lives in RAM. */
function markEntry(addr: u64, entry: u32, bits: u32): void {
  if ((entry & bits) == bits) return;
  const host = pageHost(cpu, addr, true);
  if (host == 0) {
    writePhys(cpu, addr, 4, <u64>(entry | bits));
    return;
  }
  atomic.or<u32>(host + <usize>(addr & 0xfff), bits);
  if (hasCode(host)) codeWritten(host);
}

function noExecuteEnabled(): bool {
  return (cr(4) & CR4_PAE) != 0 && (load<u32>(cpu + REG_EFER_U32) & EFER_NXE) != 0;
}

/**
 * Translates a linear address for one access; returns the physical address, or raises #PF and
 * returns 0. `walkFlags` and `walkNoExecute` then describe the mapping.
 */
function translate(linear: u32, access: i32, user: bool): u64 {
  walkNoExecute = false;
  if ((cr(0) & CR0_PG) == 0) {
    walkFlags = PTE_US | PTE_RW;
    return <u64>linear;
  }
  const phys = (cr(4) & CR4_PAE) != 0 ? translatePae(linear, access, user) : translate32(linear, access, user);
  if ((cr(4) & CR4_PGE) == 0) walkFlags &= ~PTE_G;
  return phys;
}

/** 32-bit paging (SDM vol. 3, 4.3): 4 KiB pages, and 4 MiB pages with CR4.PSE. */
function translate32(linear: u32, access: i32, user: bool): u64 {
  const write = access == ACCESS_WRITE;
  const pdeAddr = <u64>((cr(3) & 0xfffff000) | ((linear >> 20) & 0xffc));
  const pde = <u32>readPhys(cpu, pdeAddr, 4);
  if ((pde & PTE_P) == 0) {
    pageFault(linear, access, user, 0);
    return 0;
  }
  if ((pde & PTE_PS) != 0 && (cr(4) & CR4_PSE) != 0) {
    if (!allowed(pde, write, user)) {
      pageFault(linear, access, user, PF_PRESENT);
      return 0;
    }
    markEntry(pdeAddr, pde, write ? PTE_A | PTE_D : PTE_A);
    walkFlags = pde & (PTE_US | PTE_RW | PTE_G);
    return <u64>((pde & 0xffc00000) | (linear & 0x3fffff));
  }
  const pteAddr = <u64>((pde & 0xfffff000) | ((linear >> 10) & 0xffc));
  const pte = <u32>readPhys(cpu, pteAddr, 4);
  if ((pte & PTE_P) == 0) {
    pageFault(linear, access, user, 0);
    return 0;
  }
  const flagsEff = (pte & ~(PTE_US | PTE_RW)) | (pde & pte & (PTE_US | PTE_RW));
  if (!allowed(flagsEff, write, user)) {
    pageFault(linear, access, user, PF_PRESENT);
    return 0;
  }
  markEntry(pdeAddr, pde, PTE_A);
  markEntry(pteAddr, pte, write ? PTE_A | PTE_D : PTE_A);
  walkFlags = flagsEff & (PTE_US | PTE_RW | PTE_G);
  return <u64>((pte & 0xfffff000) | (linear & 0xfff));
}

/** Physical address bits of a PAE entry (MAXPHYADDR 36). */
const PAE_ADDRESS: u64 = 0x0000000ffffff000;
/** Bits 62:36 of a PAE entry must be zero; bit 63 too unless no-execute is enabled. */
const PAE_RESERVED: u64 = 0x7ffffff000000000;
const PAE_NO_EXECUTE: u64 = 0x8000000000000000;

/** Whether a PAE entry has reserved bits set (`extra` adds the level's own reserved bits). */
function paeReserved(entry: u64, extra: u64): bool {
  const reserved = PAE_RESERVED | extra | (noExecuteEnabled() ? 0 : PAE_NO_EXECUTE);
  return (entry & reserved) != 0;
}

/**
 * PAE paging (SDM vol. 3, 4.4): a 4-entry PDPT from CR3, 512-entry directories and tables of
 * 8-byte entries, 2 MiB pages, and the XD bit with EFER.NXE. The PDPTEs are read from memory on
 * each walk rather than cached at CR3 load: the same unless the guest edits its PDPT without
 * reloading CR3.
 */
function translatePae(linear: u32, access: i32, user: bool): u64 {
  const write = access == ACCESS_WRITE;
  const pdpte = readPhys(cpu, <u64>((cr(3) & 0xffffffe0) + ((linear >> 30) << 3)), 8);
  if ((pdpte & <u64>PTE_P) == 0) {
    pageFault(linear, access, user, 0);
    return 0;
  }
  // A PDPTE has no R/W, U/S, A, D, PS or XD bits: those positions are reserved.
  if (paeReserved(pdpte, 0x1e6 | PAE_NO_EXECUTE)) {
    pageFault(linear, access, user, PF_PRESENT | PF_RESERVED);
    return 0;
  }
  const pdeAddr = (pdpte & PAE_ADDRESS) + <u64>(((linear >> 21) & 0x1ff) << 3);
  const pde = readPhys(cpu, pdeAddr, 8);
  if ((pde & <u64>PTE_P) == 0) {
    pageFault(linear, access, user, 0);
    return 0;
  }
  const large = (pde & <u64>PTE_PS) != 0;
  if (paeReserved(pde, large ? 0x1fe000 : 0)) {
    pageFault(linear, access, user, PF_PRESENT | PF_RESERVED);
    return 0;
  }
  let entry = pde;
  let entryAddr = pdeAddr;
  let flagsEff = <u32>pde;
  let noExecute = (pde & PAE_NO_EXECUTE) != 0;
  if (!large) {
    entryAddr = (pde & PAE_ADDRESS) + <u64>(((linear >> 12) & 0x1ff) << 3);
    entry = readPhys(cpu, entryAddr, 8);
    if ((entry & <u64>PTE_P) == 0) {
      pageFault(linear, access, user, 0);
      return 0;
    }
    if (paeReserved(entry, 0)) {
      pageFault(linear, access, user, PF_PRESENT | PF_RESERVED);
      return 0;
    }
    flagsEff = (<u32>entry & ~(PTE_US | PTE_RW)) | (<u32>pde & <u32>entry & (PTE_US | PTE_RW));
    noExecute = noExecute || (entry & PAE_NO_EXECUTE) != 0;
  }
  noExecute = noExecute && noExecuteEnabled();
  if (!allowed(flagsEff, write, user) || (noExecute && access == ACCESS_FETCH)) {
    pageFault(linear, access, user, PF_PRESENT);
    return 0;
  }
  if (!large) markEntry(pdeAddr, <u32>pde, PTE_A);
  markEntry(entryAddr, <u32>entry, write ? PTE_A | PTE_D : PTE_A);
  walkFlags = flagsEff & (PTE_US | PTE_RW | PTE_G);
  walkNoExecute = noExecute;
  return large ? (entry & 0x0000000fffe00000) | <u64>(linear & 0x1fffff) : (entry & PAE_ADDRESS) | <u64>(linear & 0xfff);
}

/** Page-level protection (SDM vol. 3, 4.6): user needs U/S; writes need R/W unless supervisor without CR0.WP. */
function allowed(flagsEff: u32, write: bool, user: bool): bool {
  if (user && (flagsEff & PTE_US) == 0) return false;
  if (write && (flagsEff & PTE_RW) == 0 && (user || (cr(0) & CR0_WP) != 0)) return false;
  return true;
}

/**
 * Fills the TLB for `linear` after a successful translation to `phys`: the read half always, the
 * write half after a write (which set the dirty bit) to a page that is RAM, not ROM, and holds no
 * decoded blocks (so that writes to those reach codeWritten). Returns the page's shared-memory
 * address when it is RAM and the access a write, else 0.
 */
function fillTlb(linear: u32, phys: u64, write: bool): usize {
  const host = pageHost(cpu, phys, false);
  if (host == 0) return 0;
  const e = tlbEntry(linear);
  const tag = (linear & 0xfffff000) | 1;
  const global: u32 = (walkFlags & PTE_G) != 0 ? TLB_FLAG_GLOBAL : 0;
  store<u32>(e + TLB_READ_SUPER_U32, tag);
  store<u32>(e + TLB_READ_USER_U32, (walkFlags & PTE_US) != 0 ? tag : 0);
  store<u32>(e + TLB_READ_HOST_U32, <u32>host);
  store<u32>(e + TLB_READ_GLOBAL_U32, global | (walkNoExecute ? TLB_FLAG_NO_EXECUTE : 0));
  if (!write || pageHost(cpu, phys, true) == 0) return 0;
  if (hasCode(host)) return host;
  const superOk = (walkFlags & PTE_RW) != 0 || (cr(0) & CR0_WP) == 0;
  store<u32>(e + TLB_WRITE_SUPER_U32, superOk ? tag : 0);
  store<u32>(e + TLB_WRITE_USER_U32, (walkFlags & (PTE_US | PTE_RW)) == (PTE_US | PTE_RW) ? tag : 0);
  store<u32>(e + TLB_WRITE_HOST_U32, <u32>host);
  store<u32>(e + TLB_WRITE_GLOBAL_U32, global);
  return host;
}

/** Takes the RAM page at shared-memory address `page` out of the write TLB (it now holds code). */
export function dropWritable(page: usize): void {
  for (let i = 0; i < TLB_ENTRIES; i++) {
    const e = cpu + TLB_BASE + <usize>i * TLB_ENTRY_SIZE;
    if (<usize>load<u32>(e + TLB_WRITE_HOST_U32) == page) store<u64>(e + TLB_WRITE_SUPER_U32, 0);
  }
}

// ---- Shared-memory operands (an address the TLB or lockedHost() resolved) ----

/** The `size` (1, 2 or 4) bytes at shared-memory address `host`. */
// @ts-ignore: decorator
@inline export function loadHost(host: usize, size: i32): u32 {
  return size == 4 ? load<u32>(host) : size == 2 ? <u32>load<u16>(host) : <u32>load<u8>(host);
}

/** The same, read atomically: a LOCKed operand other vCPUs may be writing. */
// @ts-ignore: decorator
@inline export function atomicLoadHost(host: usize, size: i32): u32 {
  return size == 4 ? atomic.load<u32>(host) : size == 2 ? <u32>atomic.load<u16>(host) : <u32>atomic.load<u8>(host);
}

/** Atomic compare-exchange of `size` bytes at `host`; returns the value found there. */
// @ts-ignore: decorator
@inline export function compareExchangeHost(host: usize, size: i32, expected: u32, replacement: u32): u32 {
  if (size == 4) return atomic.cmpxchg<u32>(host, expected, replacement);
  if (size == 2) return <u32>atomic.cmpxchg<u16>(host, <u16>expected, <u16>replacement);
  return <u32>atomic.cmpxchg<u8>(host, <u8>expected, <u8>replacement);
}

// ---- Linear accesses ----

function readSlow(linear: u32, size: i32, access: i32): u32 {
  if ((linear & 0xfff) + <u32>size > 0x1000) {
    // Crossing a page: byte by byte, each page translated (and possibly faulting) on its own.
    let value: u32 = 0;
    for (let i = 0; i < size; i++) {
      value |= readSlow(linear + <u32>i, 1, access) << (<u32>i << 3);
      if (faulted()) return 0;
    }
    return value;
  }
  const phys = translate(linear, access, userOffset != 0);
  if (faulted()) return 0;
  if (access == ACCESS_FETCH && pageHost(cpu, phys, false) == 0) {
    fetchOutsideRam(linear);
    return 0;
  }
  fillTlb(linear, phys, false);
  return <u32>readPhys(cpu, phys, size);
}

function writeSlow(linear: u32, size: i32, value: u32): void {
  const last = linear + <u32>size - 1;
  if ((linear ^ last) & 0xfffff000) {
    // Both pages must be writable before any byte is written: probe the second one first.
    translate(last, ACCESS_WRITE, userOffset != 0);
    if (faulted()) return;
    for (let i = 0; i < size; i++) {
      writeSlow(linear + <u32>i, 1, value >> (<u32>i << 3));
      if (faulted()) return;
    }
    return;
  }
  const phys = translate(linear, ACCESS_WRITE, userOffset != 0);
  if (faulted()) return;
  const page = fillTlb(linear, phys, true);
  writePhys(cpu, phys, size, <u64>value);
  if (page != 0 && hasCode(page)) codeWritten(page);
}

/** Reads 1, 2 or 4 bytes at a linear address. */
export function readLinear(linear: u32, size: i32): u32 {
  if ((linear & 0xfff) <= <u32>(0x1000 - size)) {
    const e = tlbEntry(linear);
    if (load<u32>(e + TLB_READ_SUPER_U32 + userOffset) == ((linear & 0xfffff000) | 1)) {
      const host = <usize>load<u32>(e + TLB_READ_HOST_U32) + <usize>(linear & 0xfff);
      return loadHost(host, size);
    }
  }
  return readSlow(linear, size, ACCESS_READ);
}

/** Writes 1, 2 or 4 bytes at a linear address. */
export function writeLinear(linear: u32, size: i32, value: u32): void {
  if ((linear & 0xfff) <= <u32>(0x1000 - size)) {
    const e = tlbEntry(linear);
    if (load<u32>(e + TLB_WRITE_SUPER_U32 + userOffset) == ((linear & 0xfffff000) | 1)) {
      const host = <usize>load<u32>(e + TLB_WRITE_HOST_U32) + <usize>(linear & 0xfff);
      if (size == 4) store<u32>(host, value);
      else if (size == 2) store<u16>(host, <u16>value);
      else store<u8>(host, <u8>value);
      if (load<u32>(VMH_BASE + VMH_DIRTY_LOG_U32) != 0) markDirty(host, size);
      return;
    }
  }
  writeSlow(linear, size, value);
}

/**
 * Shared-memory address of an aligned operand at `linear` for a locked read-modify-write, or 0
 * when it is not plain RAM (MMIO, misaligned): the caller then reads and writes it normally.
 * Raises the write access's faults.
 */
export function lockedHost(linear: u32, size: i32): usize {
  if ((linear & <u32>(size - 1)) != 0) return 0;
  const phys = translate(linear, ACCESS_WRITE, userOffset != 0);
  if (faulted()) return 0;
  const page = pageHost(cpu, phys, true);
  if (page == 0) return 0;
  const host = page + <usize>(phys & 0xfff);
  if (load<u32>(VMH_BASE + VMH_DIRTY_LOG_U32) != 0) markDirty(host, size);
  if (hasCode(page)) codeWritten(page);
  return host;
}

// The page instructions were last fetched from (its linear base and shared-memory address), so
// sequential fetches skip even the TLB. Dropped with every TLB flush and privilege change.
export let codePage: u32 = 1; // bit 0 set: matches no page
export let codeHost: usize = 0;

function forgetCodePage(): void {
  codePage = 1;
}

/**
 * Shared-memory address of `bytes` bytes at `linear` when they lie in one page the TLB already
 * holds for this kind of access (at the current privilege), else 0. For bulk string moves; the
 * caller falls back to ordinary accesses, which fill the TLB.
 */
export function cachedHost(linear: u32, bytes: u32, write: bool): usize {
  if ((linear & 0xfff) + bytes > 0x1000) return 0;
  const e = tlbEntry(linear);
  const kind: usize = write ? TLB_WRITE_SUPER_U32 : TLB_READ_SUPER_U32;
  if (load<u32>(e + kind + userOffset) != ((linear & 0xfffff000) | 1)) return 0;
  return <usize>load<u32>(e + (write ? TLB_WRITE_HOST_U32 : TLB_READ_HOST_U32)) + <usize>(linear & 0xfff);
}

/** Marks a bulk write of `bytes` at shared-memory address `host` in the dirty log, when it is on. */
export function noteBulkWrite(host: usize, bytes: i32): void {
  if (load<u32>(VMH_BASE + VMH_DIRTY_LOG_U32) != 0) markDirty(host, bytes);
}

/**
 * Shared-memory address of the code byte at `linear` when the TLB holds its page for fetches
 * (executable at this privilege), else 0. Makes that page the current code page.
 */
export function codeAddress(linear: u32): usize {
  if ((linear & 0xfffff000) != codePage) {
    const e = tlbEntry(linear);
    if (load<u32>(e + TLB_READ_SUPER_U32 + userOffset) != ((linear & 0xfffff000) | 1) || (load<u32>(e + TLB_READ_GLOBAL_U32) & TLB_FLAG_NO_EXECUTE) != 0) return 0;
    codePage = linear & 0xfffff000;
    codeHost = <usize>load<u32>(e + TLB_READ_HOST_U32);
  }
  return codeHost + <usize>(linear & 0xfff);
}

/** Reads code bytes at a linear address (instruction fetch). */
export function fetchLinear(linear: u32, size: i32): u32 {
  if ((linear & 0xfff) <= <u32>(0x1000 - size)) {
    let host: usize;
    if ((linear & 0xfffff000) == codePage) {
      host = codeHost + <usize>(linear & 0xfff);
    } else {
      const e = tlbEntry(linear);
      if (load<u32>(e + TLB_READ_SUPER_U32 + userOffset) != ((linear & 0xfffff000) | 1) || (load<u32>(e + TLB_READ_GLOBAL_U32) & TLB_FLAG_NO_EXECUTE) != 0) {
        return readSlow(linear, size, ACCESS_FETCH);
      }
      codePage = linear & 0xfffff000;
      codeHost = <usize>load<u32>(e + TLB_READ_HOST_U32);
      host = codeHost + <usize>(linear & 0xfff);
    }
    return loadHost(host, size);
  }
  return readSlow(linear, size, ACCESS_FETCH);
}

// ---- Segmented accesses ----

/**
 * Checks an access of `size` bytes at `offset` in segment `seg` (limit, presence, type) and
 * returns the linear address; raises #GP(0) or #SS(0) on a violation.
 */
export function linearAddress(seg: i32, offset: u32, size: i32, write: bool): u32 {
  const attrs = segAttrs(seg);
  if ((cr(0) & CR0_PE) != 0) {
    // A null or unusable segment (attrs 0), writes to code or read-only data, reads of execute-only code.
    const type = attrs & 0xf;
    const bad = (attrs & 0x80) == 0 || (write ? (type & 0xa) != 2 : (type & 0xa) == 8);
    if (bad) {
      raiseCode(seg == SEG_SS ? SS_ : GP, 0);
      return 0;
    }
  }
  const limit = segLimit(seg);
  const last = offset + <u32>size - 1;
  let inside: bool;
  if ((attrs & 0xc) == 0x4) {
    // Expand-down data segment: valid offsets lie above the limit.
    const top: u32 = (attrs & SEG_ATTR_DB) != 0 ? 0xffffffff : 0xffff;
    inside = offset > limit && last <= top && last >= offset;
  } else {
    inside = last <= limit && last >= offset;
  }
  if (!inside) {
    raiseCode(seg == SEG_SS ? SS_ : GP, 0);
    return 0;
  }
  return segBase(seg) + offset;
}

export function readSeg(seg: i32, offset: u32, size: i32): u32 {
  const linear = linearAddress(seg, offset, size, false);
  return faulted() ? 0 : readLinear(linear, size);
}

export function writeSeg(seg: i32, offset: u32, size: i32, value: u32): void {
  const linear = linearAddress(seg, offset, size, true);
  if (!faulted()) writeLinear(linear, size, value);
}

/** A supervisor read of a system structure (descriptor tables, the TSS), whatever the CPL. */
export function readSystem(linear: u32, size: i32): u32 {
  const saved = userOffset;
  userOffset = 0;
  const value = readLinear(linear, size);
  userOffset = saved;
  return value;
}

/** A supervisor write of a system structure (a descriptor's accessed bit). */
export function writeSystem(linear: u32, size: i32, value: u32): void {
  const saved = userOffset;
  userOffset = 0;
  writeLinear(linear, size, value);
  userOffset = saved;
}
