/**
 * The PC chipset's legacy devices behind one dispatcher: the 8259A pair with its ELCR, the 8254
 * with port B, the RTC/CMOS, the i8042, PCI configuration mechanism #1 and the ACPI PM registers
 * with the reset control register on ports, and the I/O APIC on its MMIO page. It owns the chipset's fixed decode (which ports and page each device
 * answers, as a PIIX-class southbridge decodes them) and the board's ISA interrupt wiring: each
 * ISA IRQ goes to its 8259 input and to the I/O APIC pin the MP and ACPI tables name for it
 * (workers/boot/firmware-platform.ts: identity, except IRQ0 on pin 2 and the cascade IRQ2 on none).
 *
 * A region's memory-map tag names the device (ChipsetTag); offsets are within the region. The
 * byte-wide ISA devices take a wider port access as consecutive byte accesses, as the ISA bus
 * splits it; a byte past the end of its region reads 0xFF and writes nothing.
 */
import { gpa, port, type Gpa, type Port } from "../addresses";
import { isaIrqIoapicPin } from "../boot/firmware-platform";
import type { MmioRegion, PioRegion } from "../memory-map";
import { AcpiPm, PM1_CONTROL_BLOCK_SIZE, PM1_EVENT_BLOCK_SIZE, PM_TIMER_BLOCK_SIZE, RCR_RESET_CPU, type AcpiPmConfig } from "./acpi-pm";
import type { Clock } from "./clock";
import { I8042 } from "./i8042";
import { Ioapic, IOAPIC_MMIO_SIZE, type InterruptMessage } from "./ioapic";
import { openBus } from "./open-bus";
import { PciHost } from "./pci-host";
import { Pic8259Pair } from "./pic-8259";
import { Pit8254 } from "./pit-8254";
import { RtcCmos, type RtcConfig } from "./rtc-cmos";

/** The device a chipset region belongs to: its memory-map tag. */
export const ChipsetTag = {
  PicMaster: 1,
  PicSlave: 2,
  Elcr: 3,
  Pit: 4,
  PortB: 5,
  KbcData: 6,
  KbcCommand: 7,
  Rtc: 8,
  PciConfig: 9,
  Ioapic: 10,
  PostCode: 11,
  Pm1aEvent: 12,
  Pm1aControl: 13,
  PmTimer: 14,
  PvPanic: 15,
} as const;
export type ChipsetTag = (typeof ChipsetTag)[keyof typeof ChipsetTag];

/**
 * The ACPI PM blocks, where QEMU's PIIX4 puts them (PMBASE 0x600: PM1a event, PM1a control, PM
 * timer), and the PIIX4's reset control register inside 0xCF8-0xCFF (a byte access to 0xCF9 is no
 * configuration cycle). The board's FADT must name the same ports.
 */
export const PM1A_EVENT_PORT: Port = port(0x600);
export const PM1A_CONTROL_PORT: Port = port(0x604);
export const PM_TIMER_PORT: Port = port(0x608);
export const RESET_CONTROL_PORT: Port = port(0xcf9);
const PCI_CONFIG_PORT: Port = port(0xcf8);
/** The value that resets the machine through RESET_CONTROL_PORT (a hard reset with bit 2 rising). */
export const RESET_CONTROL_VALUE = 0x02 | RCR_RESET_CPU;
/** The PM hardware's fixed properties: a 32-bit timer (FADT TMR_VAL_EXT), soft-off as SLP_TYP 5 (the DSDT's \_S5). */
export const ACPI_PM_CONFIG: AcpiPmConfig = { timer32: true, softOffSleepType: 5 };

/**
 * The paravirtual panic device's port, QEMU's default for its ISA pvpanic (described to the guest
 * as ACPI device QEMU0001; Linux's pvpanic-mmio driver). Reads give the events it reports
 * (PVPANIC_PANICKED, bit 0); the guest's panic notifier writes that bit.
 */
export const PVPANIC_PORT: Port = port(0x505);
const PVPANIC_PANICKED = 0x01;

/** A port range the chipset decodes. */
export interface ChipsetPortRange { port: Port; size: number; tag: ChipsetTag }

/** The fixed port decode (IBM PC AT Technical Reference "System I/O Address Map"; PIIX3 for the ELCR, PCI 3.0 for 0xCF8, PIIX4 for the PM blocks). */
export const CHIPSET_PORT_RANGES: readonly ChipsetPortRange[] = [
  { port: port(0x20), size: 2, tag: ChipsetTag.PicMaster },
  { port: port(0x40), size: 4, tag: ChipsetTag.Pit },
  { port: port(0x60), size: 1, tag: ChipsetTag.KbcData },
  { port: port(0x61), size: 1, tag: ChipsetTag.PortB },
  { port: port(0x64), size: 1, tag: ChipsetTag.KbcCommand },
  { port: port(0x70), size: 2, tag: ChipsetTag.Rtc },
  // The POST-code latch, which Linux also writes for I/O delays (outb_p; arch/x86/kernel/io_delay.c).
  { port: port(0x80), size: 1, tag: ChipsetTag.PostCode },
  { port: port(0xa0), size: 2, tag: ChipsetTag.PicSlave },
  { port: port(0x4d0), size: 2, tag: ChipsetTag.Elcr },
  { port: PM1A_EVENT_PORT, size: PM1_EVENT_BLOCK_SIZE, tag: ChipsetTag.Pm1aEvent },
  { port: PM1A_CONTROL_PORT, size: PM1_CONTROL_BLOCK_SIZE, tag: ChipsetTag.Pm1aControl },
  { port: PM_TIMER_PORT, size: PM_TIMER_BLOCK_SIZE, tag: ChipsetTag.PmTimer },
  { port: PVPANIC_PORT, size: 1, tag: ChipsetTag.PvPanic },
  { port: PCI_CONFIG_PORT, size: 8, tag: ChipsetTag.PciConfig },
];

/** The I/O APIC's page: 0xFEC00000, the default the MP specification (1.4, 3.6.1) names. */
export const IOAPIC_GPA: Gpa = gpa(0xfec00000);

/** The memory-map regions that carry the chipset's ports and I/O APIC page to socket `socket`. */
export function chipsetRegions(socket: number): Array<PioRegion | MmioRegion> {
  // Writes are posted: no chipset write answers anything, and reads still see them in order.
  return [
    ...CHIPSET_PORT_RANGES.map(({ port, size, tag }): PioRegion => ({ kind: "pio", port, size, socket, tag, posted: true })),
    { kind: "mmio", gpa: IOAPIC_GPA, size: IOAPIC_MMIO_SIZE, socket, tag: ChipsetTag.Ioapic, posted: true },
  ];
}

/** ISA IRQ lines of the chipset's own devices. */
export const IRQ_PIT = 0;
export const IRQ_KEYBOARD = 1;
export const IRQ_RTC = 8;
export const IRQ_AUX = 12;
/** The ACPI system control interrupt: IRQ 9, as on PIIX4 boards (the FADT's SCI_INT). */
export const IRQ_SCI = 9;
export const ISA_IRQS = 16;

/** What the chipset needs at power-on. */
export interface ChipsetConfig {
  rtc: RtcConfig;
  /** The I/O APIC's ID (the MP/ACPI tables must name the same). */
  ioapicId: number;
}

/** What the chipset drives outside itself. */
export interface ChipsetWiring {
  /** The 8259 pair's INT output (a local APIC's LINT0 in virtual-wire mode). */
  setPicInterrupt: (level: boolean) => void;
  /** An I/O APIC message for the local APICs. */
  deliver: (message: InterruptMessage) => void;
  /** The A20 gate from the i8042's output port. */
  setA20: (enabled: boolean) => void;
  /** The guest reset the machine (i8042 pulse, reset control register). */
  reset: () => void;
  /** The guest turned the machine off (ACPI S5). */
  powerOff: () => void;
  /** The guest's kernel panicked (pvpanic). */
  panic: () => void;
}

const REGION_SIZE = new Map<number, number>(CHIPSET_PORT_RANGES.map(({ tag, size }) => [tag, size]));

export class Chipset {
  readonly pic: Pic8259Pair;
  readonly pit: Pit8254;
  readonly rtc: RtcCmos;
  readonly kbc: I8042;
  readonly pci = new PciHost();
  readonly ioapic: Ioapic;
  readonly pm: AcpiPm;
  /** The last byte written to port 0x80, which reads back. */
  private postCode = 0xff;

  constructor(clock: Clock, config: ChipsetConfig, private readonly wiring: ChipsetWiring) {
    this.pic = new Pic8259Pair({ setInterrupt: wiring.setPicInterrupt });
    this.ioapic = new Ioapic({ deliver: wiring.deliver }, config.ioapicId);
    this.pit = new Pit8254(clock, { setOut0: (level) => this.setIsaIrq(IRQ_PIT, level) });
    this.rtc = new RtcCmos(clock, config.rtc, { setIrq8: (level) => this.setIsaIrq(IRQ_RTC, level) });
    this.kbc = new I8042({
      setIrq1: (level) => this.setIsaIrq(IRQ_KEYBOARD, level),
      setIrq12: (level) => this.setIsaIrq(IRQ_AUX, level),
      setA20: wiring.setA20,
      reset: wiring.reset,
    });
    this.pm = new AcpiPm(clock, ACPI_PM_CONFIG, {
      setSci: (level) => this.setIsaIrq(IRQ_SCI, level),
      powerOff: wiring.powerOff,
      reset: wiring.reset,
    });
  }

  /** Drives ISA IRQ `irq` (0-15) into the 8259 pair and its I/O APIC pin. */
  setIsaIrq(irq: number, level: boolean): void {
    if (!Number.isInteger(irq) || irq < 0 || irq >= ISA_IRQS) throw new RangeError(`ISA has IRQs 0-15, not ${irq}`);
    this.pic.setIrq(irq, level);
    const pin = isaIrqIoapicPin(irq);
    if (pin !== undefined) this.ioapic.setPin(pin, level);
  }

  /**
   * A read of `size` bytes at `offset` in the region tagged `tag`. Unknown tags and 8-byte
   * accesses (no chipset register is that wide) read all ones.
   */
  read(tag: number, offset: number, size: number): number {
    if (size > 4) return openBus(size);
    if (tag === ChipsetTag.Ioapic) return this.ioapic.read(offset, size);
    if (tag === ChipsetTag.PciConfig) return isResetControl(offset, size) ? this.pm.readResetControl() : this.pci.read(offset, size);
    // The PM blocks take wide accesses whole: a timer read split into bytes could tear.
    if (tag === ChipsetTag.Pm1aEvent) return this.pm.readEvent(offset, size);
    if (tag === ChipsetTag.Pm1aControl) return this.pm.readControl(offset, size);
    if (tag === ChipsetTag.PmTimer) return this.pm.readTimer(offset, size);
    const regionSize = REGION_SIZE.get(tag);
    if (regionSize === undefined) return openBus(size);
    let value = 0;
    for (let i = size - 1; i >= 0; i--) {
      value = value * 256 + (offset + i < regionSize ? this.readByte(tag, offset + i) : 0xff);
    }
    return value;
  }

  /** A write of `size` bytes at `offset` in the region tagged `tag`; unknown tags and 8-byte writes do nothing. */
  write(tag: number, offset: number, size: number, value: number): void {
    if (size > 4) return;
    if (tag === ChipsetTag.Ioapic) return this.ioapic.write(offset, size, value);
    if (tag === ChipsetTag.PciConfig) return isResetControl(offset, size) ? this.pm.writeResetControl(value & 0xff) : this.pci.write(offset, size, value);
    if (tag === ChipsetTag.Pm1aEvent) return this.pm.writeEvent(offset, size, value);
    if (tag === ChipsetTag.Pm1aControl) return this.pm.writeControl(offset, size, value);
    if (tag === ChipsetTag.PmTimer) return; // PM_TMR is read-only
    const regionSize = REGION_SIZE.get(tag);
    if (regionSize === undefined) return;
    for (let i = 0; i < size && offset + i < regionSize; i++) this.writeByte(tag, offset + i, (value >>> (8 * i)) & 0xff);
  }

  /** The INTA cycle of the 8259 pair: the vector of the interrupt now in service. */
  acknowledge(): number {
    return this.pic.acknowledge();
  }

  /** An EOI broadcast from a local APIC for `vector` (level-triggered I/O APIC entries). */
  eoi(vector: number): void {
    this.ioapic.eoi(vector);
  }

  /** Brings the timers' interrupt outputs up to now. */
  update(): void {
    this.pit.update();
    this.rtc.update();
    this.pm.update();
  }

  /** The clock time (ns) at which a timer next raises an interrupt, or Infinity. */
  nextDeadline(): number {
    return Math.min(this.pit.nextDeadline(), this.rtc.nextDeadline(), this.pm.nextDeadline());
  }

  private readByte(tag: number, offset: number): number {
    switch (tag) {
      case ChipsetTag.PicMaster: return this.pic.read(0, offset);
      case ChipsetTag.PicSlave: return this.pic.read(1, offset);
      case ChipsetTag.Elcr: return this.pic.readElcr(offset);
      case ChipsetTag.Pit: return this.pit.read(offset);
      case ChipsetTag.PortB: return this.pit.readPortB();
      case ChipsetTag.KbcData: return this.kbc.readData();
      case ChipsetTag.KbcCommand: return this.kbc.readStatus();
      case ChipsetTag.PostCode: return this.postCode;
      case ChipsetTag.PvPanic: return PVPANIC_PANICKED;
      default: return this.rtc.read(offset);
    }
  }

  private writeByte(tag: number, offset: number, byte: number): void {
    switch (tag) {
      case ChipsetTag.PicMaster: return this.pic.write(0, offset, byte);
      case ChipsetTag.PicSlave: return this.pic.write(1, offset, byte);
      case ChipsetTag.Elcr: return this.pic.writeElcr(offset, byte);
      case ChipsetTag.Pit: return this.pit.write(offset, byte);
      case ChipsetTag.PortB: return this.pit.writePortB(byte);
      case ChipsetTag.KbcData: return this.kbc.writeData(byte);
      case ChipsetTag.KbcCommand: return this.kbc.writeCommand(byte);
      case ChipsetTag.PostCode:
        this.postCode = byte;
        return;
      case ChipsetTag.PvPanic:
        if (byte & PVPANIC_PANICKED) this.wiring.panic();
        return;
      default: return this.rtc.write(offset, byte);
    }
  }
}

/** A byte access to 0xCF9 in the 0xCF8 region: the reset control register, not CONFIG_ADDRESS. */
function isResetControl(offset: number, size: number): boolean {
  return offset === RESET_CONTROL_PORT - PCI_CONFIG_PORT && size === 1;
}
