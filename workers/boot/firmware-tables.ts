/**
 * The firmware tables a directly booted kernel reads to find its CPUs and interrupt controllers:
 * an Intel MultiProcessor Specification 1.4 table always, ACPI tables (RSDP, RSDT, FADT, FACS,
 * DSDT, MADT) when asked for. There is no BIOS: the loader calls `writeFirmwareTables` and the
 * bytes sit in guest RAM where Linux scans for them.
 *
 * Where: the 64 KiB below 1 MiB at 0xF0000, the one window both scans cover (Linux's
 * `default_find_smp_config` scans 0xF0000-0xFFFFF for the MP floating pointer; ACPICA's
 * `acpi_find_root_pointer` scans 0xE0000-0xFFFFF for the RSDP, both on 16-byte boundaries).
 * Linux always treats 0xA0000-0xFFFFF as reserved, so the tables are never reused as RAM.
 */
import { gpa, type Gpa } from "../addresses";
import { buildAcpiTables } from "./acpi";
import { PCI_PIN_INDEX, type AcpiConfig, type FirmwarePlatform, type PciInterrupt } from "./firmware-platform";
import { buildMpConfigTable, buildMpFloatingPointer } from "./mptable";

export type { AcpiConfig, FirmwarePlatform, PciInterrupt, PciInterruptPin } from "./firmware-platform";

/** Where the tables start (the loader must not put anything else in 0xF0000-0xFFFFF). */
export const FIRMWARE_TABLES_BASE = 0xf0000;
const FIRMWARE_TABLES_LIMIT = 0x100000;

/** The local APIC version the tables report by default: an integrated xAPIC (SDM vol. 3, 11.4.8). */
export const DEFAULT_LAPIC_VERSION = 0x14;
/** The IOAPIC version the tables report by default: the 82093AA's. */
export const DEFAULT_IOAPIC_VERSION = 0x11;
/** NR_CPUS of Debian's 686 kernel, and the project's vCPU limit. */
export const MAX_FIRMWARE_CPUS = 32;

export interface FirmwareConfig {
  /** vCPUs: local APIC IDs 0..cpus-1, CPU 0 is the bootstrap processor. */
  cpus: number;
  /**
   * "apic": the vCPUs' local APICs and one IOAPIC are exposed and described. "pic-only": they are
   * hidden, no table is written, and Linux runs uniprocessor on the 8259 pair.
   */
  interruptControllers: "apic" | "pic-only";
  lapicAddress: Gpa;
  lapicVersion?: number;
  ioapic: { id: number; address: Gpa; pins: number; version?: number };
  /** PCI interrupt routing (none when omitted). */
  pciInterrupts?: readonly PciInterrupt[];
  /** Write ACPI tables as well as the MP table (omitted: MP table only). */
  acpi?: AcpiConfig;
}

/** Where the tables went in guest physical memory. */
export interface FirmwareTables {
  /** The bytes written are [start, end): the loader's e820 map must not offer them as RAM. */
  start: Gpa;
  end: Gpa;
  mpFloatingPointer: Gpa;
  mpConfigTable: Gpa;
  /** The ACPI root pointer, for boot_params.acpi_rsdp_addr (boot protocol 2.14+); absent without ACPI. */
  rsdp?: Gpa;
}

export class FirmwareConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FirmwareConfigError";
  }
}

/**
 * Writes the tables into `ram` (guest RAM from physical address 0) and says where they are;
 * returns null for a PIC-only platform. Throws FirmwareConfigError for a configuration the
 * tables cannot describe, before writing anything.
 */
export function writeFirmwareTables(ram: Uint8Array, config: FirmwareConfig): FirmwareTables | null {
  const platform = validateFirmwareConfig(config);
  if (platform === null) return null;

  const placed: { at: number; bytes: Uint8Array }[] = [];
  let cursor = FIRMWARE_TABLES_BASE;
  const place = (bytes: Uint8Array, align: number): number => {
    const at = Math.ceil(cursor / align) * align;
    placed.push({ at, bytes });
    cursor = at + bytes.length;
    return at;
  };

  // The root pointers open the window on 16-byte boundaries, so the scans meet them first: the
  // MP floating pointer takes one slot (MP spec 4.1: 16 bytes), the RSDP two (ACPI 5.2.5.3: 20).
  const mpFloatingAt = FIRMWARE_TABLES_BASE;
  const rsdpAt = platform.acpi ? mpFloatingAt + 16 : undefined;
  cursor = rsdpAt === undefined ? mpFloatingAt + 16 : rsdpAt + 32;
  const mpConfigAt = place(buildMpConfigTable(platform), 16);
  placed.push({ at: mpFloatingAt, bytes: buildMpFloatingPointer(mpConfigAt) });
  if (rsdpAt !== undefined && platform.acpi) {
    placed.push({ at: rsdpAt, bytes: buildAcpiTables(platform, platform.acpi, place).rsdp });
  }

  if (cursor > FIRMWARE_TABLES_LIMIT) {
    throw new FirmwareConfigError(`the tables need ${cursor - FIRMWARE_TABLES_BASE} bytes, more than the 64 KiB at 0xF0000`);
  }
  if (ram.length < cursor) {
    throw new FirmwareConfigError(`guest RAM of ${ram.length} bytes ends below the tables' end at 0x${cursor.toString(16)}`);
  }
  for (const { at, bytes } of placed) ram.set(bytes, at);
  return {
    start: gpa(FIRMWARE_TABLES_BASE),
    end: gpa(cursor),
    mpFloatingPointer: gpa(mpFloatingAt),
    mpConfigTable: gpa(mpConfigAt),
    ...(rsdpAt === undefined ? {} : { rsdp: gpa(rsdpAt) }),
  };
}

/** Checks a configuration; null means a PIC-only platform (nothing to describe). */
export function validateFirmwareConfig(config: FirmwareConfig): FirmwarePlatform | null {
  const { cpus, ioapic } = config;
  if (config.interruptControllers !== "apic" && config.interruptControllers !== "pic-only") {
    throw new FirmwareConfigError(`interruptControllers must be "apic" or "pic-only", got ${String(config.interruptControllers)}`);
  }
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_FIRMWARE_CPUS) {
    throw new FirmwareConfigError(`cpus must be 1..${MAX_FIRMWARE_CPUS}, got ${cpus}`);
  }
  if (config.interruptControllers === "pic-only") return null;

  const lapicVersion = config.lapicVersion ?? DEFAULT_LAPIC_VERSION;
  const ioapicVersion = ioapic.version ?? DEFAULT_IOAPIC_VERSION;
  checkByte("lapicVersion", lapicVersion);
  checkByte("ioapic.version", ioapicVersion);
  checkMmio("lapicAddress", config.lapicAddress);
  checkMmio("ioapic.address", ioapic.address);
  // 0xFF is the broadcast APIC ID; the IOAPIC shares the APIC ID space with the CPUs (MP spec 3.6.6).
  if (!Number.isInteger(ioapic.id) || ioapic.id < 0 || ioapic.id >= 0xff) {
    throw new FirmwareConfigError(`ioapic.id must be 0..254, got ${ioapic.id}`);
  }
  if (ioapic.id < cpus) {
    throw new FirmwareConfigError(`ioapic.id ${ioapic.id} collides with a CPU's APIC ID (0..${cpus - 1})`);
  }
  if (!Number.isInteger(ioapic.pins) || ioapic.pins < 16 || ioapic.pins > 240) {
    throw new FirmwareConfigError(`ioapic.pins must be 16..240 (the ISA IRQs need 16), got ${ioapic.pins}`);
  }

  const pciInterrupts = config.pciInterrupts ?? [];
  const seen = new Set<string>();
  pciInterrupts.forEach((line, index) => {
    const where = `pciInterrupts[${index}]`;
    if (!Number.isInteger(line.device) || line.device < 0 || line.device > 31) {
      throw new FirmwareConfigError(`${where}: device must be 0..31, got ${line.device}`);
    }
    if (!Object.hasOwn(PCI_PIN_INDEX, line.pin)) {
      throw new FirmwareConfigError(`${where}: pin must be A, B, C or D, got ${String(line.pin)}`);
    }
    if (!Number.isInteger(line.ioapicPin) || line.ioapicPin < 16 || line.ioapicPin >= ioapic.pins) {
      throw new FirmwareConfigError(`${where}: ioapicPin must be 16..${ioapic.pins - 1} (0-15 are the ISA IRQs), got ${line.ioapicPin}`);
    }
    const key = `${line.device}${line.pin}`;
    if (seen.has(key)) throw new FirmwareConfigError(`${where}: device ${line.device} INT${line.pin}# is routed twice`);
    seen.add(key);
  });

  if (config.acpi) checkAcpi(config.acpi, config.lapicAddress, ioapic.address);
  return {
    cpus,
    lapicAddress: config.lapicAddress,
    lapicVersion,
    ioapic: { id: ioapic.id, address: ioapic.address, pins: ioapic.pins, version: ioapicVersion },
    pciInterrupts,
    ...(config.acpi ? { acpi: config.acpi } : {}),
  };
}

function checkAcpi(acpi: AcpiConfig, lapicAddress: number, ioapicAddress: number): void {
  const blocks = [["pm1aEventBlock", acpi.pm1aEventBlock, 4], ["pm1aControlBlock", acpi.pm1aControlBlock, 2], ["pmTimerBlock", acpi.pmTimerBlock, 4]] as const;
  for (const [name, first, count] of blocks) checkPortBlock(`acpi.${name}`, first, count);
  for (const [i, [name, first, count]] of blocks.entries()) {
    for (const [other, otherFirst, otherCount] of blocks.slice(i + 1)) {
      if (first < otherFirst + otherCount && otherFirst < first + count) throw new FirmwareConfigError(`acpi.${name} and acpi.${other} overlap`);
    }
  }
  if (!Number.isInteger(acpi.softOffSleepType) || acpi.softOffSleepType < 0 || acpi.softOffSleepType > 7) {
    throw new FirmwareConfigError(`acpi.softOffSleepType must be a 3-bit SLP_TYP (0..7), got ${acpi.softOffSleepType}`);
  }
  if (acpi.reset) {
    checkPortBlock("acpi.reset.port", acpi.reset.port, 1);
    checkByte("acpi.reset.value", acpi.reset.value);
  }
  // CMOS RAM after the clock's 14 registers (MC146818A: 0x0E-0x7F with the PC's extended bank).
  if (acpi.rtcCentury !== undefined && (!Number.isInteger(acpi.rtcCentury) || acpi.rtcCentury < 0x0e || acpi.rtcCentury > 0x7f)) {
    throw new FirmwareConfigError(`acpi.rtcCentury must be a CMOS RAM index 0x0e..0x7f, got ${acpi.rtcCentury}`);
  }
  if (!Number.isInteger(acpi.sciIrq) || acpi.sciIrq < 1 || acpi.sciIrq > 15 || acpi.sciIrq === 2 || acpi.sciIrq === 8) {
    throw new FirmwareConfigError(`acpi.sciIrq must be a free ISA IRQ (1..15, not 2 or 8), got ${acpi.sciIrq}`);
  }
  const { base, size } = acpi.pciMemoryWindow;
  if (!Number.isInteger(base) || !Number.isInteger(size) || size <= 0 || base < 0x100000 || base + size > 2 ** 32) {
    throw new FirmwareConfigError(`acpi.pciMemoryWindow must be a non-empty range between 1 MiB and 4 GiB, got base 0x${base.toString(16)} size 0x${size.toString(16)}`);
  }
  for (const [name, address] of [["lapicAddress", lapicAddress], ["ioapic.address", ioapicAddress]] as const) {
    if (address >= base && address < base + size) {
      throw new FirmwareConfigError(`acpi.pciMemoryWindow covers ${name} 0x${address.toString(16)}`);
    }
  }
}

function checkByte(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new FirmwareConfigError(`${name} must be a byte, got ${value}`);
  }
}

function checkMmio(name: string, address: number): void {
  if (!Number.isInteger(address) || address < FIRMWARE_TABLES_LIMIT || address > 2 ** 32 - 0x1000 || address % 0x1000 !== 0) {
    throw new FirmwareConfigError(`${name} must be a 4 KiB-aligned address between 1 MiB and 4 GiB, got 0x${address.toString(16)}`);
  }
}

function checkPortBlock(name: string, first: number, count: number): void {
  if (!Number.isInteger(first) || first <= 0 || first + count > 0x10000) {
    throw new FirmwareConfigError(`${name} must be a port block of ${count} inside 1..0xffff, got 0x${first.toString(16)}`);
  }
}
