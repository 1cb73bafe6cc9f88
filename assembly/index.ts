// The vCPU core's entry points. One compiled module is instantiated once per vCPU worker over
// the VM's shared memory; every call names the vCPU's state block, whose address the core holds
// only for the duration of the call (see assembly/abi/layout.ts for the block layout).

import {
  VCPU_REQUEST_U32, VCPU_MAP_GEN_U32, RUN_EXIT_REASON_U32, RUN_INSN_COUNT_U64, EXIT_NONE, EXIT_BUDGET,
  EXIT_REQUEST, EXIT_HLT,
} from "./abi/layout";
import { blockRetired } from "./cpu/block-run";
import { runDecoded } from "./cpu/jit";
import { enterBlocks, findBlock } from "./cpu/blocks";
import { unfinished } from "./cpu/exit";
import { loadFlags, storeFlags } from "./cpu/flags";
import { acceptInterrupts, deliverPendingException, eventCheck, loadShadow, step, storeShadow } from "./cpu/interp";
import { flushTlb, updatePrivilege } from "./cpu/memory";
import { resetApic as resetApicState } from "./apic/apic";
import { csBig, enter, leave } from "./cpu/state";

/** The memory-map generation the TLB was filled under; a new one flushes it. */
let tlbGeneration: u32 = 0;

/** End of the module's static data; the host checks it lies below CORE_STATIC_END. */
export function heapBase(): usize {
  return __heap_base;
}

/** Puts the local APIC of the vCPU at `block` in its power-up state (the vCPU worker does at start). */
export function resetApic(block: usize): void {
  enter(block);
  resetApicState();
}

/**
 * Runs the vCPU whose state block is at `block` for at most `budget` instructions. Returns (and
 * stores in the run block) the exit reason: EXIT_BUDGET when the slice is used up, EXIT_REQUEST
 * when the owner set a request bit, or a reason the host must handle. The host may have changed
 * any register or the memory map since the last call, so both are picked up here.
 */
export function run(block: usize, budget: i32): i32 {
  enter(block);
  loadFlags();
  loadShadow();
  updatePrivilege();
  const generation = load<u32>(block + VCPU_MAP_GEN_U32);
  if (generation != tlbGeneration) {
    flushTlb(false);
    tlbGeneration = generation;
  }
  enterBlocks();
  let reason = deliverPendingException();
  if (reason == EXIT_NONE) reason = EXIT_BUDGET;
  let retired: i32 = 0;
  while (reason == EXIT_BUDGET && retired < budget) {
    if (atomic.load<u32>(block + VCPU_REQUEST_U32) != 0) {
      reason = EXIT_REQUEST;
      break;
    }
    let exit = acceptInterrupts();
    // A decoded block runs only where nothing waits at the acceptance point (a shadow, an
    // interrupt to take): there the interpreter keeps the one-instruction granularity.
    const most = budget - retired;
    const decoded = exit == EXIT_NONE && !eventCheck ? findBlock(most) : 0;
    if (decoded != 0) {
      exit = runDecoded(decoded, csBig, most);
      retired += blockRetired;
      if (exit == EXIT_NONE) continue;
      reason = exit;
      break;
    }
    if (exit == EXIT_NONE) exit = step();
    if (exit != EXIT_NONE) {
      // HLT retires; a fault-like exit (unsupported opcode, exception) does not.
      if (exit == EXIT_HLT) retired++;
      reason = exit;
      break;
    }
    if (!unfinished) retired++;
  }
  leave();
  storeFlags();
  storeShadow();
  store<u64>(block + RUN_INSN_COUNT_U64, load<u64>(block + RUN_INSN_COUNT_U64) + <u64>retired);
  store<u32>(block + RUN_EXIT_REASON_U32, reason);
  return reason;
}

// What compiled blocks (workers/jit/) call and touch in this module.
export { blockRetired, faultAt, leave, runMiddleRecord, runRecords } from "./cpu/block-run";
export { codeChanged } from "./cpu/blocks";
export { faultVector } from "./cpu/fault";
export { flags, lazyDst, lazyOp, lazyRes, lazySrc, lazyTop } from "./cpu/flags";
export { eventCheck } from "./cpu/interp";
export { jitAlu, jitCondition, jitRead, jitShift, jitWrite } from "./cpu/jit";
export { userOffset } from "./cpu/memory";
