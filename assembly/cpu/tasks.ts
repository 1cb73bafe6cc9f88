// Hardware task switching with 32-bit TSSs (SDM vol. 3, 7.3): through a task gate (INT n, an
// exception, JMP/CALL) or a TSS descriptor (JMP/CALL), and back with IRET when EFLAGS.NT is set.
// The outgoing state is saved in the current TSS, the incoming one loaded from the new TSS (CR3,
// EFLAGS, EIP, general and segment registers, LDTR); busy bits, the back link and NT follow the
// kind of switch; CR0.TS is set. Segment loads that fail after the switch raise #TS in the new
// task. 16-bit TSSs stop the vCPU with EXIT_UNSUPPORTED.

import { SEG_CS, SEG_ES, SEG_GS, SEG_LDTR, SEG_SS, SEG_TR } from "../abi/layout";
import {
  descAttrs, descBase, descDpl, descLimit, DESC_CODE, DESC_P, DESC_S, markAccessed, readDescriptor, READ_OUTSIDE,
  setBusyBit, TYPE_LDT, TYPE_TSS32_AVAILABLE, TYPE_TSS32_BUSY,
} from "./descriptors";
import { unsupported } from "./exit";
import { faulted, GP, NP, SS_, TS } from "./fault";
import { getFlags, setFlags } from "./flags";
import { flushTlb, readSystem, updatePrivilege, writeSystem } from "./memory";
import { push } from "./stack";
import { cr, CR0_PG, getReg, NT, segBase, segSelector, setCr, setEip, setReg32, setSegment } from "./state";
import { selectorFault } from "./segments";

export const TASK_JMP = 0;
export const TASK_CALL = 1;
export const TASK_INT = 2;
export const TASK_IRET = 3;

/** EXIT_UNSUPPORTED detail for a switch to or from a 16-bit TSS. */
const UNSUPPORTED_TSS16: u32 = 0x10003;
const TSS_MIN_LIMIT: u32 = 0x67;
const CR0_TS: u32 = 1 << 3;

// Offsets in a 32-bit TSS.
const TSS_LINK: u32 = 0x00;
const TSS_CR3: u32 = 0x1c;
const TSS_EIP: u32 = 0x20;
const TSS_EFLAGS: u32 = 0x24;
const TSS_GPRS: u32 = 0x28; // EAX ECX EDX EBX ESP EBP ESI EDI
const TSS_SEGMENTS: u32 = 0x48; // ES CS SS DS FS GS
const TSS_LDT: u32 = 0x60;

/** Sets or clears the busy bit of the TSS descriptor `selector` names in the GDT. */
function setBusy(selector: u32, busy: bool): void {
  if (readDescriptor(selector) == 0) setBusyBit(busy);
}

/**
 * Switches to the task whose TSS `selector` names. `returnEip` is saved as the outgoing task's
 * EIP; for TASK_INT with `hasCode`, `code` is pushed on the new task's stack.
 */
export function taskSwitch(selector: u32, kind: i32, returnEip: u32, hasCode: bool, code: u32, ext: u32): void {
  if ((selector & 4) != 0) {
    selectorFault(GP, selector, ext); // a TSS lives in the GDT
    return;
  }
  const read = readDescriptor(selector);
  if (read == READ_OUTSIDE) selectorFault(GP, selector, ext);
  if (read != 0) return;
  const type = descAttrs & 0x1f;
  if (type == 0x1 || type == 0x3) {
    unsupported(UNSUPPORTED_TSS16);
    return;
  }
  const wantBusy = kind == TASK_IRET;
  if (type != (wantBusy ? TYPE_TSS32_BUSY : TYPE_TSS32_AVAILABLE)) {
    selectorFault(kind == TASK_IRET ? TS : GP, selector, ext);
    return;
  }
  if ((descAttrs & DESC_P) == 0) {
    selectorFault(NP, selector, ext);
    return;
  }
  if (descLimit < TSS_MIN_LIMIT) {
    selectorFault(TS, selector, ext);
    return;
  }
  const newBase = descBase;
  const newLimit = descLimit;
  const newAttrs = descAttrs;
  const oldSelector = segSelector(SEG_TR);
  const oldBase = segBase(SEG_TR);
  // Save the outgoing task (SDM 7.3 step 8): EIP, EFLAGS, general and segment registers.
  let oldFlags = getFlags();
  if (kind == TASK_IRET) oldFlags &= ~NT;
  writeSystem(oldBase + TSS_EIP, 4, returnEip);
  writeSystem(oldBase + TSS_EFLAGS, 4, oldFlags);
  for (let r = 0; r < 8; r++) writeSystem(oldBase + TSS_GPRS + <u32>(r * 4), 4, getReg(r, 4));
  for (let s = 0; s < 6; s++) writeSystem(oldBase + TSS_SEGMENTS + <u32>(s * 4), 4, segSelector(s));
  if (faulted()) return;
  // Read the incoming task's state before committing anything.
  const cr3 = readSystem(newBase + TSS_CR3, 4);
  const eip = readSystem(newBase + TSS_EIP, 4);
  let flags = readSystem(newBase + TSS_EFLAGS, 4);
  const ldt = readSystem(newBase + TSS_LDT, 2);
  if (faulted()) return;
  if (kind == TASK_JMP || kind == TASK_IRET) setBusy(oldSelector, false);
  if (kind == TASK_CALL || kind == TASK_INT) {
    writeSystem(newBase + TSS_LINK, 2, oldSelector);
    flags |= NT;
  }
  if (kind != TASK_IRET) setBusy(selector, true);
  if (faulted()) return;
  setSegment(SEG_TR, selector, newBase, newLimit, newAttrs | 2);
  setCr(0, cr(0) | CR0_TS);
  if ((cr(0) & CR0_PG) != 0) {
    setCr(3, cr3);
    flushTlb(true);
  }
  setFlags(flags, 0xffffffff);
  setEip(eip);
  for (let r = 0; r < 8; r++) setReg32(r, readSystem(newBase + TSS_GPRS + <u32>(r * 4), 4));
  // The selectors load first without checks, so a #TS below is taken in the new task.
  for (let s = 0; s < 6; s++) setSegment(s, readSystem(newBase + TSS_SEGMENTS + <u32>(s * 4), 2), 0, 0, 0);
  if (faulted()) return;
  if (!loadTaskLdt(ldt) || !loadTaskSegments()) return;
  if (kind == TASK_INT && hasCode) push(code, 4);
}

/** LDTR of the new task: null, or an LDT descriptor from the GDT (#TS otherwise). */
function loadTaskLdt(selector: u32): bool {
  if ((selector & 0xfffc) == 0) {
    setSegment(SEG_LDTR, selector, 0, 0, 0);
    return true;
  }
  if ((selector & 4) != 0 || readDescriptor(selector) != 0 || (descAttrs & 0x1f) != TYPE_LDT) {
    if (!faulted()) selectorFault(TS, selector, 0);
    return false;
  }
  if ((descAttrs & DESC_P) == 0) {
    selectorFault(TS, selector, 0);
    return false;
  }
  setSegment(SEG_LDTR, selector, descBase, descLimit, descAttrs);
  return true;
}

/** Loads the new task's CS, SS and data segments with their descriptors (#TS, #NP, #SS on errors). */
function loadTaskSegments(): bool {
  const cs = segSelector(SEG_CS);
  const level = cs & 3;
  if (!taskDescriptor(cs) || (descAttrs & (DESC_S | DESC_CODE)) != (DESC_S | DESC_CODE)) {
    if (!faulted()) selectorFault(TS, cs, 0);
    return false;
  }
  if (!presentOr(NP, cs)) return false;
  markAccessed();
  setSegment(SEG_CS, cs, descBase, descLimit, descAttrs);
  updatePrivilege();
  const ss = segSelector(SEG_SS);
  if (!taskDescriptor(ss) || (ss & 3) != level || descDpl() != level || (descAttrs & 0x1a) != 0x12) {
    if (!faulted()) selectorFault(TS, ss, 0);
    return false;
  }
  if (!presentOr(SS_, ss)) return false;
  markAccessed();
  setSegment(SEG_SS, ss, descBase, descLimit, descAttrs);
  for (let s = SEG_ES; s <= SEG_GS; s++) {
    if (s == SEG_CS || s == SEG_SS) continue;
    const selector = segSelector(s);
    if ((selector & 0xfffc) == 0) continue; // stays null
    if (!taskDescriptor(selector) || (descAttrs & DESC_S) == 0 || (descAttrs & 0xa) == 0x8) {
      if (!faulted()) selectorFault(TS, selector, 0);
      return false;
    }
    if (!presentOr(NP, selector)) return false;
    markAccessed();
    setSegment(s, selector, descBase, descLimit, descAttrs);
  }
  return !faulted();
}

function taskDescriptor(selector: u32): bool {
  return (selector & 0xfffc) != 0 && readDescriptor(selector) == 0;
}

function presentOr(vector: i32, selector: u32): bool {
  if ((descAttrs & DESC_P) != 0) return true;
  selectorFault(vector, selector, 0);
  return false;
}
