/**
 * The Intel MultiProcessor Specification 1.4 structures (chapter 4): the floating pointer and the
 * configuration table with processor, bus, IOAPIC, I/O interrupt and local interrupt entries,
 * in the order the spec asks for (4.2: entries sorted by type).
 */
import { isaIrqIoapicPin, PCI_PIN_INDEX, type FirmwarePlatform } from "./firmware-platform";
import { TableBuilder } from "./table-bytes";

const MP_FLOATING_POINTER_SIGNATURE = "_MP_";
const MP_CONFIG_TABLE_SIGNATURE = "PCMP";
const MP_SPEC_REVISION = 4; // 1.4
const MP_OEM_ID = "WEBVM";
const MP_PRODUCT_ID = "WEBVM X86 PC";

/** Entry types (MP spec table 4-3). */
const MP_ENTRY_PROCESSOR = 0;
const MP_ENTRY_BUS = 1;
const MP_ENTRY_IOAPIC = 2;
const MP_ENTRY_IO_INTERRUPT = 3;
const MP_ENTRY_LOCAL_INTERRUPT = 4;

/** Interrupt types (table 4-8). */
const MP_INT = 0;
const MP_NMI = 1;
const MP_EXTINT = 3;

/** Interrupt flags (table 4-8): polarity in bits 1:0, trigger mode in bits 3:2; 0 conforms to the bus. */
const MP_FLAGS_CONFORMING = 0;
const MP_FLAGS_LEVEL_ACTIVE_LOW = 0b1111;

/**
 * Bus IDs. Linux matches a PCI interrupt entry's source bus ID against the PCI bus number
 * itself, so PCI bus 0 must be MP bus 0; ISA follows (as SeaBIOS numbers them).
 */
const MP_PCI_BUS_ID = 0;
const MP_ISA_BUS_ID = 1;

/** Local APIC ID meaning "every local APIC" (table 4-9). */
const MP_ALL_LOCAL_APICS = 0xff;

/**
 * What the processor entries report as the CPU signature and CPUID.1:EDX features; Linux reads
 * neither. The core's CPUID leaf 1 (family 6, model 3, stepping 3: FPU PSE TSC PAE CX8 SEP PGE
 * CMOV FXSR) plus the APIC bit, which is set whenever these tables are written.
 */
const MP_CPU_SIGNATURE = 0x0633;
const MP_CPU_FEATURES = (1 << 0) | (1 << 3) | (1 << 4) | (1 << 6) | (1 << 8) | (1 << 9) | (1 << 11) | (1 << 13) | (1 << 15) | (1 << 24);

const CPU_ENABLED = 1 << 0;
const CPU_BOOTSTRAP = 1 << 1;
const IOAPIC_ENABLED = 1 << 0;

/** The 16-byte floating pointer structure (MP spec 4.1) pointing at the configuration table. */
export function buildMpFloatingPointer(configTableAddress: number): Uint8Array {
  return new TableBuilder()
    .text(MP_FLOATING_POINTER_SIGNATURE, 4)
    .u32(configTableAddress)
    .u8(1) // length in 16-byte paragraphs
    .u8(MP_SPEC_REVISION)
    .u8(0) // checksum
    .u8(0) // feature byte 1: 0 = a configuration table is present (no default configuration)
    .u8(0) // feature byte 2: IMCRP clear = virtual wire mode, no IMCR to program
    .zeros(3)
    .checksum(10)
    .bytes();
}

/** The configuration table (MP spec 4.2-4.3). */
export function buildMpConfigTable(platform: FirmwarePlatform): Uint8Array {
  const table = new TableBuilder()
    .text(MP_CONFIG_TABLE_SIGNATURE, 4)
    .u16(0) // base table length, patched below
    .u8(MP_SPEC_REVISION)
    .u8(0) // checksum
    .text(MP_OEM_ID, 8)
    .text(MP_PRODUCT_ID, 12)
    .u32(0) // no OEM table
    .u16(0)
    .u16(0) // entry count, patched below
    .u32(platform.lapicAddress)
    .u16(0) // no extended table
    .u8(0)
    .u8(0);
  let entries = 0;

  for (let apicId = 0; apicId < platform.cpus; apicId++) {
    table
      .u8(MP_ENTRY_PROCESSOR)
      .u8(apicId)
      .u8(platform.lapicVersion)
      .u8(CPU_ENABLED | (apicId === 0 ? CPU_BOOTSTRAP : 0))
      .u32(MP_CPU_SIGNATURE)
      .u32(MP_CPU_FEATURES)
      .zeros(8);
    entries++;
  }

  for (const [busId, busType] of [[MP_PCI_BUS_ID, "PCI"], [MP_ISA_BUS_ID, "ISA"]] as const) {
    table.u8(MP_ENTRY_BUS).u8(busId).text(busType, 6);
    entries++;
  }

  const { ioapic } = platform;
  table.u8(MP_ENTRY_IOAPIC).u8(ioapic.id).u8(ioapic.version).u8(IOAPIC_ENABLED).u32(ioapic.address);
  entries++;

  const ioInterrupt = (type: number, flags: number, bus: number, busIrq: number, pin: number): void => {
    table.u8(MP_ENTRY_IO_INTERRUPT).u8(type).u16(flags).u8(bus).u8(busIrq).u8(ioapic.id).u8(pin);
    entries++;
  };
  for (let irq = 0; irq < 16; irq++) {
    const pin = isaIrqIoapicPin(irq);
    if (pin !== undefined) ioInterrupt(MP_INT, MP_FLAGS_CONFORMING, MP_ISA_BUS_ID, irq, pin);
  }
  // A PCI source IRQ is the device number in bits 6:2 and the INTx# pin in bits 1:0 (MP spec D.3).
  for (const line of platform.pciInterrupts) {
    ioInterrupt(MP_INT, MP_FLAGS_LEVEL_ACTIVE_LOW, MP_PCI_BUS_ID, (line.device << 2) | PCI_PIN_INDEX[line.pin], line.ioapicPin);
  }

  // The 8259's output is wired to LINT0 as ExtINT (virtual wire) and NMI to LINT1, on every CPU.
  for (const [type, lint] of [[MP_EXTINT, 0], [MP_NMI, 1]] as const) {
    table.u8(MP_ENTRY_LOCAL_INTERRUPT).u8(type).u16(MP_FLAGS_CONFORMING).u8(MP_ISA_BUS_ID).u8(0).u8(MP_ALL_LOCAL_APICS).u8(lint);
    entries++;
  }

  return table.patchU16(4, table.length).patchU16(34, entries).checksum(7).bytes();
}
