// Unit tests of configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2) and the
// 440FX host bridge, including Linux's pci_check_type1 probe.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PCI_COMMAND, PCI_STATUS, PciConfigSpace, PciHost } from "../workers/devices/pci-host";

const ADDRESS = 0; // 0xCF8
const DATA = 4; // 0xCFC

const select = (pci: PciHost, device: number, fn: number, register: number, bus = 0): void =>
  pci.write(ADDRESS, 4, 0x80000000 | (bus << 16) | (device << 11) | (fn << 8) | register);

describe("configuration mechanism #1", () => {
  it("passes Linux's pci_check_type1: CONFIG_ADDRESS reads back 0x80000000", () => {
    const pci = new PciHost();
    pci.write(3, 1, 0x01); // outb(0x01, 0xCFB): not a configuration cycle
    pci.write(ADDRESS, 4, 0x80000000);
    assert.equal(pci.read(ADDRESS, 4), 0x80000000);
    assert.equal(pci.read(ADDRESS, 2), 0xffff, "word reads of 0xCF8 are not CONFIG_ADDRESS");
  });

  it("keeps the defined bits of CONFIG_ADDRESS", () => {
    const pci = new PciHost();
    pci.write(ADDRESS, 4, 0xffffffff);
    assert.equal(pci.read(ADDRESS, 4), 0x80fffffc);
  });

  it("reads the 440FX host bridge's identity at 00:00.0", () => {
    const pci = new PciHost();
    select(pci, 0, 0, 0x00);
    assert.equal(pci.read(DATA, 4), 0x12378086);
    select(pci, 0, 0, 0x08);
    assert.equal(pci.read(DATA, 4), 0x06000002, "class 06 00 00, revision 2");
    select(pci, 0, 0, 0x0c);
    assert.equal(pci.read(DATA + 2, 1), 0x00, "header type 0");
  });

  it("serves byte and word accesses at any offset in the dword", () => {
    const pci = new PciHost();
    select(pci, 0, 0, 0x00);
    assert.equal(pci.read(DATA + 1, 1), 0x80);
    assert.equal(pci.read(DATA + 2, 2), 0x1237);
    assert.equal(pci.read(DATA + 1, 2), 0x3780);
  });

  it("reads all ones for absent functions, other buses and with the enable bit clear", () => {
    const pci = new PciHost();
    select(pci, 1, 0, 0);
    assert.equal(pci.read(DATA, 4), 0xffffffff);
    select(pci, 0, 1, 0);
    assert.equal(pci.read(DATA, 2), 0xffff);
    select(pci, 0, 0, 0, 1);
    assert.equal(pci.read(DATA, 4), 0xffffffff);
    pci.write(ADDRESS, 4, 0);
    assert.equal(pci.read(DATA, 1), 0xff);
    pci.write(DATA, 4, 0); // goes nowhere
  });

  it("writes only writable bits and clears write-one-to-clear status bits", () => {
    const pci = new PciHost();
    select(pci, 0, 0, 0x00);
    pci.write(DATA, 4, 0); // the ID is read-only
    assert.equal(pci.read(DATA, 4), 0x12378086);
    select(pci, 0, 0, 0x58);
    pci.write(DATA + 1, 1, 0xff); // PAM0
    pci.write(DATA + 2, 2, 0xffff); // PAM1-2
    assert.equal(pci.read(DATA, 4), 0x33333000);
  });
});

describe("adding functions", () => {
  it("serves a function added by the board, with its masks", () => {
    const pci = new PciHost();
    const device = new PciConfigSpace({ vendorId: 0x1af4, deviceId: 0x1001, revision: 0, classCode: 0x010000, headerType: 0 });
    device.allowWrite(PCI_COMMAND, 2, 0x0007);
    device.set(PCI_STATUS, 2, 0x8010);
    device.allowWriteOneToClear(PCI_STATUS, 2, 0x8000);
    pci.addFunction(3, 0, device);
    select(pci, 3, 0, 0x04);
    pci.write(DATA, 4, 0x8000ffff);
    assert.equal(pci.read(DATA, 4), 0x00100007, "command takes bits 0-2; status bit 15 cleared, bit 4 kept");
    assert.equal(device.get(PCI_COMMAND, 2), 7);
  });

  it("refuses a taken slot or an impossible one (board bugs)", () => {
    const pci = new PciHost();
    const space = new PciConfigSpace({ vendorId: 1, deviceId: 2, revision: 0, classCode: 0, headerType: 0 });
    assert.throws(() => pci.addFunction(0, 0, space), RangeError);
    assert.throws(() => pci.addFunction(32, 0, space), RangeError);
    assert.throws(() => space.set(255, 2, 0), RangeError);
  });
});
