/**
 * The socketpair: bounded rings of fixed-size messages in shared memory with Atomics doorbells,
 * linking a vCPU (the requester) with a device model (the server). A socket holds one ring pair
 * per vCPU: the request ring (vCPU -> device) and the reply ring (device -> vCPU).
 *
 * Guarantees:
 * - Posted writes and synchronous requests travel in one FIFO ring, so a synchronous request is
 *   served only after every earlier posted write of that vCPU (coalesced-MMIO ordering).
 * - A full ring applies back-pressure: the producer waits for space, nothing is dropped or
 *   overwritten. A slot is freed only once the device has handled its message, so a requester
 *   can drain(): wait until everything it sent, posted writes included, has been handled.
 * - Sleepers are woken only when they announced sleep (a "sleeping" word checked by the producer
 *   after publishing), so the spinning hot path makes no notify calls.
 * - Malformed requests are answered with OP_ERROR (or reported, when posted) and never handed to
 *   the device; corrupt ring indices raise a SocketError.
 */
import {
  ERR_BAD_OP, ERR_BAD_SIZE, ERR_BAD_SPACE, ERR_DEVICE, MSG_DATA_U64, MSG_OFFSET_U64, MSG_OP_U32,
  MSG_SIZE, MSG_SIZE_U32, MSG_SPACE_U32, MSG_TAG_U32, OP_ERROR, OP_READ, OP_REPLY, OP_WRITE,
  OP_WRITE_POSTED, RING_CONSUMER_SLEEPING_U32, RING_HEAD_U32, RING_PRODUCER_SLEEPING_U32,
  RING_SIZE, RING_SLOT_COUNT, RING_SLOTS, RING_TAIL_U32, SOCKET_DOORBELL_U32, SOCKET_HEADER_SIZE,
  SOCKET_MAGIC, SOCKET_MAGIC_U32, SOCKET_SLEEPING_U32, SPACE_MMIO, SPACE_PIO, PAIR_SIZE,
} from "../assembly/abi/layout";

/** What a socket carries: one MMIO or port access, or its reply. Reused, never reallocated. */
export interface IoMessage {
  /** OP_READ, OP_WRITE, OP_WRITE_POSTED, OP_REPLY or OP_ERROR. */
  op: number;
  /** Access size in bytes: 1, 2, 4 or 8. */
  size: number;
  /** Offset of the access inside its region (devices see offsets; the board owns addresses). */
  offset: number;
  /** Low 32 bits of the data (unsigned). For OP_ERROR, the ERR_* code. */
  data: number;
  /** High 32 bits of the data (8-byte accesses). */
  dataHigh: number;
  /** SPACE_MMIO or SPACE_PIO. */
  space: number;
  /** The tag the memory map gave the region, so one device can serve several regions. */
  tag: number;
}

/** A fresh message, all fields zero. */
export const newMessage = (): IoMessage => ({ op: 0, size: 0, offset: 0, data: 0, dataHigh: 0, space: 0, tag: 0 });

/** The serialisable description of a socket's device end, posted to a device worker. */
export interface SocketEndpoint {
  memory: WebAssembly.Memory;
  /** Socket id, as named by memory-map regions. */
  id: number;
  /** Byte address of the socket block. */
  base: number;
  /** Number of ring pairs (the VM's maximum vCPU count). */
  pairs: number;
}

/** A ring was found corrupt or a request was refused by the device. */
export class SocketError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
    this.name = "SocketError";
  }
}

const CAPACITY = RING_SLOT_COUNT;

/**
 * One direction of a ring pair. Single producer, single consumer. Each side keeps its own index
 * locally and caches the other's, reading the shared copy only when the ring looks full (producer)
 * or empty (consumer): the hot path costs one atomic store and one atomic load per message.
 */
class Ring {
  private readonly headIndex: number;
  private readonly tailIndex: number;
  private readonly slots: number;
  private readonly producerSleeping: number;
  /** The producer's index (authoritative on the producer side, a cache on the consumer side). */
  private head: number;
  /** The consumer's index (authoritative on the consumer side, a cache on the producer side). */
  private tail: number;

  /**
   * @param wake word the consumer sleeps on (its own head, or a shared doorbell)
   * @param consumerSleeping word the consumer sets while it sleeps on `wake`
   */
  constructor(private readonly words: Int32Array, base: number, private readonly wake: number, private readonly consumerSleeping: number) {
    this.headIndex = (base + RING_HEAD_U32) >> 2;
    this.tailIndex = (base + RING_TAIL_U32) >> 2;
    this.producerSleeping = (base + RING_PRODUCER_SLEEPING_U32) >> 2;
    this.slots = (base + RING_SLOTS) >> 2;
    this.head = Atomics.load(words, this.headIndex);
    this.tail = Atomics.load(words, this.tailIndex);
  }

  /** Checks the distance between the indices; anything beyond the capacity is corruption. */
  private checked(count: number): number {
    if (count >>> 0 > CAPACITY) throw new SocketError(`ring indices corrupt: ${count >>> 0} messages in a ring of ${CAPACITY}`);
    return count >>> 0;
  }

  /** Consumer: whether a message is waiting (reads the producer's index when none is known). */
  hasMessage(): boolean {
    if (this.head !== this.tail) return true;
    this.head = Atomics.load(this.words, this.headIndex);
    return this.checked(this.head - this.tail) !== 0;
  }

  /** Producer: whether there is room (reads the consumer's index when the ring looks full). */
  private hasRoom(): boolean {
    if (((this.head - this.tail) >>> 0) < CAPACITY) return true;
    this.tail = Atomics.load(this.words, this.tailIndex);
    return this.checked(this.head - this.tail) < CAPACITY;
  }

  /** Producer: appends `msg` if there is room; returns false when the ring is full. */
  tryWrite(msg: IoMessage): boolean {
    if (!this.hasRoom()) return false;
    const words = this.words;
    const at = this.slots + (this.head & (CAPACITY - 1)) * (MSG_SIZE >> 2);
    words[at + (MSG_OP_U32 >> 2)] = msg.op;
    words[at + (MSG_SIZE_U32 >> 2)] = msg.size;
    words[at + (MSG_OFFSET_U64 >> 2)] = msg.offset;
    words[at + (MSG_OFFSET_U64 >> 2) + 1] = Math.floor(msg.offset / 2 ** 32);
    words[at + (MSG_DATA_U64 >> 2)] = msg.data;
    words[at + (MSG_DATA_U64 >> 2) + 1] = msg.dataHigh;
    words[at + (MSG_SPACE_U32 >> 2)] = msg.space;
    words[at + (MSG_TAG_U32 >> 2)] = msg.tag;
    this.head = (this.head + 1) | 0;
    Atomics.store(words, this.headIndex, this.head);
    if (Atomics.load(words, this.consumerSleeping) !== 0) {
      if (this.wake !== this.headIndex) Atomics.add(words, this.wake, 1);
      Atomics.notify(words, this.wake);
    }
    return true;
  }

  /** Producer: appends `msg`, waiting (blocking, so never on a page's main thread) while full. */
  write(msg: IoMessage): void {
    while (!this.tryWrite(msg)) this.waitForConsumer(CAPACITY - 1);
  }

  /** Producer: waits until the consumer has taken every message written so far. */
  drain(): void {
    while (!this.isDrained()) this.waitForConsumer(0);
  }

  private isDrained(): boolean {
    if (this.head === this.tail) return true;
    this.tail = Atomics.load(this.words, this.tailIndex);
    return this.checked(this.head - this.tail) === 0;
  }

  /** Producer: sleeps until at most `left` messages are untaken (or a timeout passes). */
  private waitForConsumer(left: number): void {
    Atomics.store(this.words, this.producerSleeping, 1);
    const tail = Atomics.load(this.words, this.tailIndex);
    if (((this.head - tail) >>> 0) > left) Atomics.wait(this.words, this.tailIndex, tail, 100);
    Atomics.store(this.words, this.producerSleeping, 0);
  }

  /** Consumer: copies the oldest message into `msg` without taking it; false when empty. */
  peek(msg: IoMessage): boolean {
    if (!this.hasMessage()) return false;
    const words = this.words;
    const at = this.slots + (this.tail & (CAPACITY - 1)) * (MSG_SIZE >> 2);
    msg.op = words[at + (MSG_OP_U32 >> 2)];
    msg.size = words[at + (MSG_SIZE_U32 >> 2)];
    msg.offset = (words[at + (MSG_OFFSET_U64 >> 2)] >>> 0) + (words[at + (MSG_OFFSET_U64 >> 2) + 1] >>> 0) * 2 ** 32;
    msg.data = words[at + (MSG_DATA_U64 >> 2)] >>> 0;
    msg.dataHigh = words[at + (MSG_DATA_U64 >> 2) + 1] >>> 0;
    msg.space = words[at + (MSG_SPACE_U32 >> 2)];
    msg.tag = words[at + (MSG_TAG_U32 >> 2)] >>> 0;
    return true;
  }

  /** Consumer: takes the message peek() returned, freeing its slot. */
  advance(): void {
    this.tail = (this.tail + 1) | 0;
    Atomics.store(this.words, this.tailIndex, this.tail);
    if (Atomics.load(this.words, this.producerSleeping) !== 0) Atomics.notify(this.words, this.tailIndex);
  }

  /** Consumer: moves the oldest message into `msg`; returns false when the ring is empty. */
  read(msg: IoMessage): boolean {
    if (!this.peek(msg)) return false;
    this.advance();
    return true;
  }

  /** Consumer: sleeps until a message may be there, or `timeoutMs` passes. */
  sleep(timeoutMs: number): void {
    Atomics.store(this.words, this.consumerSleeping, 1);
    const seen = Atomics.load(this.words, this.wake);
    if (!this.hasMessage()) Atomics.wait(this.words, this.wake, seen, timeoutMs);
    Atomics.store(this.words, this.consumerSleeping, 0);
  }
}

const ringsOfPair = (words: Int32Array, socketBase: number, pair: number): [request: Ring, reply: Ring] => {
  const base = socketBase + SOCKET_HEADER_SIZE + pair * PAIR_SIZE;
  const replyBase = base + RING_SIZE;
  return [
    new Ring(words, base, (socketBase + SOCKET_DOORBELL_U32) >> 2, (socketBase + SOCKET_SLEEPING_U32) >> 2),
    new Ring(words, replyBase, (replyBase + RING_HEAD_U32) >> 2, (replyBase + RING_CONSUMER_SLEEPING_U32) >> 2),
  ];
};

/** Zeroes a socket block and stamps its magic word (done by the VM when it creates a socket). */
export function initSocket(endpoint: SocketEndpoint): void {
  const bytes = new Uint8Array(endpoint.memory.buffer, endpoint.base, SOCKET_HEADER_SIZE + endpoint.pairs * PAIR_SIZE);
  bytes.fill(0);
  Atomics.store(new Int32Array(endpoint.memory.buffer), (endpoint.base + SOCKET_MAGIC_U32) >> 2, SOCKET_MAGIC);
}

function checkMagic(words: Int32Array, endpoint: SocketEndpoint): void {
  if (Atomics.load(words, (endpoint.base + SOCKET_MAGIC_U32) >> 2) !== SOCKET_MAGIC) {
    throw new SocketError(`no socket at ${endpoint.base}`);
  }
}

/** Spin checks before a synchronous requester sleeps waiting for its reply. */
export const DEFAULT_REQUEST_SPIN = 2000;

/** The vCPU end of one ring pair: posts writes and makes synchronous requests. */
export class SocketRequester {
  private readonly request: Ring;
  private readonly reply: Ring;

  constructor(endpoint: SocketEndpoint, pair: number, private readonly spin = DEFAULT_REQUEST_SPIN) {
    if (!Number.isInteger(pair) || pair < 0 || pair >= endpoint.pairs) throw new RangeError(`socket ${endpoint.id} has no ring pair ${pair}`);
    const words = new Int32Array(endpoint.memory.buffer);
    checkMagic(words, endpoint);
    [this.request, this.reply] = ringsOfPair(words, endpoint.base, pair);
  }

  /** Sends `msg` (an OP_WRITE_POSTED) without waiting for the device. */
  post(msg: IoMessage): void {
    this.request.write(msg);
  }

  /** Waits until the device has handled every message sent so far (posted ones included). */
  drain(): void {
    this.request.drain();
  }

  /**
   * Sends `msg` (OP_READ or OP_WRITE) and waits for the reply, which replaces its fields (a read's
   * data arrives in `data`/`dataHigh`). Throws a SocketError when the device answers OP_ERROR.
   */
  call(msg: IoMessage): void {
    this.request.write(msg);
    for (let spins = 0; !this.reply.read(msg); spins++) {
      if (spins >= this.spin) {
        this.reply.sleep(1000);
        spins = 0;
      }
    }
    if (msg.op === OP_ERROR) throw new SocketError(`device refused the request (error ${msg.data})`, msg.data);
    if (msg.op !== OP_REPLY) throw new SocketError(`expected a reply, got op ${msg.op}`);
  }
}

/** A device model's side of a socket: handles each request and fills in a read's data. */
export type IoHandler = (msg: IoMessage) => void;

/** Why a request was not handed to the device, or 0 when it is well formed. */
function validate(msg: IoMessage): number {
  if (msg.op !== OP_READ && msg.op !== OP_WRITE && msg.op !== OP_WRITE_POSTED) return ERR_BAD_OP;
  if (msg.size !== 1 && msg.size !== 2 && msg.size !== 4 && msg.size !== 8) return ERR_BAD_SIZE;
  if (msg.space !== SPACE_MMIO && msg.space !== SPACE_PIO) return ERR_BAD_SPACE;
  return 0;
}

/** Options of a SocketServer. */
export interface ServeOptions {
  /** Called for each malformed request (it is answered OP_ERROR or, when posted, dropped). */
  onError?: (error: SocketError) => void;
}

/** The device end of a socket: serves every vCPU's ring pair, in order per vCPU. */
export class SocketServer {
  private readonly words: Int32Array;
  private readonly pairs: Array<[Ring, Ring]> = [];
  private readonly doorbell: number;
  private readonly sleeping: number;
  private readonly msg = newMessage();
  private stopped = false;

  constructor(endpoint: SocketEndpoint, private readonly handler: IoHandler, private readonly options: ServeOptions = {}) {
    this.words = new Int32Array(endpoint.memory.buffer);
    checkMagic(this.words, endpoint);
    for (let i = 0; i < endpoint.pairs; i++) this.pairs.push(ringsOfPair(this.words, endpoint.base, i));
    this.doorbell = (endpoint.base + SOCKET_DOORBELL_U32) >> 2;
    this.sleeping = (endpoint.base + SOCKET_SLEEPING_U32) >> 2;
  }

  /** Handles every request waiting now; returns how many were taken. */
  poll(): number {
    let handled = 0;
    const msg = this.msg;
    for (const [request, reply] of this.pairs) {
      // The slot is freed only after the device handled it, so an empty ring means "all done".
      while (request.peek(msg)) {
        handled++;
        this.handle(msg, reply);
        request.advance();
      }
    }
    return handled;
  }

  private handle(msg: IoMessage, reply: Ring): void {
    const posted = msg.op === OP_WRITE_POSTED;
    let error = validate(msg);
    if (error === 0) {
      try {
        this.handler(msg);
      } catch (cause) {
        error = ERR_DEVICE;
        this.options.onError?.(new SocketError(`device handler failed: ${String(cause)}`, ERR_DEVICE));
      }
    } else {
      this.options.onError?.(new SocketError(`malformed request (op ${msg.op}, size ${msg.size}, space ${msg.space})`, error));
    }
    if (posted || (msg.op !== OP_READ && msg.op !== OP_WRITE)) return;
    msg.op = error === 0 ? OP_REPLY : OP_ERROR;
    if (error !== 0) {
      msg.data = error;
      msg.dataHigh = 0;
    }
    // One synchronous request is outstanding per vCPU, so its reply ring always has room.
    if (!reply.tryWrite(msg)) throw new SocketError("reply ring full: the requester broke the one-request protocol");
  }

  private sleepIsSafe(): number | undefined {
    Atomics.store(this.words, this.sleeping, 1);
    const seen = Atomics.load(this.words, this.doorbell);
    for (const [request] of this.pairs) if (request.hasMessage()) return undefined;
    return seen;
  }

  /**
   * Serves in a blocking loop on a worker thread until stop(): polls, spins `spin` empty polls,
   * then sleeps on the doorbell. `spin` large keeps the device hot; 0 makes it sleep at once.
   */
  serveBlocking(spin: number): void {
    while (!this.stopped) {
      if (this.poll() !== 0) continue;
      let idle = 0;
      while (idle < spin && this.poll() === 0) idle++;
      if (idle < spin) continue;
      const seen = this.sleepIsSafe();
      if (seen !== undefined) Atomics.wait(this.words, this.doorbell, seen, 100);
      Atomics.store(this.words, this.sleeping, 0);
    }
  }

  /** Serves without blocking the event loop, sleeping with Atomics.waitAsync; ends at stop(). */
  async serveAsync(): Promise<void> {
    let busy = 0;
    while (!this.stopped) {
      if (this.poll() !== 0) {
        // Under a steady stream, let the worker's other tasks (console input, control) run too.
        if (++busy % 256 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
        continue;
      }
      const seen = this.sleepIsSafe();
      if (seen !== undefined) {
        const result = Atomics.waitAsync(this.words, this.doorbell, seen, 1000);
        if (result.async) await result.value;
      }
      Atomics.store(this.words, this.sleeping, 0);
    }
  }

  /** Makes serveBlocking/serveAsync return after their current step. */
  stop(): void {
    this.stopped = true;
    Atomics.add(this.words, this.doorbell, 1);
    Atomics.notify(this.words, this.doorbell);
  }
}
