/**
 * The PC that boots Linux, the same in a page and under Node: guest RAM, the chipset worker
 * (8259 pair, 8254, RTC, i8042, PCI host bridge, I/O APIC, ACPI PM registers), COM1 in its UART
 * worker, the MP table and ACPI tables describing them, and vCPU 0 with its local APIC entered in
 * the kernel by the 32-bit boot protocol.
 *
 * Interrupts never pass through the owner: the chipset worker sets bits in the vCPU's APIC inbox
 * in shared memory. What does reach the owner: COM1's IRQ line (forwarded to the chipset), the
 * INTA cycle of an 8259 interrupt, accesses no device claims (open bus), and the guest's fate
 * (an ACPI power-off or a reset from the chipset, a triple fault or a failure from the vCPU).
 *
 * Lifecycle: create() --> run() resolves with the fate --> destroy(); pause() and resume() in between.
 */
import { gpa, ramOffset } from "./addresses";
import { loadLinux, type LinuxBootPlacement } from "./boot/linux-loader";
import { writeFirmwareTables, type AcpiConfig } from "./boot/firmware-tables";
import { ChipsetLink } from "./chipset-link";
import {
  ACPI_PM_CONFIG, chipsetRegions, IOAPIC_GPA, IRQ_SCI, PM1A_CONTROL_PORT, PM1A_EVENT_PORT, PM_TIMER_PORT, PVPANIC_PORT, RESET_CONTROL_PORT, RESET_CONTROL_VALUE,
} from "./devices/chipset";
import { IOAPIC_PINS, IOAPIC_VERSION } from "./devices/ioapic";
import type { VcpuExit } from "./exits";
import { RTC_CENTURY } from "./devices/rtc-cmos";
import { COM1_IRQ, COM1_PORT, COM1_PORT_COUNT, LAPIC_GPA, PCI_MEMORY_WINDOW, pcE820, PC_MAX_RAM_BYTES, PC_MIN_RAM_BYTES } from "./pc-board";
import { UartLink } from "./uart-link";
import type { Vcpu, VcpuStats } from "./vcpu";
import { Vm } from "./vm";
import type { WorkerHandle } from "./worker-handle";

/** What the PC needs from its host, and what to boot. */
export interface PcMachineOptions {
  /** The compiled core (build/core.wasm). */
  core: WebAssembly.Module;
  /** Start workers running workers/vcpu-worker.ts, workers/devices/uart-worker.ts, workers/devices/chipset-worker.ts. */
  spawnVcpu: () => WorkerHandle;
  spawnUart: () => WorkerHandle;
  spawnChipset: () => WorkerHandle;
  /** The bzImage. */
  kernel: Uint8Array;
  /** The initramfs, if any. */
  initrd?: Uint8Array;
  /** The kernel command line. */
  cmdline: string;
  /** The kernel's payload unpacked ahead of time, if cached (see workers/boot/linux-loader.ts). */
  vmlinux?: Uint8Array;
  /** Let the kernel unpack itself rather than the loader (see workers/boot/linux-loader.ts). */
  selfDecompress?: boolean;
  /** Guest RAM in bytes, a multiple of 1 MiB (default 128 MiB). */
  memoryBytes?: number;
  /** Receives what the guest writes to COM1, in order. */
  onConsoleOutput: (bytes: Uint8Array) => void;
}

/** How a run ended. */
export type MachineFate =
  /** The guest turned the machine off (ACPI sleep state S5). */
  | { reason: "power-off" }
  /** The guest's kernel panicked (it told the pvpanic device). */
  | { reason: "panic" }
  /** The guest reset the machine (Linux's reboot, or a panic with panic=N set). */
  | { reason: "reset" }
  /** A triple fault: the processor shut down. */
  | { reason: "triple-fault" }
  /** destroy() was called. */
  | { reason: "stopped" }
  /** The vCPU met something the core cannot run; `exit` says what. */
  | { reason: "failed"; message: string; exit: VcpuExit };

export const DEFAULT_MEMORY_BYTES = 128 << 20;
/** The I/O APIC's ID: after the local APIC IDs of the vCPUs, as the MP table lists it. */
const IOAPIC_ID = 1;

/** The chipset's ACPI fixed hardware, as the FADT and DSDT describe it. */
const ACPI: AcpiConfig = {
  pm1aEventBlock: PM1A_EVENT_PORT,
  pm1aControlBlock: PM1A_CONTROL_PORT,
  pmTimerBlock: PM_TIMER_PORT,
  pmTimer32: ACPI_PM_CONFIG.timer32,
  softOffSleepType: ACPI_PM_CONFIG.softOffSleepType,
  reset: { port: RESET_CONTROL_PORT, value: RESET_CONTROL_VALUE },
  rtcCentury: RTC_CENTURY,
  sciIrq: IRQ_SCI,
  pciMemoryWindow: PCI_MEMORY_WINDOW,
  pvpanic: PVPANIC_PORT,
};

/** What an 8-, 16-, 32- or 64-bit read of nothing returns: all ones, as an open ISA bus floats. */
const openBus = (size: number): bigint => (1n << BigInt(size * 8)) - 1n;

function describe(exit: VcpuExit): string {
  switch (exit.reason) {
    case "unsupported-instruction": return `the core does not implement opcode 0x${exit.opcode.toString(16)} (at 0x${exit.rip.toString(16)})`;
    case "fetch-fault": return `code was fetched from 0x${exit.address.toString(16)}, where there is no memory`;
    default: return `unexpected vCPU exit: ${exit.reason}`;
  }
}

export class PcMachine {
  private fate: MachineFate | undefined;
  private decide!: () => void;
  /** Settles when the fate is decided, so run() stops waiting for a vCPU exit that will not come. */
  private readonly decided = new Promise<void>((resolve) => (this.decide = resolve));

  private constructor(
    /** The VM, for inspection. */
    readonly vm: Vm,
    private readonly vcpu: Vcpu,
    private readonly uart: UartLink,
    private readonly chipset: ChipsetLink,
    /** Where the loader put the kernel, initrd and boot parameters. */
    readonly placement: LinuxBootPlacement,
  ) {}

  /** Builds the PC and loads the kernel; throws (having stopped every worker) on bad input. */
  static async create(options: PcMachineOptions): Promise<PcMachine> {
    const memoryBytes = options.memoryBytes ?? DEFAULT_MEMORY_BYTES;
    if (!Number.isInteger(memoryBytes) || memoryBytes % (1 << 20) !== 0 || memoryBytes < PC_MIN_RAM_BYTES || memoryBytes > PC_MAX_RAM_BYTES) {
      throw new RangeError(`guest memory must be a whole number of MiB from ${PC_MIN_RAM_BYTES / 2 ** 20} to ${PC_MAX_RAM_BYTES / 2 ** 20}, not ${memoryBytes} bytes`);
    }
    const vm = new Vm({ ramBytes: memoryBytes, maxVcpus: 1, maxSockets: 2, core: options.core, spawnVcpu: options.spawnVcpu, localApic: true });
    let machine: PcMachine | undefined;
    const chipsetSocket = vm.createSocket();
    const chipset = new ChipsetLink(
      options.spawnChipset(),
      chipsetSocket,
      { rtc: { wallClockMs: Date.now(), ramBelow4G: memoryBytes, ramAbove4G: 0 }, ioapicId: IOAPIC_ID },
      { onReset: () => void machine?.end({ reason: "reset" }), onPowerOff: () => void machine?.end({ reason: "power-off" }), onPanic: () => void machine?.end({ reason: "panic" }) },
    );
    const uartSocket = vm.createSocket();
    // COM1's socket is its own: its registers take the register file's first slots.
    const uartInit = { socket: uartSocket, shadow: 0 };
    const uart = new UartLink(options.spawnUart(), uartInit, options.onConsoleOutput, (level) => chipset.setIrq(COM1_IRQ, level));
    try {
      await vm.setMemoryMap([
        { kind: "ram", gpa: gpa(0), size: memoryBytes, ramOffset: ramOffset(0) },
        { kind: "pio", port: COM1_PORT, size: COM1_PORT_COUNT, socket: uartSocket.id, posted: true, shadow: uartInit.shadow },
        ...chipsetRegions(chipsetSocket.id),
      ]);
      const tables = writeFirmwareTables(vm.ram, {
        cpus: 1,
        interruptControllers: "apic",
        lapicAddress: LAPIC_GPA,
        ioapic: { id: IOAPIC_ID, address: IOAPIC_GPA, pins: IOAPIC_PINS, version: IOAPIC_VERSION },
        acpi: ACPI,
      });
      const placement = loadLinux({
        kernel: options.kernel,
        initrd: options.initrd,
        cmdline: options.cmdline,
        ram: vm.ram,
        e820: pcE820(memoryBytes),
        acpiRsdp: tables?.rsdp,
        vmlinux: options.vmlinux,
        selfDecompress: options.selfDecompress,
      });
      const vcpu = await vm.createVcpu();
      vcpu.setState(placement.registers);
      machine = new PcMachine(vm, vcpu, uart, chipset, placement);
      return machine;
    } catch (error) {
      await vm.destroy();
      uart.terminate();
      chipset.terminate();
      throw error;
    }
  }

  /** Runs the guest until its fate is decided. COM1 output written before the end has been delivered when it resolves. */
  async run(): Promise<MachineFate> {
    while (!this.fate) {
      const running = this.vcpu.run();
      // A reset or destroy() ends the run from outside; the vCPU's run() then rejects unseen.
      running.catch(() => undefined);
      let exit: VcpuExit | undefined;
      try {
        exit = await Promise.race([running, this.decided.then(() => undefined)]);
      } catch (error) {
        if (this.fate) break;
        throw error;
      }
      if (!exit) break;
      switch (exit.reason) {
        case "io":
          if (!exit.write) this.vcpu.completeIo(openBus(exit.size));
          break;
        case "interrupt-acknowledge":
          this.vcpu.completeIo(await this.chipset.acknowledge());
          break;
        case "shutdown":
          await this.end({ reason: "triple-fault" });
          break;
        default:
          await this.end({ reason: "failed", message: describe(exit), exit });
      }
    }
    await this.uart.drain().catch(() => undefined);
    return this.fate!;
  }

  /** Bytes typed on COM1's line. */
  writeConsole(bytes: Uint8Array): void {
    this.uart.receive(bytes);
  }

  /**
   * Presses the power button: the guest's ACPI driver, if it listens (Linux's `button`), decides
   * what to do, usually a clean shutdown ending in power-off.
   */
  pressPowerButton(): void {
    this.chipset.pressPowerButton();
  }

  /** Stops the guest's CPU at its next instruction boundary; the devices and their clocks go on, so guest time jumps on resume(). */
  pause(): Promise<void> {
    return this.vcpu.pause();
  }

  /** Lets a paused CPU go on. */
  resume(): void {
    this.vcpu.resume();
  }

  /** The vCPU's counters: instructions, device accesses by kind, exits to the owner, halts. Readable while it runs. */
  stats(): VcpuStats {
    return this.vcpu.stats();
  }

  /** Stops the guest and every worker; a pending run() resolves with `stopped`. */
  async destroy(): Promise<void> {
    if (!this.fate) {
      this.fate = { reason: "stopped" };
      this.decide();
    }
    await this.vm.destroy();
    this.uart.terminate();
    this.chipset.terminate();
  }

  /** Decides the fate once and stops the vCPU, so run() returns it. */
  private async end(fate: MachineFate): Promise<void> {
    if (this.fate) return;
    this.fate = fate;
    this.decide();
    await this.vcpu.pause().catch(() => undefined);
  }
}
