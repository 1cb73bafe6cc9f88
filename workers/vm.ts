/**
 * A virtual machine: one shared WebAssembly.Memory holding guest RAM and the VM's own regions
 * (header, vCPU blocks, memory-map tables, sockets, dirty bitmap), the vCPU workers running on
 * it, and the calls that change it as a whole: memory-map replacement, socket creation, dirty
 * logging. Runs on any thread, a page's main thread included: it never blocks.
 */
import {
  MAP_BASE, MAP_TABLE_SIZE, VCPU_BLOCK_SIZE, VCPU_MAP_GEN_U32, VMH_BASE, VMH_GP_WAITERS_U32,
  VMH_MAP_GEN_U32, WASM_PAGE_SIZE,
} from "../assembly/abi/layout";
import { DirtyLog } from "./dirty-log";
import { encodeMemoryMap, validateMemoryMap, type Region } from "./memory-map";
import { REG, resetState, writeRegisters } from "./registers";
import { initSocket, type SocketEndpoint } from "./socket";
import { Vcpu } from "./vcpu";
import { computeLayout, socketBlockBase, vcpuBlockBase, writeHeader, type VmLayout } from "./vm-layout";
import { waitUntil } from "./wait-until";
import type { WorkerHandle } from "./worker-handle";

/** How to build a VM. */
export interface VmOptions {
  /** Bytes of guest RAM (a multiple of 4 KiB). */
  ramBytes: number;
  /** Most vCPUs (default 4). */
  maxVcpus?: number;
  /** Most sockets (default 16). */
  maxSockets?: number;
  /** The compiled core (build/core.wasm). */
  core: WebAssembly.Module;
  /** Starts a vCPU worker running workers/vcpu-worker.ts. */
  spawnVcpu: () => WorkerHandle;
  /** Guest instructions per slice between a vCPU's quiescent points (default 1,000,000). */
  slice?: number;
  /**
   * Whether the guest sees each vCPU's local APIC (default false: hidden, so HLT exits to the
   * owner, as bare-CPU programs and tests expect). A PC board sets it: HLT then sleeps in the
   * vCPU worker until an interrupt or the APIC timer.
   */
  localApic?: boolean;
}

export class Vm {
  /** The shared memory: VM regions and guest RAM. */
  readonly memory: WebAssembly.Memory;
  readonly layout: VmLayout;
  /** Dirty page logging over guest RAM. */
  readonly dirtyLog: DirtyLog;
  private readonly words: Int32Array;
  private readonly vcpuList: Vcpu[] = [];
  private readonly sockets = new Set<number>();
  private vcpusReserved = 0;
  private publishing: Promise<void> = Promise.resolve();

  constructor(private readonly options: VmOptions) {
    this.layout = computeLayout({ ramBytes: options.ramBytes, maxVcpus: options.maxVcpus ?? 4, maxSockets: options.maxSockets ?? 16 });
    const pages = this.layout.totalBytes / WASM_PAGE_SIZE;
    try {
      this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    } catch (cause) {
      throw new RangeError(`cannot allocate ${this.layout.totalBytes} bytes of shared memory for the VM: ${String(cause)}`);
    }
    this.words = new Int32Array(this.memory.buffer);
    writeHeader(this.memory, this.layout);
    // Generation 1 is an empty map; 0 is never published (it marks an idle vCPU).
    Atomics.store(this.words, (VMH_BASE + VMH_MAP_GEN_U32) >> 2, 1);
    this.dirtyLog = new DirtyLog(this.memory, this.layout);
  }

  /** Guest RAM as bytes (offset 0 is RAM offset 0, wherever the map places it). */
  get ram(): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.layout.ramBase, this.layout.ramBytes);
  }

  /** The vCPUs created so far, by index. */
  get vcpus(): readonly Vcpu[] {
    return this.vcpuList;
  }

  /** Creates a socket; post the returned endpoint to the device worker that serves it. */
  createSocket(): SocketEndpoint {
    const id = this.sockets.size;
    if (id >= this.layout.maxSockets) throw new RangeError(`the VM has room for ${this.layout.maxSockets} sockets`);
    const endpoint: SocketEndpoint = { memory: this.memory, id, base: socketBlockBase(this.layout, id), pairs: this.layout.maxVcpus };
    initSocket(endpoint);
    this.sockets.add(id);
    return endpoint;
  }

  /**
   * Replaces the whole guest physical memory map. Validates every region first (a MemoryMapError
   * names the bad one and nothing changes), publishes the new table with one atomic store, and
   * resolves after every vCPU has passed a quiescent point, so none still reads the old table.
   * Calls are applied in order.
   */
  setMemoryMap(regions: readonly Region[]): Promise<void> {
    let entries: ReturnType<typeof validateMemoryMap>;
    try {
      entries = validateMemoryMap(regions, this.layout, this.sockets);
    } catch (error) {
      return Promise.reject(error);
    }
    const done = this.publishing.then(async () => {
      const genIndex = (VMH_BASE + VMH_MAP_GEN_U32) >> 2;
      // Skip generation 0 on wrap-around, keeping the slot parity alternating.
      const next = ((Atomics.load(this.words, genIndex) + 1) >>> 0) || 2;
      encodeMemoryMap(this.memory.buffer, MAP_BASE + (next & 1) * MAP_TABLE_SIZE, entries);
      Atomics.store(this.words, genIndex, next);
      await this.gracePeriod(next);
    });
    this.publishing = done.catch(() => undefined);
    return done;
  }

  /** Waits until every vCPU uses generation `gen` or holds no table (RCU synchronize). */
  private async gracePeriod(gen: number): Promise<void> {
    const waiters = (VMH_BASE + VMH_GP_WAITERS_U32) >> 2;
    Atomics.add(this.words, waiters, 1);
    try {
      const slots = this.vcpuList.map((vcpu) => (vcpuBlockBase(vcpu.index) + VCPU_MAP_GEN_U32) >> 2);
      const quiescent = (slot: number): boolean => {
        const seen = Atomics.load(this.words, slot) >>> 0;
        return seen === 0 || seen === gen;
      };
      this.vcpuList.forEach((vcpu, i) => quiescent(slots[i]) || vcpu.kick());
      for (const slot of slots) await waitUntil(this.words, slot, () => quiescent(slot));
    } finally {
      Atomics.sub(this.words, waiters, 1);
    }
  }

  /** Starts a new vCPU worker in its reset state; resolves when it is ready to run. */
  async createVcpu(): Promise<Vcpu> {
    if (this.vcpusReserved >= this.layout.maxVcpus) throw new RangeError(`the VM has room for ${this.layout.maxVcpus} vCPUs`);
    const index = this.vcpusReserved++;
    const block = vcpuBlockBase(index);
    new Uint8Array(this.memory.buffer, block, VCPU_BLOCK_SIZE).fill(0);
    writeRegisters(this.memory.buffer, block, resetState());
    if (!this.options.localApic) writeRegisters(this.memory.buffer, block, [{ tag: REG["apic.hidden"], value: 1 }]);
    const vcpu = await Vcpu.start(this.memory, this.options.core, index, this.options.spawnVcpu(), this.options.slice);
    this.vcpuList[index] = vcpu;
    return vcpu;
  }

  /** Destroys every vCPU. Device workers belong to whoever started them. */
  async destroy(): Promise<void> {
    await Promise.all(this.vcpuList.map((vcpu) => vcpu.destroy()));
  }
}

