// Interrupt and exception delivery (SDM vol. 3, 6.12; real-address mode 20.1.4). Real mode: the
// IVT. Protected mode: interrupt and trap gates of the IDT, to the same privilege level or, for
// a more privileged non-conforming handler, on the stack the TSS names for it; the handler gets
// EFLAGS, CS, EIP (and SS, ESP when the stack switched) and the error code. Task gates switch
// tasks (tasks.ts). Interrupts of virtual-8086 code stop the vCPU with EXIT_UNSUPPORTED for now.

import { REG_IDTR_BASE_U64, REG_IDTR_LIMIT_U32, SEG_CS } from "../abi/layout";
import {
  descAttrs, descDpl, DESC_CODE, DESC_CONFORMING, DESC_P, DESC_S, gateOffset, gateSelector, readDescriptor,
  readGate, READ_OUTSIDE, TYPE_INT_GATE16, TYPE_INT_GATE32, TYPE_TASK_GATE, TYPE_TRAP_GATE16, TYPE_TRAP_GATE32,
} from "./descriptors";
import { unsupported } from "./exit";
import { faulted, GP, NP, raiseCode } from "./fault";
import { getFlags, setFlags } from "./flags";
import { readSystem } from "./memory";
import {
  codeLimit, enterKeptCode, keepCodeDescriptor, outerEsp, outerSs, restoreOuterStack, selectorFault,
  switchToInnerStack, UNSUPPORTED_VIRTUAL_8086,
} from "./segments";
import { push } from "./stack";
import { taskSwitch, TASK_INT } from "./tasks";
import { AC, cpl, cpu, IF, NT, protectedMode, RF, segAttrs, segLimit, segSelector, setEip, setSegment, TF, VM } from "./state";

/**
 * Delivers interrupt or exception `vector`. `software` marks INT n, INT3, INTO and INT1 (their
 * gate's DPL is checked against CPL and error codes get EXT = 0); `returnEip` is where the
 * handler's IRET resumes. A fault during delivery is left raised for the caller.
 */
export function deliverInterrupt(vector: i32, hasCode: bool, code: u32, software: bool, returnEip: u32): void {
  if (!protectedMode()) {
    deliverRealMode(vector, returnEip);
    return;
  }
  const ext: u32 = software ? 0 : 1;
  const gateError = (<u32>vector << 3) | 2 | ext;
  const read = readGate(<u32>vector);
  if (read == READ_OUTSIDE) raiseCode(GP, gateError);
  if (read != 0) return;
  const type = descAttrs & 0x1f;
  if (type == TYPE_TASK_GATE) {
    if (software && descDpl() < cpl()) raiseCode(GP, gateError);
    else if ((descAttrs & DESC_P) == 0) raiseCode(NP, gateError);
    else taskSwitch(gateSelector, TASK_INT, returnEip, hasCode, code, ext);
    return;
  }
  if (type != TYPE_INT_GATE32 && type != TYPE_TRAP_GATE32 && type != TYPE_INT_GATE16 && type != TYPE_TRAP_GATE16) {
    raiseCode(GP, gateError);
    return;
  }
  if (software && descDpl() < cpl()) {
    raiseCode(GP, gateError);
    return;
  }
  if ((descAttrs & DESC_P) == 0) {
    raiseCode(NP, gateError);
    return;
  }
  if ((getFlags() & VM) != 0) {
    unsupported(UNSUPPORTED_VIRTUAL_8086);
    return;
  }
  const size: i32 = (type & 0x8) != 0 ? 4 : 2;
  const clearsIf = (type & 1) == 0;
  const target = gateSelector;
  const offset = size == 4 ? gateOffset : gateOffset & 0xffff;
  if ((target & 0xfffc) == 0) {
    raiseCode(GP, ext);
    return;
  }
  const result = readDescriptor(target);
  if (result == READ_OUTSIDE) selectorFault(GP, target, ext);
  if (result != 0) return;
  const level = cpl();
  const dpl = descDpl();
  if ((descAttrs & (DESC_S | DESC_CODE)) != (DESC_S | DESC_CODE) || dpl > level) {
    selectorFault(GP, target, ext);
    return;
  }
  if ((descAttrs & DESC_P) == 0) {
    selectorFault(NP, target, ext);
    return;
  }
  keepCodeDescriptor();
  if (offset > codeLimit) {
    raiseCode(GP, ext);
    return;
  }
  const flagsImage = getFlags();
  const returnCs = segSelector(SEG_CS);
  const inner = (descAttrs & DESC_CONFORMING) == 0 && dpl < level;
  if (inner) {
    if (!switchToInnerStack(dpl, ext)) return;
    push(outerSs, size);
    if (!faulted()) push(outerEsp, size);
  }
  if (!faulted()) push(flagsImage, size);
  if (!faulted()) push(returnCs, size);
  if (!faulted()) push(returnEip, size);
  if (hasCode && !faulted()) push(code, size);
  if (faulted()) {
    if (inner) restoreOuterStack();
    return;
  }
  enterKeptCode(target, inner ? dpl : level, offset, size);
  setFlags(0, TF | NT | VM | RF | (clearsIf ? IF : 0));
}

/** Real-address mode: pushes FLAGS, CS and IP and jumps through the IVT (IF, TF, AC, RF cleared). */
function deliverRealMode(vector: i32, returnEip: u32): void {
  const entry = <u32>vector << 2;
  if (entry + 3 > load<u32>(cpu + REG_IDTR_LIMIT_U32)) {
    raiseCode(GP, (<u32>vector << 3) | 2);
    return;
  }
  const handler = readSystem(<u32>load<u64>(cpu + REG_IDTR_BASE_U64) + entry, 4);
  if (faulted()) return;
  push(getFlags() & 0xffff, 2);
  if (!faulted()) push(segSelector(SEG_CS), 2);
  if (!faulted()) push(returnEip & 0xffff, 2);
  if (faulted()) return;
  setFlags(0, IF | TF | AC | RF);
  setSegment(SEG_CS, handler >> 16, (handler >> 16) << 4, segLimit(SEG_CS), segAttrs(SEG_CS));
  setEip(handler & 0xffff);
}
