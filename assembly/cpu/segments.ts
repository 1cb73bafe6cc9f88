// Segment register loads and the control transfers that change CS (SDM vol. 3, chapter 5:
// 5.5-5.8 privilege checks, call gates and stack switching). Real-address mode: base = selector
// * 16, limit and attributes kept. Protected mode: descriptors from the GDT or LDT, accessed bits
// set; far JMP/CALL directly or through call gates, CALL to an inner privilege level with the
// stack switch from the TSS and parameter copying, RETF and IRET to the same or an outer level.
// Task gates, TSS targets and IRET with NT switch tasks (tasks.ts). Not modelled yet: virtual-8086
// mode (the vCPU stops with EXIT_UNSUPPORTED, detail 0x10002).

import { SEG_CS, SEG_ES, SEG_GS, SEG_SS, SEG_TR } from "../abi/layout";
import {
  descAttrs, descBase, descDpl, descLimit, DESC_CODE, DESC_CONFORMING, DESC_P, DESC_RW, DESC_S, gateOffset,
  gateParams, gateSelector, markAccessed, readDescriptor, READ_OUTSIDE, TYPE_CALL_GATE16, TYPE_CALL_GATE32,
  TYPE_TASK_GATE, TYPE_TSS16_AVAILABLE, TYPE_TSS32_AVAILABLE,
} from "./descriptors";
import { endNmiBlocking } from "../apic/accept";
import { taskSwitch, TASK_CALL, TASK_IRET, TASK_JMP } from "./tasks";
import { unsupported } from "./exit";
import { faulted, GP, NP, raiseCode, SS_, TS } from "./fault";
import { getFlags, setFlags } from "./flags";
import { readSystem, setAccessPrivilege, updatePrivilege } from "./memory";
import { peek, push, setStackPointer, stackOffset, stackPointer } from "./stack";
import {
  cpl, eip, ESP, NT, protectedMode, reg32, segAttrs, segBase, segLimit, segSelector, setEip, setReg32,
  setSegment, VM,
} from "./state";
import { writableFlags } from "./onebyte";

/** EXIT_UNSUPPORTED details for the transfers not modelled yet. */
export const UNSUPPORTED_VIRTUAL_8086: u32 = 0x10002;


/** Raises `vector` with a selector error code (RPL bits cleared, EXT as given). */
export function selectorFault(vector: i32, selector: u32, ext: u32): void {
  raiseCode(vector, (selector & 0xfffc) | ext);
}

/** Reads a descriptor, raising #GP(selector) when it lies outside its table; false on any fault. */
function descriptorOrFault(selector: u32, ext: u32): bool {
  const result = readDescriptor(selector);
  if (result == READ_OUTSIDE) selectorFault(GP, selector, ext);
  return result == 0;
}

/** MOV/POP Sreg, LDS and friends: loads data segment or SS `seg` with `selector`. */
export function loadSegment(seg: i32, selector: u32): void {
  selector &= 0xffff;
  if (!protectedMode()) {
    setSegment(seg, selector, selector << 4, segLimit(seg), segAttrs(seg));
    return;
  }
  if ((selector & 0xfffc) == 0) {
    if (seg == SEG_SS) raiseCode(GP, 0);
    else setSegment(seg, selector, 0, 0, 0); // a null selector: any use faults
    return;
  }
  if (!descriptorOrFault(selector, 0)) return;
  if (seg == SEG_SS) {
    if (!stackSegmentOk(selector, cpl(), GP, 0)) return;
  } else {
    // Data, or readable code; privilege checked unless conforming code.
    const type = descAttrs;
    const isCode = (type & DESC_CODE) != 0;
    const valid = (type & DESC_S) != 0 && (!isCode || (type & DESC_RW) != 0);
    const conforming = isCode && (type & DESC_CONFORMING) != 0;
    if (!valid || (!conforming && descDpl() < max(cpl(), selector & 3))) {
      selectorFault(GP, selector, 0);
      return;
    }
    if ((descAttrs & DESC_P) == 0) {
      selectorFault(NP, selector, 0);
      return;
    }
  }
  markAccessed();
  if (!faulted()) setSegment(seg, selector, descBase, descLimit, descAttrs);
}

/**
 * Checks the descriptor just read as a stack segment for privilege `level`: RPL and DPL equal to
 * it, a writable data segment (`vector` with the selector otherwise), and present (#SS).
 */
function stackSegmentOk(selector: u32, level: u32, vector: i32, ext: u32): bool {
  if ((selector & 3) != level || descDpl() != level || (descAttrs & (DESC_S | DESC_CODE | DESC_RW)) != (DESC_S | DESC_RW)) {
    selectorFault(vector, selector, ext);
    return false;
  }
  if ((descAttrs & DESC_P) == 0) {
    selectorFault(SS_, selector, ext);
    return false;
  }
  return true;
}

/**
 * Checks the descriptor just read as a code segment reached at privilege `level` (for JMP/CALL:
 * conforming with DPL <= CPL, or non-conforming with DPL == CPL) and that it is present.
 */
function codeSegmentOk(selector: u32, conformingOk: bool, dplOk: bool, ext: u32): bool {
  if ((descAttrs & (DESC_S | DESC_CODE)) != (DESC_S | DESC_CODE) || !(((descAttrs & DESC_CONFORMING) != 0) ? conformingOk : dplOk)) {
    selectorFault(GP, selector, ext);
    return false;
  }
  if ((descAttrs & DESC_P) == 0) {
    selectorFault(NP, selector, ext);
    return false;
  }
  return true;
}

/** Loads CS from the descriptor just read, at privilege `level`, and jumps to `offset`. */
function enterCode(selector: u32, level: u32, offset: u32, size: i32): bool {
  if (offset > descLimit) {
    raiseCode(GP, 0);
    return false;
  }
  markAccessed();
  if (faulted()) return false;
  setSegment(SEG_CS, (selector & 0xfffc) | level, descBase, descLimit, descAttrs);
  setEip(size == 2 ? offset & 0xffff : offset);
  updatePrivilege();
  return true;
}

/** Real-address mode far transfer target. */
function enterRealMode(selector: u32, offset: u32, size: i32): void {
  setSegment(SEG_CS, selector & 0xffff, (selector & 0xffff) << 4, segLimit(SEG_CS), segAttrs(SEG_CS));
  setEip(size == 2 ? offset & 0xffff : offset);
}

/** resolveTarget() result for a task gate or TSS descriptor: a task switch. */
const TARGET_TASK = 8;

/**
 * Resolves a far JMP/CALL operand: a code segment, or a call gate (whose target then sits in the
 * descriptor globals, with `gateOffset`). Returns the gate's size in bytes (2 or 4), 0 for a
 * direct code segment, TARGET_TASK for a task gate or TSS (privilege checked by taskJump), or -1
 * after a fault or an unsupported exit.
 */
function resolveTarget(selector: u32): i32 {
  if ((selector & 0xfffc) == 0) {
    raiseCode(GP, 0);
    return -1;
  }
  if (!descriptorOrFault(selector, 0)) return -1;
  const level = cpl();
  const rpl = selector & 3;
  if ((descAttrs & DESC_S) != 0) {
    return codeSegmentOk(selector, descDpl() <= level, rpl <= level && descDpl() == level, 0) ? 0 : -1;
  }
  const type = descAttrs & 0xf;
  if (type != TYPE_CALL_GATE16 && type != TYPE_CALL_GATE32) {
    if (type == TYPE_TASK_GATE || type == TYPE_TSS16_AVAILABLE || type == TYPE_TSS32_AVAILABLE) return TARGET_TASK;
    selectorFault(GP, selector, 0);
    return -1;
  }
  if (descDpl() < level || descDpl() < rpl) {
    selectorFault(GP, selector, 0);
    return -1;
  }
  if ((descAttrs & DESC_P) == 0) {
    selectorFault(NP, selector, 0);
    return -1;
  }
  const gateSize: i32 = type == TYPE_CALL_GATE32 ? 4 : 2;
  const offset = gateSize == 4 ? gateOffset : gateOffset & 0xffff;
  const params = gateParams;
  const target = gateSelector;
  if ((target & 0xfffc) == 0) {
    raiseCode(GP, 0);
    return -1;
  }
  if (!descriptorOrFault(target, 0)) return -1;
  // Through a gate, a non-conforming target may be more privileged (CALL only; checked by the caller).
  if (!codeSegmentOk(target, descDpl() <= level, descDpl() <= level, 0)) return -1;
  resolvedSelector = target;
  resolvedOffset = offset;
  resolvedParams = params;
  return gateSize;
}

let resolvedSelector: u32 = 0;
let resolvedOffset: u32 = 0;
let resolvedParams: u32 = 0;

/** JMP ptr16:16/32 and JMP m16:16/32. */
export function farJump(selector: u32, offset: u32, size: i32): void {
  if (!protectedMode()) {
    enterRealMode(selector, offset, size);
    return;
  }
  const gate = resolveTarget(selector);
  if (gate < 0) return;
  if (gate == TARGET_TASK) {
    taskTransfer(selector, TASK_JMP);
    return;
  }
  if (gate == 0) {
    enterCode(selector, cpl(), offset, size);
    return;
  }
  // A jump through a call gate never changes privilege: a non-conforming target must be at CPL.
  if ((descAttrs & DESC_CONFORMING) == 0 && descDpl() != cpl()) {
    selectorFault(GP, resolvedSelector, 0);
    return;
  }
  enterCode(resolvedSelector, cpl(), resolvedOffset, gate);
}

/** CALL ptr16:16/32 and CALL m16:16/32, directly or through a call gate. */
export function farCall(selector: u32, offset: u32, size: i32): void {
  const returnCs = segSelector(SEG_CS);
  const returnEip = eip;
  if (!protectedMode()) {
    push(returnCs, size);
    if (!faulted()) push(returnEip, size);
    if (!faulted()) enterRealMode(selector, offset, size);
    return;
  }
  const gate = resolveTarget(selector);
  if (gate < 0) return;
  if (gate == TARGET_TASK) {
    taskTransfer(selector, TASK_CALL);
    return;
  }
  const level = cpl();
  if (gate == 0) {
    push(returnCs, size);
    if (!faulted()) push(returnEip, size);
    if (!faulted()) enterCode(selector, level, offset, size);
    return;
  }
  const targetDpl = descDpl();
  if ((descAttrs & DESC_CONFORMING) != 0 || targetDpl == level) {
    push(returnCs, gate);
    if (!faulted()) push(returnEip, gate);
    if (!faulted()) enterCode(resolvedSelector, level, resolvedOffset, gate);
    return;
  }
  callInner(targetDpl, gate, returnCs, returnEip);
}

/**
 * JMP or CALL to a task gate or TSS descriptor (just read): its DPL must admit CPL and RPL; a
 * gate names the TSS to switch to.
 */
function taskTransfer(selector: u32, kind: i32): void {
  if (descDpl() < cpl() || descDpl() < (selector & 3)) {
    selectorFault(GP, selector, 0);
    return;
  }
  if ((descAttrs & DESC_P) == 0) {
    selectorFault(NP, selector, 0);
    return;
  }
  const tss = (descAttrs & 0xf) == TYPE_TASK_GATE ? gateSelector : selector;
  taskSwitch(tss, kind, eip, false, 0, 0);
}

/** The code descriptor a gate leads to, kept while the new stack segment is read. */
export let codeBase: u32 = 0;
export let codeLimit: u32 = 0;
export let codeAttrs: u32 = 0;

/** Keeps the code descriptor just read (before other descriptor reads clobber it). */
export function keepCodeDescriptor(): void {
  codeBase = descBase;
  codeLimit = descLimit;
  codeAttrs = descAttrs;
}

/** Loads CS from the kept code descriptor at privilege `level` and jumps to `offset`. */
export function enterKeptCode(selector: u32, level: u32, offset: u32, size: i32): void {
  setSegment(SEG_CS, (selector & 0xfffc) | level, codeBase, codeLimit, codeAttrs);
  setEip(size == 2 ? offset & 0xffff : offset);
  updatePrivilege();
}

// The stack that was current before switchToInnerStack(): what the transfer pushes, and what a
// fault during the pushes restores.
export let outerSs: u32 = 0;
export let outerEsp: u32 = 0;
let outerSsBase: u32 = 0;
let outerSsLimit: u32 = 0;
let outerSsAttrs: u32 = 0;

/**
 * Switches to the stack of the more privileged level `dpl` named in the TSS (SDM vol. 3, 5.8.5
 * and 6.12.1): checks the new SS (#TS with its selector) and loads SS:ESP, keeping the old ones.
 */
export function switchToInnerStack(dpl: u32, ext: u32): bool {
  if (!readTssStack(dpl, ext)) return false;
  const newSs = tssSs;
  if ((newSs & 0xfffc) == 0) {
    raiseCode(TS, ext);
    return false;
  }
  const result = readDescriptor(newSs);
  if (result == READ_OUTSIDE) selectorFault(TS, newSs, ext);
  if (result != 0 || !stackSegmentOk(newSs, dpl, TS, ext)) return false;
  markAccessed();
  if (faulted()) return false;
  outerSs = segSelector(SEG_SS);
  outerEsp = reg32(ESP);
  outerSsBase = segBase(SEG_SS);
  outerSsLimit = segLimit(SEG_SS);
  outerSsAttrs = segAttrs(SEG_SS);
  setSegment(SEG_SS, newSs, descBase, descLimit, descAttrs);
  setReg32(ESP, tssEsp);
  setAccessPrivilege(dpl);
  return true;
}

/** Undoes switchToInnerStack() after a fault (the interpreter restores ESP itself). */
export function restoreOuterStack(): void {
  setSegment(SEG_SS, outerSs, outerSsBase, outerSsLimit, outerSsAttrs);
  updatePrivilege();
}

/**
 * CALL through a gate to the more privileged level `dpl`: on the stack from the TSS, pushes the
 * caller's SS, ESP, the gate's parameters (copied from the caller's stack), CS and EIP.
 */
function callInner(dpl: u32, size: i32, returnCs: u32, returnEip: u32): void {
  keepCodeDescriptor();
  const target = resolvedSelector;
  const offset = resolvedOffset;
  const params = resolvedParams;
  if (offset > codeLimit) {
    raiseCode(GP, 0);
    return;
  }
  const callerStackTop = stackPointer();
  if (!switchToInnerStack(dpl, 0)) return;
  push(outerSs, size);
  if (!faulted()) push(outerEsp, size);
  for (let i = <i32>params - 1; i >= 0 && !faulted(); i--) {
    const value = readSystem(outerSsBase + callerStackTop + <u32>(i * size), size);
    if (!faulted()) push(value, size);
  }
  if (!faulted()) push(returnCs, size);
  if (!faulted()) push(returnEip, size);
  if (faulted()) {
    restoreOuterStack();
    return;
  }
  enterKeptCode(target, dpl, offset, size);
}

// The stack pointer read from the TSS by readTssStack().
export let tssSs: u32 = 0;
export let tssEsp: u32 = 0;

/** Reads SS:ESP for privilege level `dpl` from the current TSS (#TS(TR selector) if beyond its limit). */
export function readTssStack(dpl: u32, ext: u32): bool {
  const is32 = (segAttrs(SEG_TR) & 0x8) != 0;
  const offset: u32 = is32 ? 4 + dpl * 8 : 2 + dpl * 4;
  const width: u32 = is32 ? 4 : 2;
  if (offset + width + 1 > segLimit(SEG_TR)) {
    selectorFault(TS, segSelector(SEG_TR), ext);
    return false;
  }
  const base = segBase(SEG_TR);
  tssEsp = readSystem(base + offset, <i32>width);
  tssSs = readSystem(base + offset + width, 2);
  return !faulted();
}

/**
 * The return half of RETF and IRET once CS:EIP (and for IRET the flags) are read: checks the
 * target, and for a return to an outer level pops SS:ESP from `outerAt` bytes into the stack and
 * nulls data segment registers the outer level may not use. `release` is RETF's imm16.
 */
function returnTo(selector: u32, offset: u32, size: i32, outerAt: u32, release: u32): bool {
  const level = cpl();
  const rpl = selector & 3;
  if ((selector & 0xfffc) == 0) {
    raiseCode(GP, 0);
    return false;
  }
  if (!descriptorOrFault(selector, 0)) return false;
  if (rpl < level || !codeSegmentOk(selector, descDpl() <= rpl, descDpl() == rpl, 0)) {
    if (!faulted()) selectorFault(GP, selector, 0);
    return false;
  }
  if (rpl == level) {
    if (!enterCode(selector, rpl, offset, size)) return false;
    setStackPointer(stackOffset(outerAt + release));
    return true;
  }
  const newEsp = peek(outerAt + release, size);
  const newSs = peek(outerAt + release + <u32>size, size) & 0xffff;
  if (faulted()) return false;
  keepCodeDescriptor();
  if (offset > codeLimit) {
    raiseCode(GP, 0);
    return false;
  }
  if ((newSs & 0xfffc) == 0) {
    raiseCode(GP, 0);
    return false;
  }
  if (!descriptorOrFault(newSs, 0) || !stackSegmentOk(newSs, rpl, GP, 0)) return false;
  markAccessed();
  if (faulted()) return false;
  setSegment(SEG_SS, newSs, descBase, descLimit, descAttrs);
  enterKeptCode(selector, rpl, offset, size);
  setStackPointer(newEsp + release); // at the width of the SS just loaded
  nullUnusableSegments(rpl);
  return true;
}

/** After a return to an outer level, data segments more privileged than it become null (SDM 5.8.6). */
function nullUnusableSegments(level: u32): void {
  for (let seg = SEG_ES; seg <= SEG_GS; seg++) {
    if (seg == SEG_CS || seg == SEG_SS) continue;
    const attrs = segAttrs(seg);
    const conformingCode = (attrs & (DESC_CODE | DESC_CONFORMING)) == (DESC_CODE | DESC_CONFORMING);
    if ((attrs & DESC_P) != 0 && !conformingCode && ((attrs >> 5) & 3) < level) setSegment(seg, 0, 0, 0, 0);
  }
}

/** RETF (imm16). */
export function farReturn(release: u32, size: i32): void {
  const offset = peek(0, size);
  const selector = peek(<u32>size, size) & 0xffff;
  if (faulted()) return;
  if (!protectedMode()) {
    enterRealMode(selector, offset, size);
    setStackPointer(stackOffset(<u32>(2 * size) + release));
    return;
  }
  returnTo(selector, offset, size, <u32>(2 * size), release);
}

/** IRET / IRETD. */
export function interruptReturn(size: i32): void {
  const offset = peek(0, size);
  const selector = peek(<u32>size, size) & 0xffff;
  const newFlags = peek(<u32>(2 * size), size);
  if (faulted()) return;
  endNmiBlocking();
  // The flags the current (not the returned-to) privilege may change.
  const mask = writableFlags(size);
  if (!protectedMode()) {
    enterRealMode(selector, offset, size);
    setStackPointer(stackOffset(<u32>(3 * size)));
    setFlags(newFlags, mask);
    return;
  }
  if ((getFlags() & NT) != 0) {
    // A nested task returns to the task in its TSS's back link.
    const link = readSystem(segBase(SEG_TR), 2);
    if (!faulted()) taskSwitch(link, TASK_IRET, eip, false, 0, 0);
    return;
  }
  if (size == 4 && (newFlags & VM) != 0 && cpl() == 0) {
    unsupported(UNSUPPORTED_VIRTUAL_8086);
    return;
  }
  if (returnTo(selector, offset, size, <u32>(3 * size), 0)) setFlags(newFlags, mask);
}
