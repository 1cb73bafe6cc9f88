/**
 * The owner's handle on one vCPU worker. Everything goes through the vCPU block in shared
 * memory: request bits out, state and exit sequence back, registers and the run block in place.
 *
 * Lifecycle (the worker writes the state; the owner only sets request bits):
 *   starting --worker ready--> ready --run()--> running --exit--> exited --run()--> running
 *   running --pause()--> paused --resume()--> running
 *   any --destroy()--> destroyed;   a worker error --> failed
 */
import {
  INJECT_PENDING, REG_INJECT_U32, REQ_DESTROY, REQ_KICK, REQ_PAUSE, REQ_RUN, RUN_IO_DATA_U64, VCPU_EXIT_SEQ_U32, VCPU_REQUEST_U32,
  VCPU_STATE_DESTROYED, VCPU_STATE_EXITED, VCPU_STATE_FAILED, VCPU_STATE_PAUSED, VCPU_STATE_READY,
  VCPU_STATE_RUNNING, VCPU_STATE_STARTING, VCPU_STATE_U32,
  RUN_INSN_COUNT_U64, STAT_HALTS_F64, STAT_MMIO_POSTED_F64, STAT_MMIO_SYNC_F64, STAT_OWNER_EXITS_F64,
  STAT_PIO_POSTED_F64, STAT_PIO_SYNC_F64, STAT_PIO_SHADOW_F64, STAT_MMIO_SHADOW_F64, STAT_COMPILED_BLOCKS_F64,
  STAT_COMPILE_MS_F64,
} from "../assembly/abi/layout";
import { decodeExit, type VcpuExit } from "./exits";
import { readRegisters, writeRegisters, type RegisterEntry } from "./registers";
import { vcpuBlockBase } from "./vm-layout";
import { waitUntil } from "./wait-until";
import type { WorkerHandle } from "./worker-handle";
import type { VcpuInit, VcpuWorkerMessage } from "./vcpu-worker";

/** A vCPU's lifecycle state as its owner sees it. */
/**
 * What a vCPU did so far: guest instructions retired; device accesses answered by device workers
 * (sync: the vCPU waited for the reply), posted, or read from a register file (shadow), by address
 * space; exits handed to the owner; sleeps in HLT.
 */
export interface VcpuStats {
  instructions: number;
  pioSync: number;
  pioPosted: number;
  mmioSync: number;
  mmioPosted: number;
  pioShadow: number;
  mmioShadow: number;
  ownerExits: number;
  halts: number;
  /** Hot blocks compiled to WASM, and the milliseconds that took. */
  compiledBlocks: number;
  compileMs: number;
}

export type VcpuState = "starting" | "ready" | "running" | "paused" | "exited" | "destroyed" | "failed";

const STATE_NAMES: Record<number, VcpuState> = {
  [VCPU_STATE_STARTING]: "starting",
  [VCPU_STATE_READY]: "ready",
  [VCPU_STATE_RUNNING]: "running",
  [VCPU_STATE_PAUSED]: "paused",
  [VCPU_STATE_EXITED]: "exited",
  [VCPU_STATE_DESTROYED]: "destroyed",
  [VCPU_STATE_FAILED]: "failed",
};

/** A lifecycle call made in a state that does not allow it, or a failed worker. */
export class VcpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VcpuError";
  }
}

/** One virtual CPU, running in its own worker. */
export class Vcpu {
  private readonly words: Int32Array;
  private readonly block: number;
  private failure: string | undefined;
  private running = false;

  private constructor(private readonly memory: WebAssembly.Memory, readonly index: number, private readonly worker: WorkerHandle) {
    this.words = new Int32Array(memory.buffer);
    this.block = vcpuBlockBase(index);
    worker.onMessage((message) => {
      const m = message as VcpuWorkerMessage;
      if (m.type === "failed") this.fail(m.message);
    });
    worker.onError((error) => this.fail(error.message));
  }

  /** Starts a vCPU worker on block `index` (zeroed by the caller) and waits until it is ready. */
  static async start(memory: WebAssembly.Memory, core: WebAssembly.Module, index: number, worker: WorkerHandle, slice?: number): Promise<Vcpu> {
    const vcpu = new Vcpu(memory, index, worker);
    worker.postMessage({ memory, core, index, slice } satisfies VcpuInit);
    await waitUntil(vcpu.words, vcpu.at(VCPU_STATE_U32), () => vcpu.rawState !== VCPU_STATE_STARTING || vcpu.failure !== undefined);
    if (vcpu.failure !== undefined) worker.terminate();
    vcpu.throwIfFailed();
    return vcpu;
  }

  private at(offset: number): number {
    return (this.block + offset) >> 2;
  }

  private get rawState(): number {
    return Atomics.load(this.words, this.at(VCPU_STATE_U32));
  }

  private fail(message: string): void {
    this.failure ??= message;
    // Wake anyone waiting on the block: the worker may have died before it could.
    Atomics.notify(this.words, this.at(VCPU_STATE_U32));
    Atomics.notify(this.words, this.at(VCPU_EXIT_SEQ_U32));
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw new VcpuError(`vCPU ${this.index} failed: ${this.failure}`);
  }

  /** The current lifecycle state. */
  get state(): VcpuState {
    return this.failure !== undefined ? "failed" : STATE_NAMES[this.rawState] ?? "failed";
  }

  private request(bits: number): void {
    Atomics.or(this.words, this.at(VCPU_REQUEST_U32), bits);
    Atomics.notify(this.words, this.at(VCPU_REQUEST_U32));
  }

  /**
   * Runs the guest until it needs something no socket provides, and returns that exit. The vCPU
   * may be paused and resumed meanwhile; the promise settles only on an exit, a failure or
   * destroy() (which rejects it).
   */
  async run(): Promise<VcpuExit> {
    this.throwIfFailed();
    const state = this.rawState;
    if (this.running || (state !== VCPU_STATE_READY && state !== VCPU_STATE_EXITED)) {
      throw new VcpuError(`vCPU ${this.index} cannot run while ${this.state}`);
    }
    this.running = true;
    try {
      const seqIndex = this.at(VCPU_EXIT_SEQ_U32);
      const seq = Atomics.load(this.words, seqIndex);
      this.request(REQ_RUN);
      await waitUntil(this.words, seqIndex, () => Atomics.load(this.words, seqIndex) !== seq || this.failure !== undefined || this.rawState === VCPU_STATE_DESTROYED);
      this.throwIfFailed();
      const after = this.rawState;
      if (after !== VCPU_STATE_EXITED) throw new VcpuError(`vCPU ${this.index} stopped: ${STATE_NAMES[after]}`);
      return decodeExit(this.memory.buffer, this.block);
    } finally {
      this.running = false;
    }
  }

  /** Answers the read of an I/O exit (the value the guest's instruction receives) or an interrupt-acknowledge exit (the vector). */
  completeIo(value: bigint | number): void {
    if (this.rawState !== VCPU_STATE_EXITED) throw new VcpuError(`vCPU ${this.index} has no I/O exit to complete (${this.state})`);
    new DataView(this.memory.buffer, this.block).setBigUint64(RUN_IO_DATA_U64, BigInt.asUintN(64, BigInt(value)), true);
  }

  /** Stops a running vCPU at its next instruction boundary; resolves once it has stopped. */
  async pause(): Promise<void> {
    this.request(REQ_PAUSE);
    await waitUntil(this.words, this.at(VCPU_STATE_U32), () => this.rawState !== VCPU_STATE_RUNNING || this.failure !== undefined);
    this.throwIfFailed();
  }

  /** Lets a paused vCPU go on. */
  resume(): void {
    Atomics.and(this.words, this.at(VCPU_REQUEST_U32), ~REQ_PAUSE);
    Atomics.notify(this.words, this.at(VCPU_REQUEST_U32));
  }

  /**
   * Makes a running vCPU leave guest code at its next instruction boundary, pass a quiescent
   * point and look at its requests, then go on. No signal: the core polls its request word.
   */
  kick(): void {
    this.request(REQ_KICK);
  }

  /**
   * Injects external interrupt `vector` (like KVM_INTERRUPT): the vCPU takes it at the first
   * instruction boundary where IF is set and no interrupt shadow is active, replacing any
   * injected interrupt not yet taken. It bypasses the local APIC (as an INTR-pin interrupt
   * would) and wakes a vCPU sleeping in HLT; interrupts through the APIC go by workers/apic-bus.ts.
   */
  injectInterrupt(vector: number): void {
    if (!Number.isInteger(vector) || vector < 0 || vector > 255) throw new RangeError(`interrupt vector must be 0..255, got ${vector}`);
    Atomics.store(this.words, (this.block + REG_INJECT_U32) >> 2, vector | INJECT_PENDING);
    this.kick();
  }

  private requireStopped(what: string): void {
    const state = this.rawState;
    if (state !== VCPU_STATE_READY && state !== VCPU_STATE_EXITED && state !== VCPU_STATE_PAUSED) {
      throw new VcpuError(`cannot ${what} vCPU ${this.index} while ${this.state}`);
    }
  }

  /** Counters since the vCPU started, readable while it runs (each figure as of its last update). */
  stats(): VcpuStats {
    const f64 = (offset: number): number => new Float64Array(this.memory.buffer, this.block + offset, 1)[0];
    return {
      instructions: Number(new BigUint64Array(this.memory.buffer, this.block + RUN_INSN_COUNT_U64, 1)[0]),
      pioSync: f64(STAT_PIO_SYNC_F64),
      pioPosted: f64(STAT_PIO_POSTED_F64),
      mmioSync: f64(STAT_MMIO_SYNC_F64),
      mmioPosted: f64(STAT_MMIO_POSTED_F64),
      pioShadow: f64(STAT_PIO_SHADOW_F64),
      mmioShadow: f64(STAT_MMIO_SHADOW_F64),
      ownerExits: f64(STAT_OWNER_EXITS_F64),
      halts: f64(STAT_HALTS_F64),
      compiledBlocks: f64(STAT_COMPILED_BLOCKS_F64),
      compileMs: f64(STAT_COMPILE_MS_F64),
    };
  }

  /** Reads registers by tag (see workers/registers.ts); the vCPU must be stopped. */
  getState(tags: readonly number[]): RegisterEntry[] {
    this.requireStopped("read the registers of");
    return readRegisters(this.memory.buffer, this.block, tags);
  }

  /** Writes a batch of registers, all or nothing; the vCPU must be stopped. */
  setState(entries: readonly { tag: number; value: bigint | number }[]): void {
    this.requireStopped("write the registers of");
    writeRegisters(this.memory.buffer, this.block, entries);
  }

  /** Stops the worker for good. A pending run() rejects. */
  async destroy(): Promise<void> {
    if (this.failure === undefined) {
      this.request(REQ_DESTROY);
      const stopped = waitUntil(this.words, this.at(VCPU_STATE_U32), () => this.rawState === VCPU_STATE_DESTROYED || this.failure !== undefined);
      // A worker stuck in a device call that never answers is terminated anyway.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([stopped, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
      clearTimeout(timer);
    }
    this.worker.terminate();
    // The worker may have been stopped between its last store and its notify: wake waiters here.
    Atomics.notify(this.words, this.at(VCPU_STATE_U32));
    Atomics.notify(this.words, this.at(VCPU_EXIT_SEQ_U32));
  }
}
