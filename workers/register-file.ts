/**
 * The device side of a register file: slots in a socket's header where a device worker keeps the
 * byte registers the guest polls, so the vCPU reads them without a message (the core's side and
 * the ordering rule are in assembly/register-file.ts). A memory-map region names its first slot
 * (`shadow`); the device publishes, per offset of the region, the value a read returns when that
 * read changes nothing, and whether a write changes nothing published.
 *
 * The device's contract: publish every change before the socket frees the message that caused it
 * (inside the handler), and mark a read readable only while reading has no side effect.
 */
import {
  SHADOW_QUIET_WRITE, SHADOW_READABLE, SHADOW_SLOT_SIZE, SHADOW_VALUE_MASK, SOCKET_SHADOW_BASE, SOCKET_SHADOW_SLOTS,
} from "../assembly/abi/layout";
import type { SocketEndpoint } from "./socket";

export class RegisterFile {
  private readonly words: Int32Array;
  private readonly first: number;

  /** Slots `firstSlot`..`firstSlot + count - 1` of the socket's register file, all unreadable and loud. */
  constructor(socket: SocketEndpoint, firstSlot: number, readonly count: number) {
    if (!Number.isInteger(firstSlot) || !Number.isInteger(count) || firstSlot < 0 || count < 1 || firstSlot + count > SOCKET_SHADOW_SLOTS) {
      throw new RangeError(`a register file of ${count} slots from slot ${firstSlot} does not fit the socket's ${SOCKET_SHADOW_SLOTS}`);
    }
    this.words = new Int32Array(socket.memory.buffer);
    this.first = (socket.base + SOCKET_SHADOW_BASE) / SHADOW_SLOT_SIZE + firstSlot;
    for (let i = 0; i < count; i++) Atomics.store(this.words, this.first + i, 0);
  }

  /**
   * Publishes what offset `offset` shows the vCPU: `value`, the byte a read returns, or undefined
   * when the read must reach the device; `quietWrite`, whether a posted write there changes no slot.
   */
  publish(offset: number, value: number | undefined, quietWrite: boolean): void {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.count) throw new RangeError(`register file offset ${offset} outside 0..${this.count - 1}`);
    const word = (value === undefined ? 0 : SHADOW_READABLE | (value & SHADOW_VALUE_MASK)) | (quietWrite ? SHADOW_QUIET_WRITE : 0);
    const at = this.first + offset;
    // Stores only on change: the vCPU polls these words, so an unchanged line stays shared.
    if (this.words[at] !== word) Atomics.store(this.words, at, word);
  }

  /** What a vCPU reading `offset` is served, or undefined when the read goes to the device. */
  readable(offset: number): number | undefined {
    const word = Atomics.load(this.words, this.first + offset);
    return word & SHADOW_READABLE ? word & SHADOW_VALUE_MASK : undefined;
  }

  /** Whether a posted write to `offset` is quiet (changes no slot). */
  quietWrite(offset: number): boolean {
    return (Atomics.load(this.words, this.first + offset) & SHADOW_QUIET_WRITE) !== 0;
  }
}
