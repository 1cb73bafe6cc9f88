// Segment register loads and control transfers that change CS: real-address mode (base =
// selector * 16, limit and attributes kept) and protected mode (descriptors from the GDT or LDT
// with the checks of SDM vol. 3, 5.5-5.8, accessed bits set). Implemented in protected mode:
// data and stack segment loads, far JMP/CALL/RET and IRET within one privilege level. Gates,
// task switches and privilege changes stop the vCPU with EXIT_UNSUPPORTED for now.

import { REG_GDTR_BASE_U64, REG_GDTR_LIMIT_U32, REG_IDTR_BASE_U64, REG_IDTR_LIMIT_U32, SEG_CS, SEG_LDTR, SEG_SS } from "../abi/layout";
import { unsupported } from "./exit";
import { faulted, GP, NP, raiseCode, SS_ } from "./fault";
import { getFlags, setFlags } from "./flags";
import { readSystem, updatePrivilege, writeSystem } from "./memory";
import { peek, push, setStackPointer, stackOffset } from "./stack";
import {
  AC, cpl, cpu, eip, IF, NT, protectedMode, RF, segAttrs, segBase, segLimit, segSelector, setEip, setSegment, TF, VM,
} from "./state";
import { writableFlags } from "./interp";

/** What EXIT_UNSUPPORTED's detail says for a protected-mode transfer not modelled yet. */
const UNSUPPORTED_TRANSFER: u32 = 0x10000;

const DESC_P: u32 = 0x80;
const DESC_S: u32 = 0x10;
const DESC_CODE: u32 = 0x8;
const DESC_CONFORMING: u32 = 0x4;
const DESC_RW: u32 = 0x2;

// The descriptor read by readDescriptor(), decoded.
let descBase: u32 = 0;
let descLimit: u32 = 0;
let descAttrs: u32 = 0;
let descAddress: u32 = 0;

/** Reads the descriptor `selector` names; raises #GP(selector) when it lies outside its table. */
function readDescriptor(selector: u32): bool {
  const local = (selector & 4) != 0;
  const tableBase = local ? segBase(SEG_LDTR) : <u32>load<u64>(cpu + REG_GDTR_BASE_U64);
  const tableLimit = local ? segLimit(SEG_LDTR) : load<u32>(cpu + REG_GDTR_LIMIT_U32);
  const offset = selector & 0xfff8;
  if ((local && (segAttrs(SEG_LDTR) & DESC_P) == 0) || offset + 7 > tableLimit) {
    raiseCode(GP, selector & 0xfffc);
    return false;
  }
  descAddress = tableBase + offset;
  const lo = readSystem(descAddress, 4);
  const hi = readSystem(descAddress + 4, 4);
  if (faulted()) return false;
  descBase = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000);
  const limit = (lo & 0xffff) | (hi & 0xf0000);
  descLimit = (hi & 0x800000) != 0 ? (limit << 12) | 0xfff : limit;
  descAttrs = ((hi >> 8) & 0xff) | ((hi >> 8) & 0xf000);
  return true;
}

/** Sets the descriptor's accessed bit, as the processor does on a segment load. */
function markAccessed(): void {
  if ((descAttrs & 1) == 0) {
    descAttrs |= 1;
    writeSystem(descAddress + 5, 1, descAttrs & 0xff);
  }
}

/** MOV/POP Sreg, LDS and friends: loads data segment or SS `seg` with `selector`. */
export function loadSegment(seg: i32, selector: u32): void {
  selector &= 0xffff;
  if (!protectedMode()) {
    setSegment(seg, selector, selector << 4, segLimit(seg), segAttrs(seg));
    return;
  }
  const rpl = selector & 3;
  const level = cpl();
  if ((selector & 0xfffc) == 0) {
    if (seg == SEG_SS) raiseCode(GP, 0);
    else setSegment(seg, selector, 0, 0, 0); // a null selector: any use faults
    return;
  }
  if (!readDescriptor(selector)) return;
  const type = descAttrs & 0x1f;
  const dpl = (descAttrs >> 5) & 3;
  if (seg == SEG_SS) {
    // A writable data segment at exactly the current privilege.
    if (rpl != level || dpl != level || (type & (DESC_S | DESC_CODE | DESC_RW)) != (DESC_S | DESC_RW)) {
      raiseCode(GP, selector & 0xfffc);
      return;
    }
    if ((descAttrs & DESC_P) == 0) {
      raiseCode(SS_, selector & 0xfffc);
      return;
    }
  } else {
    // Data, or readable code; privilege checked unless conforming code.
    const isCode = (type & DESC_CODE) != 0;
    const valid = (type & DESC_S) != 0 && (!isCode || (type & DESC_RW) != 0);
    const conforming = isCode && (type & DESC_CONFORMING) != 0;
    if (!valid || (!conforming && dpl < max(level, rpl))) {
      raiseCode(GP, selector & 0xfffc);
      return;
    }
    if ((descAttrs & DESC_P) == 0) {
      raiseCode(NP, selector & 0xfffc);
      return;
    }
  }
  markAccessed();
  if (!faulted()) setSegment(seg, selector, descBase, descLimit, descAttrs);
}

/**
 * Checks a far transfer's target code segment at the same privilege and loads CS with it;
 * returns false (with a fault or an unsupported exit) otherwise.
 */
function loadCodeSegment(selector: u32, offset: u32): bool {
  selector &= 0xffff;
  if (!protectedMode()) {
    setSegment(SEG_CS, selector, selector << 4, segLimit(SEG_CS), segAttrs(SEG_CS));
    return true;
  }
  if ((selector & 0xfffc) == 0) {
    raiseCode(GP, 0);
    return false;
  }
  if (!readDescriptor(selector)) return false;
  const level = cpl();
  const dpl = (descAttrs >> 5) & 3;
  if ((descAttrs & DESC_S) == 0) {
    unsupported(UNSUPPORTED_TRANSFER | (descAttrs & 0xf)); // call gate, task gate or TSS
    return false;
  }
  const conforming = (descAttrs & DESC_CONFORMING) != 0;
  const allowed = (descAttrs & DESC_CODE) != 0 && (conforming ? dpl <= level : (selector & 3) <= level && dpl == level);
  if (!allowed) {
    raiseCode(GP, selector & 0xfffc);
    return false;
  }
  if ((descAttrs & DESC_P) == 0) {
    raiseCode(NP, selector & 0xfffc);
    return false;
  }
  if (offset > descLimit) {
    raiseCode(GP, 0);
    return false;
  }
  markAccessed();
  if (faulted()) return false;
  setSegment(SEG_CS, (selector & 0xfffc) | level, descBase, descLimit, descAttrs);
  return true;
}

/** JMP ptr16:16/32 and JMP m16:16/32. */
export function farJump(selector: u32, offset: u32): void {
  if (loadCodeSegment(selector, offset)) setEip(offset);
}

/** CALL ptr16:16/32 and CALL m16:16/32 (same privilege). */
export function farCall(selector: u32, offset: u32, size: i32): void {
  const returnCs = segSelector(SEG_CS);
  const returnEip = eip;
  // Push the return address first (it may fault) and roll back if the target is refused.
  push(returnCs, size);
  if (faulted()) return;
  push(returnEip, size);
  if (faulted()) return;
  if (loadCodeSegment(selector, offset)) setEip(offset);
}

/** RETF (imm16): same privilege only. */
export function farReturn(release: u32, size: i32): void {
  const offset = peek(0, size);
  const selector = peek(<u32>size, size) & 0xffff;
  if (faulted()) return;
  if (protectedMode() && (selector & 3) > cpl()) {
    unsupported(UNSUPPORTED_TRANSFER | 0x100); // return to an outer privilege level
    return;
  }
  if (!loadCodeSegment(selector, offset)) return;
  setEip(size == 2 ? offset & 0xffff : offset);
  setStackPointer(stackOffset(<u32>(2 * size) + release));
}

/** IRET: real mode, and protected mode within one privilege level without a task return. */
export function interruptReturn(size: i32): void {
  const offset = peek(0, size);
  const selector = peek(<u32>size, size) & 0xffff;
  const newFlags = peek(<u32>(2 * size), size);
  if (faulted()) return;
  if (protectedMode() && ((getFlags() & NT) != 0 || (selector & 3) > cpl() || (size == 4 && (newFlags & VM) != 0))) {
    unsupported(UNSUPPORTED_TRANSFER | 0x200); // task return, outer privilege or virtual-8086 return
    return;
  }
  if (!loadCodeSegment(selector, offset)) return;
  setEip(size == 2 ? offset & 0xffff : offset);
  setStackPointer(stackOffset(<u32>(3 * size)));
  setFlags(newFlags, writableFlags(size));
  updatePrivilege();
}

/**
 * Delivers interrupt `vector` in real-address mode through the IVT (SDM vol. 3, 20.1.4): pushes
 * FLAGS, CS and the return IP, clears IF, TF, AC and RF, and jumps to the vector's handler.
 */
export function deliverRealModeInterrupt(vector: i32, returnEip: u32): void {
  const entry = <u32>vector << 2;
  if (entry + 3 > load<u32>(cpu + REG_IDTR_LIMIT_U32)) {
    raiseCode(GP, <u32>(vector << 3) | 2);
    return;
  }
  const target = readSystem(<u32>load<u64>(cpu + REG_IDTR_BASE_U64) + entry, 4);
  if (faulted()) return;
  push(getFlags() & 0xffff, 2);
  if (faulted()) return;
  push(segSelector(SEG_CS), 2);
  if (faulted()) return;
  push(returnEip & 0xffff, 2);
  if (faulted()) return;
  setFlags(0, IF | TF | AC | RF);
  setSegment(SEG_CS, target >> 16, (target >> 16) << 4, segLimit(SEG_CS), segAttrs(SEG_CS));
  setEip(target & 0xffff);
}
