// Why the current instruction stops the vCPU, set by handlers and read by the interpreter after
// the instruction: HLT (which completes), or something the core cannot do (an opcode not
// implemented yet, code fetched from outside RAM), which is undone like a fault.

import { EXIT_FETCH, EXIT_NONE, EXIT_UNSUPPORTED, RUN_EXIT_DETAIL_U32 } from "../abi/layout";
import { raise, STOP } from "./fault";
import { cpu } from "./state";

export let exitReason: i32 = EXIT_NONE;
/** Set when the instruction stopped part-way to be run again (a REP string chunk): not retired. */
export let unfinished = false;

export function clearExit(): void {
  exitReason = EXIT_NONE;
  unfinished = false;
}

/** Marks the instruction as not finished: EIP stays on it and it does not count as retired. */
export function runAgain(): void {
  unfinished = true;
}

export function requestExit(reason: i32): void {
  exitReason = reason;
}

/** Stops the vCPU before this instruction with `reason` (and its detail word). */
function stopBefore(reason: i32, detail: u32): void {
  store<u32>(cpu + RUN_EXIT_DETAIL_U32, detail);
  exitReason = reason;
  raise(STOP);
}

/** An instruction the core does not implement (detail: its opcode, 0x0F00 | byte for the 0F map). */
export function unsupported(what: u32): void {
  stopBefore(EXIT_UNSUPPORTED, what);
}

/** Code fetched from a linear address with no RAM or ROM behind it. */
export function fetchOutsideRam(linear: u32): void {
  stopBefore(EXIT_FETCH, linear);
}
