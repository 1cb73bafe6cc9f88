// The core's side of compiled blocks. The host (workers/jit/) compiles a hot decoded block into a
// WASM function of its own module, puts it in the function table this module imports, and writes
// its index into the block's header; from then on the block runs as that function, which does
// what runBlock() would and calls back into the exports below (and block-run.ts's) for whatever
// it does not do itself: the slow paths of memory accesses, the operations whose flags are not
// lazy, flag tests it cannot do from values at hand, whole records.

import { alu, shift } from "./alu";
import { runBlock } from "./block-run";
import { B_COMPILED } from "../abi/block-records";
import { countRun } from "./blocks";
import { condition } from "./flags";
import { readSeg, writeSeg } from "./memory";
import { beginInstructionAt, eip } from "./state";

/**
 * Runs a decoded block, compiled when it has been: as runBlock(). A compiled block that loops to
 * its own start may run again and again while it fits in `most` instructions.
 */
export function runDecoded(block: usize, big: bool, most: i32): i32 {
  const compiled = <u32>load<u16>(block + B_COMPILED);
  if (compiled != 0) return call_indirect<i32>(compiled, eip, most);
  if (big) countRun(block);
  return runBlock(block, big);
}

/** condition(): 1 when condition code `cc` holds. */
export function jitCondition(cc: i32): i32 {
  return condition(cc) ? 1 : 0;
}

/** The memory operand read of the instruction at `start`, as a record does it (faults recorded). */
export function jitRead(seg: i32, offset: u32, size: i32, start: u32): u32 {
  beginInstructionAt(start);
  return readSeg(seg, offset, size);
}

/** The memory operand write of the instruction at `start`. */
export function jitWrite(seg: i32, offset: u32, size: i32, value: u32, start: u32): void {
  beginInstructionAt(start);
  writeSeg(seg, offset, size, value);
}

/** An 8- or 16-bit ADC or SBB (compiled code does the 32-bit ones itself), flags set. */
export function jitAlu(op: i32, dst: u32, src: u32, size: i32): u32 {
  return alu(op, dst, src, size);
}

/** A group-2 operation `op` on a 32-bit value, flags set. */
export function jitShift(op: i32, value: u32, count: u32): u32 {
  return shift(op, value, count & 31, 4);
}
