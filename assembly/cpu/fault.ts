// The exception being raised by the current instruction. Handlers run to completion in wasm, so
// a fault is recorded here and every memory access after it is skipped by its caller; the
// interpreter then rolls the instruction back (EIP, and ESP where a handler says so) and
// delivers the exception. Vectors and error codes as in the Intel SDM vol. 3, chapter 6.

export const NO_FAULT: i32 = -1;
export const DE: i32 = 0; // divide error
export const DB: i32 = 1;
export const BP: i32 = 3;
export const OF_: i32 = 4; // overflow (INTO)
export const BR: i32 = 5; // BOUND range exceeded
export const UD: i32 = 6; // invalid opcode
export const NM: i32 = 7; // device not available
export const DF_: i32 = 8; // double fault
export const TS: i32 = 10; // invalid TSS
export const NP: i32 = 11; // segment not present
export const SS_: i32 = 12; // stack-segment fault
export const GP: i32 = 13; // general protection
export const PF_: i32 = 14; // page fault
export const MF: i32 = 16; // x87 floating-point error
export const AC_: i32 = 17; // alignment check
/** Not an exception: the instruction stops the vCPU for the reason in exit.ts, undone like a fault. */
export const STOP: i32 = 256;

export let faultVector: i32 = NO_FAULT;
export let faultCode: u32 = 0;
export let faultHasCode: bool = false;

/** Records an exception without an error code (the first one raised wins). */
export function raise(vector: i32): void {
  if (faultVector == NO_FAULT) {
    faultVector = vector;
    faultCode = 0;
    faultHasCode = false;
  }
}

/** Records an exception with an error code. */
export function raiseCode(vector: i32, code: u32): void {
  if (faultVector == NO_FAULT) {
    faultVector = vector;
    faultCode = code;
    faultHasCode = true;
  }
}

// @ts-ignore: decorator
@inline export function faulted(): bool {
  return faultVector != NO_FAULT;
}

export function clearFault(): void {
  faultVector = NO_FAULT;
}
