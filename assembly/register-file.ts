// Register files: byte registers a device keeps current in its socket's header (SOCKET_SHADOW_*)
// so a read the device marked readable is served here, with atomic loads and no message. Only
// side-effect-free reads are ever marked readable; the device clears the mark while a read would
// change its state (an error bit to clear, a FIFO to pop), sending such reads down the socket.
//
// Ordering: a read must not miss the effect of this vCPU's own posted writes still in its request
// ring. Waiting for the ring to empty would send every poll after a posted write down the socket
// (the 16550's LSR is polled right after each posted THR write), so writes are split in two: a
// write the device marked quiet (SHADOW_QUIET_WRITE: in the device's present state it changes no
// slot, its own quiet mark included) leaves the file as it is; any other posted write to the
// socket moves the ring's fence to the head it leaves behind. A read is served here only while
// the device's tail has reached the fence, i.e. every posted write that could change a slot has
// been handled, and the device publishes a write's effect on the file before it frees the slot
// (the tail store is the release the reader's tail load acquires). A write's quiet mark is only
// trusted when no unhandled write precedes it that could change the mark: while the fence is
// ahead of the tail, every posted write counts as not quiet.

import {
  MAP_ENTRY_RINGS_U32, MAP_ENTRY_SHADOW_U32, PAIR_SIZE, RING_FENCE_U32, RING_HEAD_U32, RING_TAIL_U32,
  SHADOW_QUIET_WRITE, SHADOW_READABLE, SHADOW_SLOT_SIZE, SHADOW_VALUE_MASK, VCPU_INDEX_U32,
} from "./abi/layout";

/** This vCPU's request ring on the socket of the region at `entry`. */
// @ts-ignore: decorator
@inline function requestRing(block: usize, entry: usize): usize {
  return <usize>load<u32>(entry + MAP_ENTRY_RINGS_U32) + <usize>load<u32>(block + VCPU_INDEX_U32) * <usize>PAIR_SIZE;
}

/** Whether the device has handled every posted write of this vCPU that could change a slot. */
// @ts-ignore: decorator
@inline function fenceReached(ring: usize): bool {
  return <i32>(atomic.load<u32>(ring + RING_TAIL_U32) - load<u32>(ring + RING_FENCE_U32)) >= 0;
}

/**
 * The byte a one-byte read at `offset` of the region at `entry` returns, served from the region's
 * register file; -1 when the read must go to the device.
 */
export function readShadow(block: usize, entry: usize, offset: u32): i32 {
  const shadow = load<u32>(entry + MAP_ENTRY_SHADOW_U32);
  if (shadow == 0 || !fenceReached(requestRing(block, entry))) return -1;
  const slot = atomic.load<u32>(<usize>shadow + <usize>offset * SHADOW_SLOT_SIZE);
  return slot & SHADOW_READABLE ? <i32>(slot & SHADOW_VALUE_MASK) : -1;
}

/**
 * Before a posted write of `size` bytes at `offset` of the socket region at `entry` enters the
 * ring: unless it is quiet, later register-file reads wait until the device has handled it.
 */
export function fencePostedWrite(block: usize, entry: usize, offset: u32, size: i32): void {
  const ring = requestRing(block, entry);
  const shadow = load<u32>(entry + MAP_ENTRY_SHADOW_U32);
  if (shadow != 0 && size == 1 && fenceReached(ring)
    && atomic.load<u32>(<usize>shadow + <usize>offset * SHADOW_SLOT_SIZE) & SHADOW_QUIET_WRITE) return;
  // The write will take the slot at the head; the tail passes it once the device handled it.
  store<u32>(ring + RING_FENCE_U32, load<u32>(ring + RING_HEAD_U32) + 1);
}
