/**
 * The first machine, the same in a browser and in Node: 1 MiB of RAM, one vCPU, and a 16550 on
 * COM1 served by its own worker through a socket with posted writes. It loads the hello guest
 * (workers/guests/hello.ts), enters it in flat 32-bit protected mode and hands everything the
 * UART transmits to the owner. The caller supplies the core and the worker spawners.
 *
 * Lifecycle: create() --> ready --run()--> exited (HLT) --destroy()--> destroyed.
 */
import { gpa, ramOffset } from "./addresses";
import type { VcpuExit } from "./exits";
import { HELLO_GUEST } from "./guests/hello";
import { COM1_PORT, COM1_PORT_COUNT, HELLO_LOAD_GPA, HELLO_RAM_BYTES } from "./pc-board";
import { flatProtectedMode } from "./registers";
import type { Vcpu } from "./vcpu";
import { UartLink } from "./uart-link";
import { Vm } from "./vm";
import type { WorkerHandle } from "./worker-handle";

/** What the hello machine needs from its host. */
export interface HelloMachineOptions {
  /** The compiled core (build/core.wasm). */
  core: WebAssembly.Module;
  /** Starts a worker running workers/vcpu-worker.ts. */
  spawnVcpu: () => WorkerHandle;
  /** Starts a worker running workers/devices/uart-worker.ts. */
  spawnUart: () => WorkerHandle;
  /** Receives the bytes the guest transmits on COM1, in order. */
  onOutput: (bytes: Uint8Array) => void;
}

/** The first machine: create(), run() until the guest halts, destroy(). */
export class HelloMachine {
  private constructor(
    /** The VM, for inspection (RAM, dirty log). */
    readonly vm: Vm,
    private readonly vcpu: Vcpu,
    private readonly uart: UartLink,
  ) {}

  /** Builds the machine: VM, UART worker, memory map, guest in RAM, vCPU in flat 32-bit state. */
  static async create(options: HelloMachineOptions): Promise<HelloMachine> {
    const vm = new Vm({ ramBytes: HELLO_RAM_BYTES, maxVcpus: 1, maxSockets: 1, core: options.core, spawnVcpu: options.spawnVcpu });
    const socket = vm.createSocket();
    const uart = new UartLink(options.spawnUart(), { socket }, options.onOutput);
    try {
      await vm.setMemoryMap([
        { kind: "ram", gpa: gpa(0), size: HELLO_RAM_BYTES, ramOffset: ramOffset(0) },
        { kind: "pio", port: COM1_PORT, size: COM1_PORT_COUNT, socket: socket.id, posted: true },
      ]);
      // RAM is mapped at guest physical 0, so a guest physical address is its RAM offset.
      vm.ram.set(HELLO_GUEST, HELLO_LOAD_GPA);
      const vcpu = await vm.createVcpu();
      vcpu.setState(flatProtectedMode(HELLO_LOAD_GPA));
      return new HelloMachine(vm, vcpu, uart);
    } catch (error) {
      await vm.destroy();
      uart.terminate();
      throw error;
    }
  }

  /**
   * Runs the guest until it exits (the hello guest ends with HLT) and returns the exit. Resolves
   * only after the UART worker has delivered, through onOutput, everything the guest wrote
   * before the exit: posted writes do not wait for the device, so the exit would outrun them.
   */
  async run(): Promise<VcpuExit> {
    const exit = await this.vcpu.run();
    await this.uart.drain();
    return exit;
  }

  /** Stops the vCPU and the UART worker. A pending run() rejects. */
  async destroy(): Promise<void> {
    await this.vm.destroy();
    this.uart.terminate();
  }
}
