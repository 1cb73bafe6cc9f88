// Unit tests of the chipset dispatcher: the port decode, byte splitting, ISA interrupt routing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Chipset, CHIPSET_PORT_RANGES, chipsetRegions, ChipsetTag, IOAPIC_GPA } from "../workers/devices/chipset";
import type { InterruptMessage } from "../workers/devices/ioapic";
import { PIT_HZ } from "../workers/devices/pit-8254";

function wiredChipset() {
  const clock = { ns: 0, now(): number { return this.ns; } };
  const ints: boolean[] = [];
  const messages: InterruptMessage[] = [];
  const fates: string[] = [];
  const chipset = new Chipset(clock, { rtc: { wallClockMs: 0, ramBelow4G: 64 << 20, ramAbove4G: 0 }, ioapicId: 0 }, {
    setPicInterrupt: (level) => ints.push(level),
    deliver: (message) => messages.push(message),
    setA20: () => undefined,
    reset: () => fates.push("reset"),
    powerOff: () => fates.push("power-off"),
    panic: () => fates.push("panic"),
  });
  return { chipset, clock, ints, messages, fates };
}

describe("chipset decode", () => {
  it("lists every port range and the I/O APIC page as posted regions of one socket", () => {
    const regions = chipsetRegions(3);
    assert.ok(regions.every((r) => r.socket === 3 && r.posted));
    assert.deepEqual(regions.at(-1), { kind: "mmio", gpa: IOAPIC_GPA, size: 0x1000, socket: 3, tag: ChipsetTag.Ioapic, posted: true });
  });

  it("splits a word access to byte devices into consecutive ports (outw 0x20 writes 0x20 and 0x21)", () => {
    const { chipset } = wiredChipset();
    chipset.write(ChipsetTag.PicMaster, 0, 2, 0xa5_0a); // OCW3 "read IRR" to 0x20, IMR 0xA5 to 0x21
    assert.equal(chipset.read(ChipsetTag.PicMaster, 1, 1), 0xa5);
    assert.equal(chipset.read(ChipsetTag.PicMaster, 0, 2), 0xa5_00);
    assert.equal(chipset.read(ChipsetTag.PicMaster, 1, 2), 0xff_a5, "the byte past the range floats");
  });

  it("takes a byte at 0xCF9 as the reset control register, a dword at 0xCF8 as CONFIG_ADDRESS", () => {
    const { chipset, fates } = wiredChipset();
    chipset.write(ChipsetTag.PciConfig, 0, 4, 0x80000000);
    chipset.write(ChipsetTag.PciConfig, 1, 1, 0x02);
    assert.equal(chipset.read(ChipsetTag.PciConfig, 0, 4), 0x80000000, "CONFIG_ADDRESS unchanged");
    assert.equal(chipset.read(ChipsetTag.PciConfig, 1, 1), 0x02);
    assert.deepEqual(fates, []);
    chipset.write(ChipsetTag.PciConfig, 1, 1, 0x06);
    assert.deepEqual(fates, ["reset"]);
  });

  it("pvpanic at 0x505: reads report PVPANIC_PANICKED, a write of that bit is a panic, others nothing", () => {
    const { chipset, fates } = wiredChipset();
    assert.ok(CHIPSET_PORT_RANGES.some((range) => range.port === 0x505 && range.tag === ChipsetTag.PvPanic));
    assert.equal(chipset.read(ChipsetTag.PvPanic, 0, 1), 0x01);
    chipset.write(ChipsetTag.PvPanic, 0, 1, 0x02);
    assert.deepEqual(fates, []);
    chipset.write(ChipsetTag.PvPanic, 0, 1, 0x01);
    assert.deepEqual(fates, ["panic"]);
  });

  it("decodes the ACPI PM blocks where the FADT names them, and powers off on SLP_EN with SLP_TYP 5", () => {
    const { chipset, clock, fates } = wiredChipset();
    assert.deepEqual(CHIPSET_PORT_RANGES.filter((r) => r.tag >= ChipsetTag.Pm1aEvent && r.tag <= ChipsetTag.PmTimer).map(({ port, size }) => [port, size]), [[0x600, 4], [0x604, 2], [0x608, 4]]);
    clock.ns = 1e9;
    assert.equal(chipset.read(ChipsetTag.PmTimer, 0, 4), 3_579_545, "one second of the PM timer, read whole");
    assert.equal(chipset.read(ChipsetTag.Pm1aControl, 0, 2), 1, "SCI_EN");
    chipset.write(ChipsetTag.Pm1aControl, 0, 2, (5 << 10) | (1 << 13));
    assert.deepEqual(fates, ["power-off"]);
  });

  it("reads all ones for a tag it does not know", () => {
    const { chipset } = wiredChipset();
    assert.equal(chipset.read(99, 0, 4), 0xffffffff);
    chipset.write(99, 0, 4, 0);
    assert.equal(chipset.read(ChipsetTag.PciConfig, 4, 8), 0xffffffff, "nor an 8-byte access");
  });
});

describe("chipset interrupt routing", () => {
  it("routes the PIT's IRQ0 to the 8259 and to I/O APIC pin 2", () => {
    const { chipset, clock, ints, messages } = wiredChipset();
    chipset.write(ChipsetTag.PicMaster, 0, 1, 0x11);
    chipset.write(ChipsetTag.PicMaster, 1, 1, 0x30);
    chipset.write(ChipsetTag.PicMaster, 1, 1, 0x04);
    chipset.write(ChipsetTag.PicMaster, 1, 1, 0x01);
    chipset.write(ChipsetTag.Ioapic, 0x00, 4, 0x14); // entry 2
    chipset.write(ChipsetTag.Ioapic, 0x10, 4, 0x30);
    chipset.write(ChipsetTag.Pit, 3, 1, 0x34);
    chipset.write(ChipsetTag.Pit, 0, 1, 100);
    chipset.write(ChipsetTag.Pit, 0, 1, 0);
    const deadline = chipset.nextDeadline();
    assert.equal(deadline, Math.ceil((101 * 1e9) / PIT_HZ));
    clock.ns = deadline;
    chipset.update();
    assert.deepEqual(ints, [true]);
    assert.equal(chipset.acknowledge(), 0x30);
    assert.deepEqual(messages, [{ destination: 0, destMode: "physical", deliveryMode: 0, vector: 0x30, trigger: "edge" }]);
  });

  it("routes an outside ISA IRQ (COM1's IRQ4) to the 8259 and pin 4, IRQ2 to no pin", () => {
    const { chipset, messages } = wiredChipset();
    chipset.write(ChipsetTag.Ioapic, 0x00, 4, 0x18);
    chipset.write(ChipsetTag.Ioapic, 0x10, 4, 0x34);
    chipset.setIsaIrq(4, true);
    chipset.setIsaIrq(2, true);
    assert.equal(messages.length, 1);
    assert.equal(messages[0].vector, 0x34);
    assert.throws(() => chipset.setIsaIrq(16, true), RangeError);
  });
});

describe("chipset under arbitrary guest accesses", () => {
  it("never throws, answers every read within the access's width, and keeps deadlines ahead", () => {
    const { chipset, clock } = wiredChipset();
    // A fixed-seed xorshift, so a failure repeats.
    let seed = 0x2545f491;
    const random = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const regions = [...CHIPSET_PORT_RANGES.map(({ tag, size }) => ({ tag, size })), { tag: ChipsetTag.Ioapic, size: 0x100 }];
    for (let i = 0; i < 200_000; i++) {
      const { tag, size: regionSize } = regions[random(regions.length)];
      const size = [1, 2, 4, 8][random(4)];
      const offset = random(regionSize);
      if (random(2) === 0) {
        const value = chipset.read(tag, offset, size);
        assert.ok(Number.isInteger(value) && value >= 0 && value < 2 ** (8 * Math.min(size, 4)), `read ${tag}:${offset}/${size} gave ${value}`);
      } else {
        chipset.write(tag, offset, size, random(2 ** 16) * 2 ** 16 + random(2 ** 16));
      }
      clock.ns += random(50_000);
      if (random(64) === 0) {
        chipset.update();
        assert.ok(chipset.nextDeadline() > clock.ns, "after an update the next deadline lies ahead");
      }
    }
  });
});
