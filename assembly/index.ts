// The vCPU core's entry points. One compiled module is instantiated once per vCPU worker over
// the VM's shared memory; every call names the vCPU's state block, and the module keeps no
// state of its own between calls (see assembly/abi/layout.ts for the block layout).

import {
  VCPU_REQUEST_U32, RUN_EXIT_REASON_U32, RUN_INSN_COUNT_U64, EXIT_NONE, EXIT_BUDGET, EXIT_REQUEST, EXIT_HLT,
} from "./abi/layout";
import { step } from "./cpu/interp";

/** End of the module's static data; the host checks it lies below CORE_STATIC_END. */
export function heapBase(): usize {
  return __heap_base;
}

/**
 * Runs the vCPU whose state block is at `block` for at most `budget` instructions. Returns (and
 * stores in the run block) the exit reason: EXIT_BUDGET when the slice is used up, EXIT_REQUEST
 * when the owner set a request bit, or a reason the host must handle.
 */
export function run(block: usize, budget: i32): i32 {
  let reason = EXIT_BUDGET;
  let retired: i32 = 0;
  while (retired < budget) {
    if (atomic.load<u32>(block + VCPU_REQUEST_U32) != 0) {
      reason = EXIT_REQUEST;
      break;
    }
    const exit = step(block);
    if (exit != EXIT_NONE) {
      // HLT retires; a fault-like exit (unsupported opcode, bad fetch) does not.
      if (exit == EXIT_HLT) retired++;
      reason = exit;
      break;
    }
    retired++;
  }
  store<u64>(block + RUN_INSN_COUNT_U64, load<u64>(block + RUN_INSN_COUNT_U64) + <u64>retired);
  store<u32>(block + RUN_EXIT_REASON_U32, reason);
  return reason;
}
