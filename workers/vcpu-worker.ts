/**
 * The vCPU worker: one per vCPU. Instantiates the core over the VM's shared memory and runs the
 * guest in slices, between which it passes a quiescent point (memory-map RCU) and reads its
 * request word. Device accesses go to sockets from inside the `io` import; everything else the
 * guest needs from the owner is an exit. The owner talks to it only through the vCPU block
 * (workers/vcpu.ts is the other side), so a running vCPU needs no message from anyone. With a
 * local APIC, HLT does not exit: the worker sleeps on its request word until the APIC timer's
 * deadline or a kick (an interrupt sent through workers/apic-bus.ts, or the owner).
 */
import {
  APIC_SLEEPING_U32, APIC_TIMER_DEADLINE_U64, CORE_STATIC_END, EXIT_BUDGET, EXIT_HALTED, EXIT_INTA, EXIT_IO,
  EXIT_REQUEST, NO_SOCKET, OP_READ, OP_WRITE, OP_WRITE_POSTED,
  REQ_DESTROY, REQ_KICK, REQ_PAUSE, REQ_RUN, RUN_EXIT_REASON_U32, RUN_IO_DATA_U64, RUN_IO_OFFSET_U64,
  RUN_IO_POSTED_U32, RUN_IO_SIZE_U32, SPACE_PIO, STAT_HALTS_F64, STAT_MMIO_POSTED_F64, STAT_MMIO_SYNC_F64,
  STAT_OWNER_EXITS_F64, STAT_PIO_POSTED_F64, STAT_PIO_SYNC_F64, RUN_IO_SOCKET_U32, RUN_IO_SPACE_U32, RUN_IO_TAG_U32, RUN_IO_WRITE_U32,
  VCPU_EXIT_SEQ_U32, VCPU_INDEX_U32, VCPU_MAGIC, VCPU_MAGIC_U32, VCPU_MAP_GEN_U32, VCPU_REQUEST_U32,
  VCPU_STATE_DESTROYED, VCPU_STATE_EXITED, VCPU_STATE_FAILED, VCPU_STATE_PAUSED, VCPU_STATE_READY,
  VCPU_STATE_RUNNING, VCPU_STATE_U32, VMH_BASE, VMH_GP_WAITERS_U32, VMH_MAP_GEN_U32,
} from "../assembly/abi/layout";
import { hostNanoseconds } from "./host-clock";
import { BlockJit } from "./jit/block-jit";
import { SliceBudget } from "./slice-budget";
import { newMessage, SocketRequester, type SocketEndpoint } from "./socket";
import { readHeader, socketBlockBase, vcpuBlockBase, type VmLayout } from "./vm-layout";
import { firstMessage, workerScope } from "./worker-handle";

/** What the owner posts to start a vCPU worker. */
export interface VcpuInit {
  memory: WebAssembly.Memory;
  core: WebAssembly.Module;
  index: number;
  /** Guest instructions per slice between quiescent points. */
  slice?: number;
}

/** Messages from the worker to its owner (only for failures: the rest is in shared memory). */
export type VcpuWorkerMessage = { type: "failed"; message: string };

interface CoreExports {
  run(block: number, budget: number): number;
  resetApic(block: number): void;
  heapBase(): number;
}

/** Thrown through the core to unwind it when the owner destroys the vCPU mid-instruction. */
class Destroyed extends Error {}

class VcpuThread {
  private readonly words: Int32Array;
  private readonly block: number;
  private readonly layout: VmLayout;
  private readonly sockets = new Map<number, SocketRequester>();
  /** Sockets this vCPU posted to since its last exit: drained before the owner sees an exit. */
  private readonly posted = new Set<SocketRequester>();
  /** Sockets whose failed accesses were already reported (one report each, not one per access). */
  private readonly reported = new Set<number>();
  private readonly msg = newMessage();
  /** The VM's memory as f64s, for the access counters (STAT_*) in the vCPU block. */
  private readonly stats: Float64Array;
  private core!: CoreExports;
  private readonly jit: BlockJit;

  constructor(private readonly init: VcpuInit) {
    this.words = new Int32Array(init.memory.buffer);
    this.stats = new Float64Array(init.memory.buffer);
    this.block = vcpuBlockBase(init.index);
    this.layout = readHeader(init.memory);
    this.jit = new BlockJit(init.memory, this.block, this.layout.codeBase + init.index * this.layout.codeStride);
  }

  private at(offset: number): number {
    return (this.block + offset) >> 2;
  }

  private count(stat: number): void {
    this.stats[(this.block + stat) >> 3]++;
  }

  async start(): Promise<void> {
    const instance = await WebAssembly.instantiate(this.init.core, {
      env: {
        memory: this.init.memory, table: this.jit.table, io: () => this.io(), hostNanoseconds,
        acknowledgeExtInt: () => this.acknowledgeExtInt(),
      },
    });
    this.core = instance.exports as unknown as CoreExports;
    this.jit.attach(instance.exports);
    if (this.core.heapBase() > CORE_STATIC_END) {
      throw new Error(`core static data ends at ${this.core.heapBase()}, past CORE_STATIC_END ${CORE_STATIC_END}`);
    }
    this.words[this.at(VCPU_INDEX_U32)] = this.init.index;
    this.core.resetApic(this.block);
    Atomics.store(this.words, this.at(VCPU_MAGIC_U32), VCPU_MAGIC);
    this.setState(VCPU_STATE_READY);
    this.loop();
  }

  private setState(state: number): void {
    Atomics.store(this.words, this.at(VCPU_STATE_U32), state);
    Atomics.notify(this.words, this.at(VCPU_STATE_U32));
  }

  /** Hands an exit to the owner once every posted write of this vCPU has been handled. */
  private exitToOwner(): void {
    this.count(STAT_OWNER_EXITS_F64);
    for (const socket of this.posted) socket.drain();
    this.posted.clear();
    this.signalOwner(VCPU_STATE_EXITED);
  }

  /** Tells a waiting run() caller that something happened (an exit, a failure, destruction). */
  private signalOwner(state: number): void {
    // The sequence moves before the state: an owner that sees the state may terminate us at once.
    Atomics.add(this.words, this.at(VCPU_EXIT_SEQ_U32), 1);
    this.setState(state);
    Atomics.notify(this.words, this.at(VCPU_EXIT_SEQ_U32));
  }

  /** RCU quiescent point: adopt the current memory map generation and advertise it. */
  private quiescentPoint(): void {
    const genIndex = (VMH_BASE + VMH_MAP_GEN_U32) >> 2;
    let gen: number;
    do {
      gen = Atomics.load(this.words, genIndex);
      Atomics.store(this.words, this.at(VCPU_MAP_GEN_U32), gen);
    } while (Atomics.load(this.words, genIndex) !== gen);
    this.wakePublisher();
  }

  /** Extended quiescent state: this vCPU reads no memory map until its next quiescent point. */
  private quiescentIdle(): void {
    Atomics.store(this.words, this.at(VCPU_MAP_GEN_U32), 0);
    this.wakePublisher();
  }

  private wakePublisher(): void {
    if (Atomics.load(this.words, (VMH_BASE + VMH_GP_WAITERS_U32) >> 2) !== 0) Atomics.notify(this.words, this.at(VCPU_MAP_GEN_U32));
  }

  /** Waits (idle) until the owner asks to run; returns false when it asks to destroy instead. */
  private waitForRun(): boolean {
    this.quiescentIdle();
    const request = this.at(VCPU_REQUEST_U32);
    for (;;) {
      const bits = Atomics.load(this.words, request);
      if (bits & REQ_DESTROY) return false;
      if ((bits & REQ_RUN) && !(bits & REQ_PAUSE)) {
        Atomics.and(this.words, request, ~REQ_RUN);
        this.setState(VCPU_STATE_RUNNING);
        this.quiescentPoint();
        return true;
      }
      Atomics.wait(this.words, request, bits);
    }
  }

  /** Parks the vCPU while REQ_PAUSE is set; returns false when destroyed meanwhile. */
  private pause(): boolean {
    this.quiescentIdle();
    this.setState(VCPU_STATE_PAUSED);
    const request = this.at(VCPU_REQUEST_U32);
    for (;;) {
      const bits = Atomics.load(this.words, request);
      if (bits & REQ_DESTROY) return false;
      if (!(bits & REQ_PAUSE)) break;
      Atomics.wait(this.words, request, bits);
    }
    this.setState(VCPU_STATE_RUNNING);
    return true;
  }

  /** Host nanoseconds at which the APIC timer is due, or 0. */
  private timerDeadline(): number {
    const at = this.at(APIC_TIMER_DEADLINE_U64);
    return (this.words[at] >>> 0) + (this.words[at + 1] >>> 0) * 2 ** 32;
  }

  /**
   * The vCPU is in HLT with nothing to take: sleep on the request word until the timer is due or
   * anyone sets a request bit (a kick from an interrupt sender, pause, destroy). APIC_SLEEPING_U32
   * tells senders to notify; it is set before the request word is read, and senders set their bit
   * before reading it, so one of the two always sees the other.
   */
  private sleepWhileHalted(): void {
    this.count(STAT_HALTS_F64);
    this.quiescentIdle();
    const request = this.at(VCPU_REQUEST_U32);
    const sleeping = this.at(APIC_SLEEPING_U32);
    Atomics.store(this.words, sleeping, 1);
    const bits = Atomics.load(this.words, request);
    const deadline = this.timerDeadline();
    const timeout = deadline === 0 ? Infinity : (deadline - hostNanoseconds()) / 1e6;
    if (bits === 0 && timeout > 0) Atomics.wait(this.words, request, 0, timeout);
    Atomics.store(this.words, sleeping, 0);
  }

  private loop(): void {
    const slices = new SliceBudget(this.init.slice ?? 1_000_000);
    const request = this.at(VCPU_REQUEST_U32);
    try {
      let alive = this.waitForRun();
      while (alive) {
        const bits = Atomics.load(this.words, request);
        if (bits & REQ_DESTROY) break;
        if (bits & REQ_PAUSE) {
          alive = this.pause();
          continue;
        }
        if (bits & REQ_KICK) Atomics.and(this.words, request, ~REQ_KICK);
        this.quiescentPoint();
        const reason = this.core.run(this.block, slices.next(hostNanoseconds(), this.timerDeadline()));
        if (reason === EXIT_BUDGET) slices.usedUp(hostNanoseconds());
        this.jit.compileQueued();
        if (reason === EXIT_BUDGET || reason === EXIT_REQUEST) continue;
        if (reason === EXIT_HALTED) {
          this.sleepWhileHalted();
          continue;
        }
        this.exitToOwner();
        alive = this.waitForRun();
      }
    } catch (error) {
      if (!(error instanceof Destroyed)) {
        this.quiescentIdle();
        workerScope.postMessage({ type: "failed", message: error instanceof Error ? error.message : String(error) } satisfies VcpuWorkerMessage);
        this.signalOwner(VCPU_STATE_FAILED);
        return;
      }
    }
    this.quiescentIdle();
    this.signalOwner(VCPU_STATE_DESTROYED);
  }

  private socket(id: number): SocketRequester {
    let requester = this.sockets.get(id);
    if (!requester) {
      if (id >= this.layout.maxSockets) throw new Error(`memory map names socket ${id}, beyond the VM's ${this.layout.maxSockets}`);
      const endpoint: SocketEndpoint = { memory: this.init.memory, id, base: socketBlockBase(this.layout, id), pairs: this.layout.maxVcpus };
      requester = new SocketRequester(endpoint, this.init.index);
      this.sockets.set(id, requester);
    }
    return requester;
  }

  /** The core's `io` import: carries the access in the run block to its socket or the owner. */
  private io(): void {
    const w = this.words;
    const socket = w[this.at(RUN_IO_SOCKET_U32)] >>> 0;
    if (socket === NO_SOCKET) return this.exitForIo();
    const msg = this.msg;
    const write = w[this.at(RUN_IO_WRITE_U32)] !== 0;
    msg.size = w[this.at(RUN_IO_SIZE_U32)];
    msg.space = w[this.at(RUN_IO_SPACE_U32)];
    msg.tag = w[this.at(RUN_IO_TAG_U32)] >>> 0;
    msg.offset = (w[this.at(RUN_IO_OFFSET_U64)] >>> 0) + (w[this.at(RUN_IO_OFFSET_U64) + 1] >>> 0) * 2 ** 32;
    msg.data = w[this.at(RUN_IO_DATA_U64)] >>> 0;
    msg.dataHigh = w[this.at(RUN_IO_DATA_U64) + 1] >>> 0;
    const pio = msg.space === SPACE_PIO;
    if (write && w[this.at(RUN_IO_POSTED_U32)] !== 0) {
      this.count(pio ? STAT_PIO_POSTED_F64 : STAT_MMIO_POSTED_F64);
      msg.op = OP_WRITE_POSTED;
      const requester = this.socket(socket);
      requester.post(msg);
      this.posted.add(requester);
      return;
    }
    this.count(pio ? STAT_PIO_SYNC_F64 : STAT_MMIO_SYNC_F64);
    msg.op = write ? OP_WRITE : OP_READ;
    try {
      this.socket(socket).call(msg);
    } catch (error) {
      // A device that refuses or fails an access reads as all ones, like an aborted bus cycle.
      // The guest may repeat it endlessly, so each socket's failures are reported once.
      if (!this.reported.has(socket)) {
        this.reported.add(socket);
        console.error(`vCPU ${this.init.index}: socket ${socket} failed an access (further failures not reported):`, error);
      }
      msg.data = 0xffffffff;
      msg.dataHigh = 0xffffffff;
    }
    if (!write) {
      w[this.at(RUN_IO_DATA_U64)] = msg.data;
      w[this.at(RUN_IO_DATA_U64) + 1] = msg.dataHigh;
    }
  }

  /** An access nobody claims: hand it to the owner and wait for the next run(). */
  private exitForIo(): void {
    this.words[this.at(RUN_EXIT_REASON_U32)] = EXIT_IO;
    this.exitToOwner();
    if (!this.waitForRun()) throw new Destroyed();
  }

  /**
   * The core's `acknowledgeExtInt` import, the INTA cycle to the 8259 behind LINT0: until the
   * chipset answers it over a socket, an exit to the owner, who supplies the vector with
   * completeIo() (anything above 0xff, or no answer, means none).
   */
  private acknowledgeExtInt(): number {
    const data = this.at(RUN_IO_DATA_U64);
    this.words[data] = -1;
    this.words[data + 1] = -1;
    this.words[this.at(RUN_EXIT_REASON_U32)] = EXIT_INTA;
    this.exitToOwner();
    if (!this.waitForRun()) throw new Destroyed();
    const low = this.words[data] >>> 0;
    return this.words[data + 1] === 0 && low <= 0xff ? low : -1;
  }
}

const init = await firstMessage<VcpuInit>();
try {
  await new VcpuThread(init).start();
} catch (error) {
  workerScope.postMessage({ type: "failed", message: error instanceof Error ? error.message : String(error) } satisfies VcpuWorkerMessage);
}
