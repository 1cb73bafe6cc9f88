// Firmware tables: every field read back by offset from the MP spec 1.4 (chapter 4) and ACPI 6.4
// (chapter 5) layouts, found the way Linux finds them, for one CPU and several; then, when
// ACPICA's tools are installed, a second opinion from iasl and acpiexec.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { gpa, port } from "../workers/addresses";
import { eisaId, integer, nameString, pkgLength } from "../workers/boot/aml";
import {
  FIRMWARE_TABLES_BASE, FirmwareConfigError, writeFirmwareTables, type AcpiConfig, type FirmwareConfig, type FirmwareTables,
} from "../workers/boot/firmware-tables";

const MiB = 1 << 20;
const ACPI: AcpiConfig = {
  pm1aEventBlock: port(0x600),
  pm1aControlBlock: port(0x604),
  pmTimerBlock: port(0x608),
  pmTimer32: true,
  softOffSleepType: 5,
  reset: { port: port(0xcf9), value: 0x06 },
  rtcCentury: 0x32,
  sciIrq: 9,
  pciMemoryWindow: { base: gpa(0xc0000000), size: 0x3ec00000 },
};

function config(cpus: number, extra: Partial<FirmwareConfig> = {}): FirmwareConfig {
  return {
    cpus,
    interruptControllers: "apic",
    lapicAddress: gpa(0xfee00000),
    ioapic: { id: cpus, address: gpa(0xfec00000), pins: 24 },
    ...extra,
  };
}

/** Little-endian reads of guest RAM by physical address. */
class Guest {
  readonly view: DataView;
  constructor(readonly ram: Uint8Array) {
    this.view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  }
  u8 = (at: number): number => this.ram[at];
  u16 = (at: number): number => this.view.getUint16(at, true);
  u32 = (at: number): number => this.view.getUint32(at, true);
  text = (at: number, length: number): string => String.fromCharCode(...this.ram.subarray(at, at + length));
  sum = (at: number, length: number): number => this.ram.subarray(at, at + length).reduce((a, b) => a + b, 0) & 0xff;
}

function boot(cfg: FirmwareConfig, ramBytes = 2 * MiB): { guest: Guest; tables: FirmwareTables } {
  const ram = new Uint8Array(ramBytes);
  const tables = writeFirmwareTables(ram, cfg);
  assert.ok(tables);
  return { guest: new Guest(ram), tables };
}

/** Linux's default_find_smp_config: 16-byte steps through the first KiB, the last KiB below 640 KiB, then 0xF0000-0xFFFFF. */
function findMpFloatingPointer(guest: Guest): number | undefined {
  for (const [base, length] of [[0, 0x400], [639 * 0x400, 0x400], [0xf0000, 0x10000]]) {
    for (let at = base; at < base + length; at += 16) {
      const spec = guest.u8(at + 9);
      if (guest.text(at, 4) === "_MP_" && guest.u8(at + 8) === 1 && guest.sum(at, 16) === 0 && (spec === 1 || spec === 4)) return at;
    }
  }
  return undefined;
}

/** ACPICA's acpi_find_root_pointer without an EBDA: 16-byte steps through 0xE0000-0xFFFFF. */
function findRsdp(guest: Guest): number | undefined {
  for (let at = 0xe0000; at < 0x100000; at += 16) {
    if (guest.text(at, 8) === "RSD PTR " && guest.sum(at, 20) === 0) return at;
  }
  return undefined;
}

interface MpEntry { type: number; at: number }

function mpEntries(guest: Guest, table: number): MpEntry[] {
  const sizes: Record<number, number> = { 0: 20, 1: 8, 2: 8, 3: 8, 4: 8 };
  const entries: MpEntry[] = [];
  for (let at = table + 44; at < table + guest.u16(table + 4); at += sizes[guest.u8(at)]) {
    assert.ok(guest.u8(at) in sizes, `unknown MP entry type ${guest.u8(at)}`);
    entries.push({ type: guest.u8(at), at });
  }
  assert.equal(entries.length, guest.u16(table + 34), "entry count");
  return entries;
}

function checkMpTable(guest: Guest, tables: FirmwareTables, cpus: number): MpEntry[] {
  const floating = findMpFloatingPointer(guest);
  assert.equal(floating, tables.mpFloatingPointer);
  assert.equal(floating, FIRMWARE_TABLES_BASE);
  // Floating pointer (MP spec 4.1, table 4-1).
  const table = guest.u32(floating + 4);
  assert.equal(table, tables.mpConfigTable);
  assert.equal(guest.u8(floating + 9), 4, "spec revision 1.4");
  assert.equal(guest.u8(floating + 11), 0, "feature byte 1: a configuration table follows");
  assert.equal(guest.u8(floating + 12) & 0x80, 0, "no IMCR: virtual wire mode");
  // Configuration table header (4.2, table 4-2).
  assert.equal(guest.text(table, 4), "PCMP");
  const length = guest.u16(table + 4);
  assert.equal(guest.sum(table, length), 0, "base table checksum");
  assert.equal(guest.u8(table + 6), 4);
  assert.equal(guest.text(table + 8, 8), "WEBVM   ");
  assert.equal(guest.text(table + 16, 12), "WEBVM X86 PC");
  assert.equal(guest.u32(table + 28), 0, "no OEM table");
  assert.equal(guest.u32(table + 36), 0xfee00000, "local APIC address");
  assert.equal(guest.u16(table + 40), 0, "no extended table");
  const entries = mpEntries(guest, table);
  assert.deepEqual(entries.map((e) => e.type), [...entries.map((e) => e.type)].sort((a, b) => a - b), "entries sorted by type (4.2)");

  // Processor entries (4.3.1, table 4-4).
  const processors = entries.filter((e) => e.type === 0);
  assert.equal(processors.length, cpus);
  processors.forEach(({ at }, i) => {
    assert.equal(guest.u8(at + 1), i, "APIC ID");
    assert.equal(guest.u8(at + 2), 0x14, "local APIC version");
    assert.equal(guest.u8(at + 3), i === 0 ? 0b11 : 0b01, "enabled; bootstrap only on CPU 0");
    assert.equal(guest.u32(at + 4), 0x633, "family 6 model 3 stepping 3");
    assert.equal(guest.u32(at + 8) & 0x201, 0x201, "FPU and APIC features");
  });
  // Buses (4.3.2): PCI bus 0 is MP bus 0, ISA is bus 1.
  const buses = entries.filter((e) => e.type === 1).map(({ at }) => [guest.u8(at + 1), guest.text(at + 2, 6)]);
  assert.deepEqual(buses, [[0, "PCI   "], [1, "ISA   "]]);
  // IOAPIC (4.3.3).
  const ioapics = entries.filter((e) => e.type === 2);
  assert.equal(ioapics.length, 1);
  const ioapic = ioapics[0].at;
  assert.deepEqual([guest.u8(ioapic + 1), guest.u8(ioapic + 2), guest.u8(ioapic + 3), guest.u32(ioapic + 4)], [cpus, 0x11, 1, 0xfec00000]);
  // ISA I/O interrupt assignments (4.3.4): IRQ0 -> pin 2, no IRQ2, others identity, conforming.
  const isa = entries.filter((e) => e.type === 3 && guest.u8(e.at + 4) === 1).map(({ at }) =>
    [guest.u8(at + 1), guest.u16(at + 2), guest.u8(at + 5), guest.u8(at + 6), guest.u8(at + 7)]);
  const expected = [0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map((irq) => [0, 0, irq, cpus, irq === 0 ? 2 : irq]);
  assert.deepEqual(isa, expected);
  // Local interrupt assignments (4.3.5): ExtINT on LINT0 and NMI on LINT1 of every local APIC.
  const locals = entries.filter((e) => e.type === 4).map(({ at }) => [guest.u8(at + 1), guest.u16(at + 2), guest.u8(at + 6), guest.u8(at + 7)]);
  assert.deepEqual(locals, [[3, 0, 0xff, 0], [1, 0, 0xff, 1]]);
  return entries;
}

test("one CPU, MP table only: Linux's scan finds a complete MP 1.4 table and no RSDP", () => {
  const { guest, tables } = boot(config(1));
  checkMpTable(guest, tables, 1);
  assert.equal(tables.rsdp, undefined);
  assert.equal(findRsdp(guest), undefined);
  assert.equal(tables.start, FIRMWARE_TABLES_BASE);
  assert.ok(tables.end <= 0x100000 && tables.end > tables.mpConfigTable);
  assert.ok(guest.ram.subarray(0, tables.start).every((b) => b === 0), "nothing below the tables");
  assert.ok(guest.ram.subarray(tables.end).every((b) => b === 0), "nothing above the tables");
});

test("several CPUs: one processor entry each, APIC IDs 0..n-1, the IOAPIC after them", () => {
  for (const cpus of [2, 4, 32]) {
    const { guest, tables } = boot(config(cpus));
    checkMpTable(guest, tables, cpus);
  }
});

test("PCI interrupt lines are level-triggered, active-low entries on PCI bus 0", () => {
  const { guest, tables } = boot(config(2, {
    pciInterrupts: [{ device: 1, pin: "A", ioapicPin: 16 }, { device: 3, pin: "D", ioapicPin: 23 }],
  }));
  const entries = checkMpTable(guest, tables, 2);
  const pci = entries.filter((e) => e.type === 3 && guest.u8(e.at + 4) === 0).map(({ at }) =>
    [guest.u8(at + 1), guest.u16(at + 2), guest.u8(at + 5), guest.u8(at + 6), guest.u8(at + 7)]);
  // Source bus IRQ: device number in bits 6:2, INTA#..INTD# as 0..3 in bits 1:0 (MP spec D.3).
  assert.deepEqual(pci, [[0, 0x0f, (1 << 2) | 0, 2, 16], [0, 0x0f, (3 << 2) | 3, 2, 23]]);
});

interface AcpiTable { signature: string; at: number; length: number }

function acpiTable(guest: Guest, at: number): AcpiTable {
  const length = guest.u32(at + 4);
  assert.equal(guest.sum(at, length), 0, `${guest.text(at, 4)} checksum`);
  assert.equal(guest.text(at + 10, 6), "WEBVM ");
  assert.equal(guest.text(at + 16, 8), "WEBVMPC ");
  return { signature: guest.text(at, 4), at, length };
}

function checkAcpi(guest: Guest, tables: FirmwareTables, cpus: number, acpi = ACPI): Map<string, AcpiTable> {
  // RSDP 1.0 (5.2.5.3): found by the scan, 16-byte aligned, checksum over 20 bytes.
  const rsdp = findRsdp(guest);
  assert.equal(rsdp, tables.rsdp);
  assert.equal(guest.u8(rsdp! + 15), 0, "revision 0: RSDT only");
  assert.equal(guest.text(rsdp! + 9, 6), "WEBVM ");
  const rsdt = acpiTable(guest, guest.u32(rsdp! + 16));
  assert.equal(rsdt.signature, "RSDT");
  assert.equal(rsdt.length, 36 + 8);
  const found = new Map<string, AcpiTable>();
  for (let i = 0; i < 2; i++) {
    const table = acpiTable(guest, guest.u32(rsdt.at + 36 + 4 * i));
    found.set(table.signature, table);
  }
  assert.deepEqual([...found.keys()].sort(), ["APIC", "FACP"]);

  // FADT revision 3 (5.2.9, table 5.9).
  const fadt = found.get("FACP")!;
  assert.equal(fadt.length, 244);
  assert.equal(guest.u8(fadt.at + 8), 3);
  const facs = guest.u32(fadt.at + 36);
  assert.equal(facs % 64, 0, "FACS 64-byte aligned");
  assert.equal(guest.text(facs, 4), "FACS");
  assert.equal(guest.u32(facs + 4), 64);
  assert.equal(guest.u8(facs + 32), 1, "FACS version");
  const dsdt = acpiTable(guest, guest.u32(fadt.at + 40));
  assert.equal(dsdt.signature, "DSDT");
  found.set("DSDT", dsdt);
  const f = (offset: number, size: 1 | 2 | 4): number => (size === 1 ? guest.u8 : size === 2 ? guest.u16 : guest.u32)(fadt.at + offset);
  assert.equal(f(46, 2), 9, "SCI_INT");
  assert.equal(f(48, 4), 0, "no SMI_CMD: always in ACPI mode");
  assert.equal(f(56, 4), 0x600, "PM1a_EVT_BLK");
  assert.equal(f(64, 4), 0x604, "PM1a_CNT_BLK");
  assert.equal(f(76, 4), 0x608, "PM_TMR_BLK");
  assert.deepEqual([f(60, 4), f(68, 4), f(72, 4), f(80, 4), f(84, 4)], [0, 0, 0, 0, 0], "no PM1b, PM2 or GPE blocks");
  assert.deepEqual([f(88, 1), f(89, 1), f(90, 1), f(91, 1), f(92, 1), f(93, 1)], [4, 2, 0, 4, 0, 0], "block lengths");
  assert.deepEqual([f(96, 2), f(98, 2)], [101, 1001], "C2 and C3 unsupported");
  assert.equal(f(108, 1), acpi.rtcCentury ?? 0, "CENTURY");
  assert.equal(f(109, 2), 0b11, "IAPC_BOOT_ARCH: legacy devices and an 8042");
  const timerAndReset = (acpi.pmTimer32 ? 1 << 8 : 0) | (acpi.reset ? 1 << 10 : 0);
  assert.equal(f(112, 4), 0b1100101 | timerAndReset, "WBINVD, PROC_C1, SLP_BUTTON, FIX_RTC, TMR_VAL_EXT, RESET_REG_SUP; fixed power button; not HW_REDUCED_ACPI (bit 20)");
  if (acpi.reset) {
    // RESET_REG, a Generic Address Structure (5.2.3.2): system I/O, 8 bits at bit 0, byte access.
    assert.deepEqual([f(116, 1), f(117, 1), f(118, 1), f(119, 1), f(120, 4), f(124, 4), f(128, 1)], [1, 8, 0, 1, acpi.reset.port, 0, acpi.reset.value]);
  } else {
    assert.ok(guest.ram.subarray(fadt.at + 116, fadt.at + 129).every((b) => b === 0), "no reset register");
  }
  assert.ok(guest.ram.subarray(fadt.at + 129, fadt.at + 244).every((b) => b === 0), "X_ fields zero");

  // MADT (5.2.12).
  const madt = found.get("APIC")!;
  assert.equal(guest.u32(madt.at + 36), 0xfee00000);
  assert.equal(guest.u32(madt.at + 40), 1, "PCAT_COMPAT");
  const entries: number[][] = [];
  for (let at = madt.at + 44; at < madt.at + madt.length; at += guest.u8(at + 1)) {
    const type = guest.u8(at);
    const length = guest.u8(at + 1);
    if (type === 0) entries.push([type, length, guest.u8(at + 2), guest.u8(at + 3), guest.u32(at + 4)]);
    else if (type === 1) entries.push([type, length, guest.u8(at + 2), guest.u32(at + 4), guest.u32(at + 8)]);
    else if (type === 2) entries.push([type, length, guest.u8(at + 2), guest.u8(at + 3), guest.u32(at + 4), guest.u16(at + 8)]);
    else if (type === 4) entries.push([type, length, guest.u8(at + 2), guest.u16(at + 3), guest.u8(at + 5)]);
    else assert.fail(`unexpected MADT entry type ${type}`);
  }
  assert.deepEqual(entries, [
    ...Array.from({ length: cpus }, (_, i) => [0, 8, i, i, 1]),
    [1, 12, cpus, 0xfec00000, 0],
    [2, 10, 0, 0, 2, 0],
    [2, 10, 0, 9, 9, 0x0d],
    [4, 6, 0xff, 0, 1],
  ]);
  return found;
}

test("ACPI: the RSDP scan finds RSDT, FADT, FACS, DSDT and a MADT describing every CPU", () => {
  for (const cpus of [1, 3, 32]) {
    const { guest, tables } = boot(config(cpus, { acpi: ACPI, pciInterrupts: [{ device: 1, pin: "A", ioapicPin: 16 }] }));
    checkMpTable(guest, tables, cpus);
    checkAcpi(guest, tables, cpus);
    assert.ok(tables.end - tables.start < 0x1000, "everything fits one page");
  }
  const { pmTimer32: _, reset: __, rtcCentury: ___, ...bare } = ACPI;
  const { guest, tables } = boot(config(1, { acpi: { ...bare, pmTimer32: false } }));
  checkAcpi(guest, tables, 1, { ...bare, pmTimer32: false });
});

test("the DSDT holds \\_S5 and the PCI host bridge with its windows and routing", () => {
  const { guest, tables } = boot(config(1, { acpi: ACPI, pciInterrupts: [{ device: 2, pin: "B", ioapicPin: 17 }] }));
  const dsdt = checkAcpi(guest, tables, 1).get("DSDT")!;
  assert.equal(guest.u8(dsdt.at + 8), 2, "revision 2: 64-bit AML integers");
  const aml = [...guest.ram.subarray(dsdt.at + 36, dsdt.at + dsdt.length)];
  const contains = (bytes: number[]): boolean => aml.some((_, i) => bytes.every((b, j) => aml[i + j] === b));
  assert.ok(contains([0x08, ...nameString("_S5"), 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00]), "Name(_S5, Package(4){5, 5, 0, 0})");
  assert.ok(contains([0x08, ...nameString("_HID"), 0x0c, 0x41, 0xd0, 0x0a, 0x03]), "_HID PNP0A03");
  assert.ok(contains([0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08]), "IO(Decode16, 0xCF8, 0xCF8, 1, 8)");
  assert.ok(contains([0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xbf, 0xfe]), "DWordMemory 0xC0000000-0xFEBFFFFF");
  assert.ok(contains([0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff, 0x02, 0x00, 0x01, 0x00, 0x0a, 0x11]), "_PRT entry {0x0002FFFF, 1, 0, 17}");
});

test("AML encodings: PkgLength, integers, names, EISA IDs", () => {
  assert.deepEqual(pkgLength(0), [1]);
  assert.deepEqual(pkgLength(62), [63]);
  assert.deepEqual(pkgLength(63), [0x40 | ((63 + 2) & 0xf), (63 + 2) >> 4]);
  assert.deepEqual(pkgLength(0x1000), [0x80 | ((0x1003) & 0xf), (0x1003 >> 4) & 0xff, 0x1003 >> 12]);
  assert.deepEqual([integer(0), integer(1), integer(0x10), integer(0x1234), integer(0xfec00000)],
    [[0], [1], [0x0a, 0x10], [0x0b, 0x34, 0x12], [0x0c, 0x00, 0x00, 0xc0, 0xfe]]);
  assert.deepEqual(nameString("\\_SB"), [0x5c, 0x5f, 0x53, 0x42, 0x5f]);
  assert.deepEqual(nameString("\\_SB.PCI0"), [0x5c, 0x2e, 0x5f, 0x53, 0x42, 0x5f, 0x50, 0x43, 0x49, 0x30]);
  assert.deepEqual(eisaId("PNP0A03"), [0x0c, 0x41, 0xd0, 0x0a, 0x03]);
  assert.throws(() => nameString("pci0"), /name segment/);
  assert.throws(() => integer(-1), /32-bit/);
});

test("a PIC-only platform gets no tables at all", () => {
  const ram = new Uint8Array(2 * MiB);
  assert.equal(writeFirmwareTables(ram, config(1, { interruptControllers: "pic-only", acpi: ACPI })), null);
  assert.ok(ram.every((b) => b === 0));
});

test("bad configurations are refused with the setting named, before anything is written", () => {
  const refused = (cfg: FirmwareConfig, why: RegExp, ramBytes = 2 * MiB): void => {
    const ram = new Uint8Array(ramBytes);
    assert.throws(() => writeFirmwareTables(ram, cfg), (error: unknown) => {
      assert.ok(error instanceof FirmwareConfigError);
      assert.match(error.message, why);
      return true;
    });
    assert.ok(ram.every((b) => b === 0), "RAM untouched");
  };
  refused(config(0), /cpus must be 1\.\.32, got 0/);
  refused(config(33), /cpus must be 1\.\.32, got 33/);
  refused(config(1.5), /cpus/);
  refused(config(2, { interruptControllers: "x2apic" as "apic" }), /interruptControllers/);
  refused(config(4, { ioapic: { id: 3, address: gpa(0xfec00000), pins: 24 } }), /ioapic\.id 3 collides/);
  refused(config(1, { ioapic: { id: 0xff, address: gpa(0xfec00000), pins: 24 } }), /ioapic\.id must be 0\.\.254/);
  refused(config(1, { ioapic: { id: 1, address: gpa(0xfec00000), pins: 8 } }), /ioapic\.pins must be 16\.\.240/);
  refused(config(1, { ioapic: { id: 1, address: gpa(0xfec00800), pins: 24 } }), /ioapic\.address must be a 4 KiB-aligned/);
  refused(config(1, { lapicAddress: gpa(0xe0000) }), /lapicAddress/);
  refused(config(1, { lapicVersion: 0x100 }), /lapicVersion must be a byte/);
  refused(config(1, { pciInterrupts: [{ device: 32, pin: "A", ioapicPin: 16 }] }), /pciInterrupts\[0\]: device must be 0\.\.31/);
  refused(config(1, { pciInterrupts: [{ device: 1, pin: "E" as "A", ioapicPin: 16 }] }), /pin must be A, B, C or D/);
  refused(config(1, { pciInterrupts: [{ device: 1, pin: "A", ioapicPin: 11 }] }), /ioapicPin must be 16\.\.23/);
  refused(config(1, { pciInterrupts: [{ device: 1, pin: "A", ioapicPin: 16 }, { device: 1, pin: "A", ioapicPin: 17 }] }), /pciInterrupts\[1\]: device 1 INTA# is routed twice/);
  refused(config(1, { acpi: { ...ACPI, sciIrq: 2 } }), /acpi\.sciIrq/);
  refused(config(1, { acpi: { ...ACPI, pm1aControlBlock: port(0x602) } }), /pm1aEventBlock and acpi\.pm1aControlBlock overlap/);
  refused(config(1, { acpi: { ...ACPI, pmTimerBlock: port(0x605) } }), /pm1aControlBlock and acpi\.pmTimerBlock overlap/);
  refused(config(1, { acpi: { ...ACPI, softOffSleepType: 8 } }), /acpi\.softOffSleepType/);
  refused(config(1, { acpi: { ...ACPI, reset: { port: port(0xcf9), value: 0x100 } } }), /acpi\.reset\.value must be a byte/);
  refused(config(1, { acpi: { ...ACPI, rtcCentury: 0x09 } }), /acpi\.rtcCentury/);
  refused(config(1, { acpi: { ...ACPI, pm1aEventBlock: port(0xfffe) } }), /acpi\.pm1aEventBlock/);
  refused(config(1, { acpi: { ...ACPI, pciMemoryWindow: { base: gpa(0xf0000000), size: 0x10000000 } } }), /covers lapicAddress|covers ioapic\.address/);
  refused(config(1, { acpi: { ...ACPI, pciMemoryWindow: { base: gpa(0xc0000000), size: 0 } } }), /pciMemoryWindow/);
  refused(config(1), /guest RAM of 983040 bytes ends below the tables' end/, 0xf0000);
  refused(config(32, { acpi: ACPI }), /guest RAM of 983296 bytes/, 0xf0100);
});

// A second opinion from ACPICA itself, when its tools are on the machine (Debian: acpica-tools;
// IASL and ACPIEXEC may point at the binaries). Not installed by the project: skipped otherwise.
const iasl = process.env.IASL ?? "iasl";
const acpiexec = process.env.ACPIEXEC ?? "acpiexec";
const runs = (tool: string): boolean => {
  try {
    execFileSync(tool, ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

test("ACPICA disassembles every table and loads the namespace without a complaint", { skip: runs(iasl) && runs(acpiexec) ? false : "acpica-tools (iasl, acpiexec) not installed" }, () => {
  const { guest, tables } = boot(config(4, { acpi: ACPI, pciInterrupts: [{ device: 1, pin: "A", ioapicPin: 16 }, { device: 2, pin: "C", ioapicPin: 18 }] }));
  const found = checkAcpi(guest, tables, 4);
  const dir = mkdtempSync(join(tmpdir(), "acpi-"));
  try {
    const files = new Map<string, string>();
    for (const [signature, table] of found) {
      const file = join(dir, `${signature.toLowerCase()}.dat`);
      writeFileSync(file, guest.ram.subarray(table.at, table.at + table.length));
      files.set(signature, file);
    }
    for (const [signature, file] of files) {
      const log = execFileSync(iasl, ["-d", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      assert.doesNotMatch(log, /error|warning/i, `${signature}: ${log}`);
      const source = readFileSync(file.replace(/\.dat$/, ".dsl"), "utf8");
      assert.doesNotMatch(source, /Incorrect|Invalid|Unknown/i, `${signature} disassembly flags a field`);
    }
    const madt = readFileSync(join(dir, "apic.dsl"), "utf8");
    assert.equal(madt.match(/\[Processor Local APIC\]/g)?.length, 4);
    assert.match(madt, /Interrupt Source Override[\s\S]*Source : 00\s+\[[^\]]+\]\s+Interrupt : 00000002/);
    const output = execFileSync(acpiexec, ["-b", "evaluate \\_SB.PCI0._CRS; evaluate \\_SB.PCI0._PRT; evaluate \\_S5", files.get("FACP")!, files.get("DSDT")!, files.get("APIC")!], { encoding: "utf8", timeout: 30_000 });
    // acpiexec's own self-tests need GPE blocks this machine does not have; they
    // report "Unexpected ... from AcpiEnableGpe" and the like, which say nothing about the tables.
    const complaints = output.split("\n").filter((line) => /error|warning|firmware/i.test(line) && !/^Unexpected AE_\w+ from Acpi\w+ \(aetests/.test(line));
    assert.deepEqual(complaints, []);
    assert.match(output, /Evaluation of \\_SB\.PCI0\._PRT returned[\s\S]*Contains 2 Elements/);
    assert.match(output, /000000000002FFFF\s+\[Integer\] = 0000000000000002\s+\[Integer\] = 0000000000000000\s+\[Integer\] = 0000000000000012/);
    assert.match(output, /Evaluation of \\_S5 returned/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
