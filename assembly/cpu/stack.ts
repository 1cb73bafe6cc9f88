// Stack accesses through SS: the stack pointer is ESP for a 32-bit stack segment (SS.B) and SP
// otherwise. A push writes before it moves the pointer, so a faulting push changes nothing.

import { SEG_SS } from "../abi/layout";
import { faulted } from "./fault";
import { readSeg, writeSeg } from "./memory";
import { ESP, reg16, reg32, setReg16, setReg32, stackIs32 } from "./state";


/** The stack pointer at the stack's width. */
export function stackPointer(): u32 {
  return stackIs32() ? reg32(ESP) : reg16(ESP);
}

export function setStackPointer(value: u32): void {
  if (stackIs32()) setReg32(ESP, value);
  else setReg16(ESP, value);
}

/** Offset of the stack slot `delta` bytes from the top (wrapping at the stack's width). */
export function stackOffset(delta: u32): u32 {
  const sp = stackPointer() + delta;
  return stackIs32() ? sp : sp & 0xffff;
}

export function push(value: u32, size: i32): void {
  const top = stackOffset(<u32>-size);
  writeSeg(SEG_SS, top, size, value);
  if (!faulted()) setStackPointer(top);
}

export function pop(size: i32): u32 {
  const value = readSeg(SEG_SS, stackOffset(0), size);
  if (!faulted()) setStackPointer(stackOffset(<u32>size));
  return value;
}

/** Reads the stack slot `delta` bytes from the top without moving the pointer. */
export function peek(delta: u32, size: i32): u32 {
  return readSeg(SEG_SS, stackOffset(delta), size);
}
