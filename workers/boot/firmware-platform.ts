/**
 * The platform facts the MP and ACPI builders share: the validated configuration and how ISA and
 * PCI interrupt lines reach the IOAPIC.
 */
import type { Gpa, Port } from "../addresses";

/** On PCs the 8254's IRQ0 reaches IOAPIC pin 2 (pin 0 carries the 8259's ExtINT); IRQ2 is the cascade and absent. */
export const ISA_IRQ0_IOAPIC_PIN = 2;

export type PciInterruptPin = "A" | "B" | "C" | "D";

/** INTA#..INTD# as 0..3, the numbering of both the MP spec (D.3) and ACPI _PRT entries (6.2.13). */
export const PCI_PIN_INDEX: Readonly<Record<PciInterruptPin, number>> = { A: 0, B: 1, C: 2, D: 3 };

/** One PCI INTx line on bus 0 wired straight to an IOAPIC pin (level-triggered, active low). */
export interface PciInterrupt {
  /** Device number on bus 0 (0..31). */
  device: number;
  pin: PciInterruptPin;
  /** IOAPIC input, 16 or above (pins 0-15 belong to the ISA IRQs, which are edge-triggered, active high). */
  ioapicPin: number;
}

/** What the ACPI tables describe beyond the interrupt controllers: the board's ACPI fixed hardware. */
export interface AcpiConfig {
  /** PM1a event block: 4 ports (PM1 status, PM1 enable), which the board must decode. */
  pm1aEventBlock: Port;
  /** PM1a control block: 2 ports (SCI_EN, SLP_TYP, SLP_EN), which the board must decode. */
  pm1aControlBlock: Port;
  /** PM timer block: 4 ports, the 3.579545 MHz counter, which the board must decode. */
  pmTimerBlock: Port;
  /** The PM timer counts 32 bits (FADT TMR_VAL_EXT), else 24. */
  pmTimer32: boolean;
  /** SLP_TYP with which the PM1 control block powers off, named by the DSDT's \_S5 (0..7). */
  softOffSleepType: number;
  /** The reset register (FADT RESET_REG): an I/O port and the byte that resets the machine; none when omitted. */
  reset?: { port: Port; value: number };
  /** CMOS RAM index of the RTC's century byte (FADT CENTURY); none when omitted. */
  rtcCentury?: number;
  /** ISA IRQ of the system control interrupt (9 on PCs), routed level-triggered, active high. */
  sciIrq: number;
  /** The paravirtual panic device's port, described as ACPI device QEMU0001; none when omitted. */
  pvpanic?: Port;
  /** The 32-bit window for PCI memory BARs, given to the OS in the host bridge's _CRS. */
  pciMemoryWindow: { base: Gpa; size: number };
}

/** The validated configuration the table builders read. */
export interface FirmwarePlatform {
  cpus: number;
  lapicAddress: number;
  lapicVersion: number;
  ioapic: { id: number; address: number; pins: number; version: number };
  pciInterrupts: readonly PciInterrupt[];
  acpi?: AcpiConfig;
}

/** The IOAPIC pin an ISA IRQ arrives on; IRQ2 (the cascade) arrives nowhere. */
export function isaIrqIoapicPin(irq: number): number | undefined {
  if (irq === 2) return undefined;
  return irq === 0 ? ISA_IRQ0_IOAPIC_PIN : irq;
}
