// Unit tests of the I/O APIC against the 82093AA datasheet's registers and redirection semantics.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DELIVERY_LOWEST_PRIORITY, DELIVERY_NMI, Ioapic, IOAPIC_EOI, IOAPIC_REGSEL, IOAPIC_WINDOW, REDIR_ACTIVE_LOW,
  REDIR_DEST_LOGICAL, REDIR_LEVEL, REDIR_MASKED, REDIR_REMOTE_IRR, type InterruptMessage,
} from "../workers/devices/ioapic";

function wiredIoapic(): { ioapic: Ioapic; sent: InterruptMessage[] } {
  const sent: InterruptMessage[] = [];
  return { ioapic: new Ioapic({ deliver: (message) => sent.push(message) }, 2), sent };
}

const readReg = (ioapic: Ioapic, index: number): number => {
  ioapic.write(IOAPIC_REGSEL, 4, index);
  return ioapic.read(IOAPIC_WINDOW, 4);
};
const writeReg = (ioapic: Ioapic, index: number, value: number): void => {
  ioapic.write(IOAPIC_REGSEL, 4, index);
  ioapic.write(IOAPIC_WINDOW, 4, value);
};
/** Programs pin `pin`'s redirection entry: high dword first, as Linux's ioapic_write_entry does. */
const route = (ioapic: Ioapic, pin: number, low: number, destination = 0): void => {
  writeReg(ioapic, 0x11 + 2 * pin, destination << 24);
  writeReg(ioapic, 0x10 + 2 * pin, low);
};

describe("I/O APIC registers", () => {
  it("reports its ID, version 0x20 with 24 entries, and arbitration ID", () => {
    const { ioapic } = wiredIoapic();
    assert.equal(readReg(ioapic, 0), 2 << 24);
    assert.equal(readReg(ioapic, 1), 0x00170020);
    writeReg(ioapic, 0, 0xffffffff);
    assert.equal(readReg(ioapic, 0), 0x0f000000, "only bits 27-24 are the ID");
    assert.equal(readReg(ioapic, 2), 0x0f000000);
  });

  it("resets every entry masked and keeps only the writable bits", () => {
    const { ioapic } = wiredIoapic();
    assert.equal(readReg(ioapic, 0x10), REDIR_MASKED);
    assert.equal(readReg(ioapic, 0x10 + 2 * 23), REDIR_MASKED);
    writeReg(ioapic, 0x12, 0xffffffff);
    writeReg(ioapic, 0x13, 0xffffffff);
    assert.equal(readReg(ioapic, 0x12), 0x1afff, "delivery status and remote IRR are read-only; bits 17-31 reserved");
    assert.equal(readReg(ioapic, 0x13), 0xff000000);
  });

  it("reads IOREGSEL back, and all ones for registers past the table and for non-dword accesses", () => {
    const { ioapic } = wiredIoapic();
    ioapic.write(IOAPIC_REGSEL, 4, 0x3f);
    assert.equal(ioapic.read(IOAPIC_REGSEL, 4), 0x3f);
    assert.equal(ioapic.read(IOAPIC_WINDOW, 4), 0, "entry 23 high dword");
    assert.equal(readReg(ioapic, 0x40), 0xffffffff);
    assert.equal(ioapic.read(IOAPIC_WINDOW, 2), 0xffff);
    ioapic.write(IOAPIC_REGSEL, 1, 0x10);
    assert.equal(ioapic.read(IOAPIC_REGSEL, 4), 0x40, "byte write ignored");
  });
});

describe("I/O APIC delivery", () => {
  it("sends one message per rising edge of an unmasked edge pin", () => {
    const { ioapic, sent } = wiredIoapic();
    route(ioapic, 2, 0x30, 1);
    ioapic.setPin(2, true);
    ioapic.setPin(2, true);
    ioapic.setPin(2, false);
    ioapic.setPin(2, true);
    assert.deepEqual(sent, [
      { destination: 1, destMode: "physical", deliveryMode: 0, vector: 0x30, trigger: "edge" },
      { destination: 1, destMode: "physical", deliveryMode: 0, vector: 0x30, trigger: "edge" },
    ]);
  });

  it("loses an edge on a masked pin", () => {
    const { ioapic, sent } = wiredIoapic();
    route(ioapic, 4, REDIR_MASKED | 0x34);
    ioapic.setPin(4, true);
    route(ioapic, 4, 0x34);
    assert.deepEqual(sent, []);
  });

  it("carries logical destinations and the delivery mode", () => {
    const { ioapic, sent } = wiredIoapic();
    route(ioapic, 9, REDIR_DEST_LOGICAL | (DELIVERY_LOWEST_PRIORITY << 8) | 0x41, 0x0f);
    route(ioapic, 10, (DELIVERY_NMI << 8) | REDIR_ACTIVE_LOW);
    ioapic.setPin(9, true);
    ioapic.setPin(10, true);
    assert.deepEqual(sent, [
      { destination: 0x0f, destMode: "logical", deliveryMode: 1, vector: 0x41, trigger: "edge" },
      { destination: 0, destMode: "physical", deliveryMode: 4, vector: 0, trigger: "edge" },
    ]);
  });

  it("sends nothing for the reserved delivery modes 3 and 6", () => {
    const { ioapic, sent } = wiredIoapic();
    route(ioapic, 5, (3 << 8) | 0x50);
    route(ioapic, 6, (6 << 8) | REDIR_LEVEL | 0x51);
    ioapic.setPin(5, true);
    ioapic.setPin(6, true);
    assert.deepEqual(sent, []);
  });

  it("holds a level pin in remote IRR until the EOI, then re-sends while it stays asserted", () => {
    const { ioapic, sent } = wiredIoapic();
    route(ioapic, 11, REDIR_LEVEL | 0x61);
    ioapic.setPin(11, true);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].trigger, "level");
    assert.equal(readReg(ioapic, 0x10 + 22) & REDIR_REMOTE_IRR, REDIR_REMOTE_IRR);
    ioapic.setPin(11, true);
    assert.equal(sent.length, 1, "no new message while remote IRR is set");
    ioapic.eoi(0x61);
    assert.equal(sent.length, 2, "still asserted: sent again");
    ioapic.setPin(11, false);
    ioapic.write(IOAPIC_EOI, 4, 0x61); // the EOI register
    assert.equal(readReg(ioapic, 0x10 + 22) & REDIR_REMOTE_IRR, 0);
    assert.equal(sent.length, 2);
  });

  it("ignores an EOI for another vector", () => {
    const { ioapic, sent } = wiredIoapic();
    route(ioapic, 16, REDIR_LEVEL | 0x70);
    ioapic.setPin(16, true);
    ioapic.eoi(0x71);
    assert.equal(sent.length, 1);
    assert.equal(readReg(ioapic, 0x10 + 32) & REDIR_REMOTE_IRR, REDIR_REMOTE_IRR);
  });

  it("sends an asserted level pin when it is unmasked", () => {
    const { ioapic, sent } = wiredIoapic();
    route(ioapic, 20, REDIR_MASKED | REDIR_LEVEL | 0x80);
    ioapic.setPin(20, true);
    assert.equal(sent.length, 0);
    route(ioapic, 20, REDIR_LEVEL | 0x80);
    assert.equal(sent.length, 1);
  });

  it("clears remote IRR when the entry is switched to edge (the pre-0x20 EOI workaround)", () => {
    const { ioapic } = wiredIoapic();
    route(ioapic, 3, REDIR_LEVEL | 0x33);
    ioapic.setPin(3, true);
    route(ioapic, 3, REDIR_MASKED | 0x33);
    assert.equal(readReg(ioapic, 0x16) & REDIR_REMOTE_IRR, 0);
  });

  it("refuses pins outside 0-23 (a board bug)", () => {
    const { ioapic } = wiredIoapic();
    assert.throws(() => ioapic.setPin(24, true), RangeError);
  });
});
