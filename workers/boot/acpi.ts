/**
 * ACPI tables (ACPI 6.4 chapter 5) for a PC with local APICs, one IOAPIC, 8259s and a PCI host
 * bridge: RSDP 1.0 -> RSDT -> {FADT -> FACS, DSDT; MADT}.
 *
 * Why this set (read off Linux 6.1): with an RSDP present Linux takes CPUs and the IOAPIC from the
 * MADT and ignores the MP table, and `acpi_boot_init` makes PCI use ACPI (`pci_acpi_init`), so
 * the PCI root bus and its interrupt routing must be in the DSDT (PNP0A03 with _CRS and _PRT);
 * ACPICA needs a FADT and a DSDT to load its namespace, or it reports an error and turns ACPI off
 * again after the MADT was used. The FADT is a full (not hardware-reduced) one: hardware-reduced
 * mode makes Linux drop the 8259s and the PIT timer (`acpi_reduced_hw_init`). A full FADT needs
 * PM1a event and control blocks, so the board must decode those ports (and the PM timer's, and
 * the reset register's when it names them). SMI_CMD is 0, so ACPICA treats the machine as always
 * in ACPI mode and never writes an enable command.
 *
 * RSDP revision 0 with an RSDT: all addresses are below 4 GiB on this i686 machine, so an XSDT
 * adds nothing. The FADT is revision 3 (ACPI 2.0) for IAPC_BOOT_ARCH; its X_ fields are zero,
 * which per ACPI 5.2.9 means the 32-bit fields hold the addresses.
 */
import { device, dwordMemory, eisaId, integer, ioPorts, name, pkg, resourceTemplate, scope, string, wordBusNumber, wordIo, type Aml } from "./aml";
import { isaIrqIoapicPin, PCI_PIN_INDEX, type AcpiConfig, type FirmwarePlatform } from "./firmware-platform";
import { TableBuilder } from "./table-bytes";

const ACPI_OEM_ID = "WEBVM";
const ACPI_OEM_TABLE_ID = "WEBVMPC";
const ACPI_CREATOR_ID = "WVMX";
const FADT_REVISION = 3;
const FACS_SIZE = 64;

/** MADT entry types (5.2.12). */
const MADT_LOCAL_APIC = 0;
const MADT_IOAPIC = 1;
const MADT_INTERRUPT_SOURCE_OVERRIDE = 2;
const MADT_LOCAL_APIC_NMI = 4;
/** MPS INTI flags (5.2.12.5): polarity bits 1:0, trigger bits 3:2. */
const MPS_INTI_CONFORMING = 0;
const MPS_INTI_LEVEL_ACTIVE_HIGH = 0b1101;

const MADT_PCAT_COMPAT = 1 << 0; // dual 8259s are present (the OS masks them)
const LOCAL_APIC_ENABLED = 1 << 0;
const ALL_PROCESSORS = 0xff;
const ISA_BUS = 0;

/** FADT IAPC_BOOT_ARCH (5.2.9.3): legacy devices (RTC, serial, ...) and an 8042 exist. */
const BOOT_ARCH_LEGACY_DEVICES = 1 << 0;
const BOOT_ARCH_8042 = 1 << 1;
/**
 * FADT flags (5.2.9, table 5.10): WBINVD works, C1 via HLT, the power button is the fixed
 * feature (PWR_BUTTON clear), no sleep button, RTC wake status not in PM1_STS (FIX_RTC); the
 * timer's width and the reset register as configured.
 */
const FADT_WBINVD = 1 << 0;
const FADT_PROC_C1 = 1 << 2;
const FADT_SLP_BUTTON = 1 << 5;
const FADT_FIX_RTC = 1 << 6;
const FADT_TMR_VAL_EXT = 1 << 8;
const FADT_RESET_REG_SUP = 1 << 10;
/** Generic Address Structure (5.2.3.2): system I/O space, byte access. */
const GAS_SYSTEM_IO = 1;
const GAS_ACCESS_BYTE = 1;
/** Worst-case C2/C3 latencies above 100 and 1000 us mean "not supported" (5.2.9). */
const NO_C2_LATENCY = 101;
const NO_C3_LATENCY = 1001;

/** Puts a table in guest memory at the given alignment and returns its address. */
export type PlaceTable = (bytes: Uint8Array, align: number) => number;

/** Builds and places every table; returns the RSDP, which the caller puts where the scan finds it. */
export function buildAcpiTables(platform: FirmwarePlatform, acpi: AcpiConfig, place: PlaceTable): { rsdp: Uint8Array } {
  const facs = place(buildFacs(), 64); // FACS must be 64-byte aligned (5.2.10)
  const dsdt = place(buildDsdt(platform, acpi), 16);
  const madt = place(buildMadt(platform, acpi), 16);
  const fadt = place(buildFadt(acpi, facs, dsdt), 16);
  const rsdt = place(buildRsdt([fadt, madt]), 16);
  return { rsdp: buildRsdp(rsdt) };
}

/** RSDP for ACPI 1.0 (5.2.5.3): checksum over its 20 bytes. */
function buildRsdp(rsdtAddress: number): Uint8Array {
  return new TableBuilder().text("RSD PTR ", 8).u8(0).text(ACPI_OEM_ID, 6).u8(0).u32(rsdtAddress).checksum(8).bytes();
}

function buildRsdt(entries: number[]): Uint8Array {
  const table = header("RSDT", 1);
  for (const address of entries) table.u32(address);
  return finish(table);
}

/** FACS (5.2.10): no checksum; the waking vector and global lock stay zero (no sleep states but S5). */
function buildFacs(): Uint8Array {
  return new TableBuilder()
    .text("FACS", 4)
    .u32(FACS_SIZE)
    .u32(0) // hardware signature
    .u32(0) // firmware waking vector
    .u32(0) // global lock
    .u32(0) // flags
    .u64(0) // X firmware waking vector
    .u8(1) // version (ACPI 2.0)
    .zeros(FACS_SIZE - 33)
    .bytes();
}

/** FADT revision 3 (5.2.9, offsets in table 5.9). */
function buildFadt(acpi: AcpiConfig, facsAddress: number, dsdtAddress: number): Uint8Array {
  const flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC |
    (acpi.pmTimer32 ? FADT_TMR_VAL_EXT : 0) | (acpi.reset ? FADT_RESET_REG_SUP : 0);
  const table = header("FACP", FADT_REVISION)
    .u32(facsAddress)
    .u32(dsdtAddress)
    .u8(1) // reserved since 2.0; ACPI 1.0's INT_MODEL, 1 = multiple APIC
    .u8(0) // preferred PM profile: unspecified
    .u16(acpi.sciIrq)
    .u32(0) // SMI_CMD: none, the machine is always in ACPI mode
    .u8(0) // ACPI_ENABLE
    .u8(0) // ACPI_DISABLE
    .u8(0) // S4BIOS_REQ
    .u8(0) // PSTATE_CNT
    .u32(acpi.pm1aEventBlock)
    .u32(0) // PM1b_EVT_BLK
    .u32(acpi.pm1aControlBlock)
    .u32(0) // PM1b_CNT_BLK
    .u32(0) // PM2_CNT_BLK
    .u32(acpi.pmTimerBlock)
    .u32(0) // GPE0_BLK
    .u32(0) // GPE1_BLK
    .u8(4) // PM1_EVT_LEN
    .u8(2) // PM1_CNT_LEN
    .u8(0) // PM2_CNT_LEN
    .u8(4) // PM_TMR_LEN
    .u8(0) // GPE0_BLK_LEN
    .u8(0) // GPE1_BLK_LEN
    .u8(0) // GPE1_BASE
    .u8(0) // CST_CNT
    .u16(NO_C2_LATENCY)
    .u16(NO_C3_LATENCY)
    .u16(0) // FLUSH_SIZE
    .u16(0) // FLUSH_STRIDE
    .u8(0) // DUTY_OFFSET
    .u8(0) // DUTY_WIDTH
    .u8(0) // DAY_ALRM
    .u8(0) // MON_ALRM
    .u8(acpi.rtcCentury ?? 0) // CENTURY: the CMOS index of the century byte, 0 for none
    .u16(BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_8042)
    .u8(0)
    .u32(flags);
  if (acpi.reset) {
    table.u8(GAS_SYSTEM_IO).u8(8).u8(0).u8(GAS_ACCESS_BYTE).u64(acpi.reset.port).u8(acpi.reset.value); // RESET_REG, RESET_VALUE
  } else {
    table.zeros(13);
  }
  table
    .zeros(3)
    .u64(0) // X_FIRMWARE_CTRL
    .u64(0) // X_DSDT
    .zeros(8 * 12); // X_PM1a_EVT_BLK .. X_GPE1_BLK
  return finish(table);
}

/** MADT (5.2.12): one enabled local APIC per CPU, the IOAPIC at GSI 0, ISA overrides, LINT1 NMI. */
function buildMadt(platform: FirmwarePlatform, acpi: AcpiConfig): Uint8Array {
  const table = header("APIC", 1).u32(platform.lapicAddress).u32(MADT_PCAT_COMPAT);
  for (let apicId = 0; apicId < platform.cpus; apicId++) {
    table.u8(MADT_LOCAL_APIC).u8(8).u8(apicId).u8(apicId).u32(LOCAL_APIC_ENABLED); // processor UID = APIC ID
  }
  const { ioapic } = platform;
  table.u8(MADT_IOAPIC).u8(12).u8(ioapic.id).u8(0).u32(ioapic.address).u32(0);
  // ISA IRQs are identity-mapped to GSIs unless overridden (5.2.12.5): IRQ0 moves to GSI 2, and
  // the SCI is level-triggered, active high (the PM block drives it like a PIIX4's).
  const override = (irq: number, flags: number): void => {
    table.u8(MADT_INTERRUPT_SOURCE_OVERRIDE).u8(10).u8(ISA_BUS).u8(irq).u32(isaIrqIoapicPin(irq) ?? irq).u16(flags);
  };
  override(0, MPS_INTI_CONFORMING);
  override(acpi.sciIrq, MPS_INTI_LEVEL_ACTIVE_HIGH);
  table.u8(MADT_LOCAL_APIC_NMI).u8(6).u8(ALL_PROCESSORS).u16(MPS_INTI_CONFORMING).u8(1);
  return finish(table);
}

/**
 * DSDT: \_S5 for soft-off, the PCI host bridge with its windows (_CRS) and INTx routing (_PRT,
 * GSI form: source Zero, the IOAPIC pin as the GSI), and the pvpanic device (QEMU0001) when the
 * board has one.
 */
function buildDsdt(platform: FirmwarePlatform, acpi: AcpiConfig): Uint8Array {
  const { base, size } = acpi.pciMemoryWindow;
  const windows = resourceTemplate([
    wordBusNumber(0x00, 0xff),
    ioPorts(0x0cf8, 0x0cf8, 1, 8), // configuration mechanism #1, consumed by the bridge itself
    wordIo(0x0000, 0x0cf7),
    wordIo(0x0d00, 0xffff),
    dwordMemory(base, base + size - 1),
  ]);
  const routes: Aml[] = platform.pciInterrupts.map((line) =>
    pkg([integer(((line.device << 16) | 0xffff) >>> 0), integer(PCI_PIN_INDEX[line.pin]), integer(0), integer(line.ioapicPin)]),
  );
  const aml = [
    name("_S5", pkg([integer(acpi.softOffSleepType), integer(acpi.softOffSleepType), integer(0), integer(0)])),
    scope("\\_SB", [
      device("PCI0", [
        name("_HID", eisaId("PNP0A03")),
        name("_UID", integer(0)),
        name("_CRS", windows),
        name("_PRT", pkg(routes)),
      ]),
      ...(acpi.pvpanic === undefined ? [] : [device("PEVT", [
        name("_HID", string("QEMU0001")),
        name("_CRS", resourceTemplate([ioPorts(acpi.pvpanic, acpi.pvpanic, 1, 1)])),
      ])]),
    ]),
  ].flat();
  return finish(header("DSDT", 2).raw(Uint8Array.from(aml)));
}

/** The 36-byte system description header (5.2.6); length and checksum are filled by `finish`. */
function header(signature: string, revision: number): TableBuilder {
  return new TableBuilder()
    .text(signature, 4)
    .u32(0)
    .u8(revision)
    .u8(0)
    .text(ACPI_OEM_ID, 6)
    .text(ACPI_OEM_TABLE_ID, 8)
    .u32(1) // OEM revision
    .text(ACPI_CREATOR_ID, 4)
    .u32(1); // creator revision
}

function finish(table: TableBuilder): Uint8Array {
  return table.patchU32(4, table.length).checksum(9).bytes();
}
