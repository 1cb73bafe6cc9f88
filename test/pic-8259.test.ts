// Unit tests of the 8259A pair against the Intel 8259A datasheet and Linux's init_8259A.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Pic8259Pair } from "../workers/devices/pic-8259";

const MASTER = 0;
const SLAVE = 1;

/** A pair recording every INT change. */
function wiredPic(): { pic: Pic8259Pair; ints: boolean[] } {
  const ints: boolean[] = [];
  return { pic: new Pic8259Pair({ setInterrupt: (level) => ints.push(level) }), ints };
}

/** Linux's init_8259A(auto_eoi): masks, ICW1-4 on both chips, vectors 0x30 and 0x38. */
function initLinux(pic: Pic8259Pair, autoEoi = false): void {
  pic.write(MASTER, 1, 0xff);
  pic.write(SLAVE, 1, 0xff);
  pic.write(MASTER, 0, 0x11); // ICW1: edge, cascade, ICW4 follows
  pic.write(MASTER, 1, 0x30); // ICW2: vector base
  pic.write(MASTER, 1, 1 << 2); // ICW3: slave on IR2
  pic.write(MASTER, 1, autoEoi ? 0x03 : 0x01); // ICW4: 8086 mode (+AEOI)
  pic.write(SLAVE, 0, 0x11);
  pic.write(SLAVE, 1, 0x38);
  pic.write(SLAVE, 1, 2); // ICW3: slave id 2
  pic.write(SLAVE, 1, 0x01);
  pic.write(MASTER, 1, 0x00);
  pic.write(SLAVE, 1, 0x00);
}

/** A rising edge on `irq`, which then stays high (as the datasheet requires until INTA). */
function pulse(pic: Pic8259Pair, irq: number): void {
  pic.setIrq(irq, false);
  pic.setIrq(irq, true);
}

describe("8259A initialization", () => {
  it("takes ICW1-ICW4 and then reads IMR back through OCW1 (Linux's probe)", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pic.write(MASTER, 1, 0xa5);
    assert.equal(pic.read(MASTER, 1), 0xa5);
    assert.equal(pic.registers(MASTER).vectorBase, 0x30);
    assert.equal(pic.registers(SLAVE).vectorBase, 0x38);
  });

  it("ICW1 clears IMR and ISR and requires a new edge", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pic.setIrq(1, true);
    pic.acknowledge();
    pic.write(MASTER, 1, 0x55);
    initLinux(pic);
    assert.deepEqual({ ...pic.registers(MASTER), vectorBase: 0 }, { irr: 0, isr: 0, imr: 0, vectorBase: 0 });
    assert.equal(pic.interruptLevel, false, "IRQ1 is still high but made no new edge");
  });
});

describe("8259A requests and acknowledge", () => {
  it("raises INT for an unmasked edge, answers INTA with the vector, and puts it in service", () => {
    const { pic, ints } = wiredPic();
    initLinux(pic);
    pulse(pic, 0);
    assert.deepEqual(ints, [true]);
    assert.equal(pic.acknowledge(), 0x30);
    assert.deepEqual(ints, [true, false]);
    assert.equal(pic.registers(MASTER).isr, 1);
    assert.equal(pic.registers(MASTER).irr, 0);
  });

  it("keeps a masked request in IRR and delivers it when unmasked", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pic.write(MASTER, 1, 0x08);
    pulse(pic, 3);
    assert.equal(pic.interruptLevel, false);
    assert.equal(pic.registers(MASTER).irr, 0x08);
    pic.write(MASTER, 1, 0);
    assert.equal(pic.interruptLevel, true);
    assert.equal(pic.acknowledge(), 0x33);
  });

  it("gives fixed priority (IR0 highest) and nests only higher priorities", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pulse(pic, 5);
    assert.equal(pic.acknowledge(), 0x35);
    pulse(pic, 6);
    assert.equal(pic.interruptLevel, false, "IR6 waits while IR5 is in service");
    pulse(pic, 4);
    assert.equal(pic.acknowledge(), 0x34, "IR4 nests");
    pic.write(MASTER, 0, 0x20); // non-specific EOI ends IR4, the highest in service
    assert.equal(pic.registers(MASTER).isr, 0x20);
    pic.write(MASTER, 0, 0x20);
    assert.equal(pic.acknowledge(), 0x36);
  });

  it("specific EOI (0x60 + level) clears that level only", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pulse(pic, 5);
    pic.acknowledge();
    pulse(pic, 1);
    pic.acknowledge();
    pic.write(MASTER, 0, 0x65);
    assert.equal(pic.registers(MASTER).isr, 0x02);
  });

  it("answers INTA with the spurious IR7 vector and no ISR bit when the request went away", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pulse(pic, 4);
    pic.write(MASTER, 1, 0x10);
    assert.equal(pic.acknowledge(), 0x37);
    assert.equal(pic.registers(MASTER).isr, 0);
  });
});

describe("8259A cascade", () => {
  it("delivers a slave IRQ through master IR2 and answers with the slave's vector", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pulse(pic, 8 + 4); // IRQ12
    assert.equal(pic.interruptLevel, true);
    assert.equal(pic.acknowledge(), 0x3c);
    assert.equal(pic.registers(MASTER).isr, 0x04);
    assert.equal(pic.registers(SLAVE).isr, 0x10);
    // Linux's mask_and_ack: specific EOI to the slave, then to the master's cascade line.
    pic.write(SLAVE, 0, 0x64);
    pic.write(MASTER, 0, 0x62);
    assert.equal(pic.registers(MASTER).isr, 0);
    assert.equal(pic.registers(SLAVE).isr, 0);
  });

  it("withdraws a request whose line fell before INTA: the CPU gets the master's IR7", () => {
    const { pic, ints } = wiredPic();
    initLinux(pic);
    pulse(pic, 8 + 3);
    pic.setIrq(8 + 3, false);
    assert.deepEqual(ints, [true, false]);
    assert.equal(pic.acknowledge(), 0x37);
    assert.equal(pic.registers(SLAVE).isr, 0);
    assert.equal(pic.registers(MASTER).isr, 0);
  });

  it("in special fully nested mode lets a higher slave request nest in IR2's service", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pic.write(MASTER, 0, 0x11);
    pic.write(MASTER, 1, 0x30);
    pic.write(MASTER, 1, 0x04);
    pic.write(MASTER, 1, 0x11); // ICW4: SFNM
    pulse(pic, 8 + 5);
    assert.equal(pic.acknowledge(), 0x3d);
    pulse(pic, 8 + 1);
    assert.equal(pic.interruptLevel, true);
    assert.equal(pic.acknowledge(), 0x39);
  });
});

describe("8259A modes", () => {
  it("auto-EOI sets no ISR bit, so the next request is not held back", () => {
    const { pic } = wiredPic();
    initLinux(pic, true);
    pulse(pic, 3);
    assert.equal(pic.acknowledge(), 0x33);
    assert.equal(pic.registers(MASTER).isr, 0);
    pulse(pic, 3);
    assert.equal(pic.interruptLevel, true);
  });

  it("rotates priority on non-specific EOI (OCW2 0xA0) and by set-priority (0xC0 + level)", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pulse(pic, 2 + 1);
    pic.acknowledge();
    pic.write(MASTER, 0, 0xa0); // IR3 becomes lowest: IR4 now highest
    pulse(pic, 1);
    pulse(pic, 4);
    assert.equal(pic.acknowledge(), 0x34);
    pic.write(MASTER, 0, 0x20);
    pic.write(MASTER, 0, 0xc0); // IR0 lowest: IR1 highest
    assert.equal(pic.acknowledge(), 0x31);
  });

  it("rotates in auto-EOI mode when asked (OCW2 0x80)", () => {
    const { pic } = wiredPic();
    initLinux(pic, true);
    pic.write(MASTER, 0, 0x80);
    pulse(pic, 5);
    pic.acknowledge();
    pulse(pic, 1);
    pulse(pic, 6);
    assert.equal(pic.acknowledge(), 0x36, "IR5 just served became lowest, IR6 highest");
  });

  it("reads IRR or ISR as OCW3 selects", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pulse(pic, 6);
    pulse(pic, 1);
    pic.acknowledge();
    pic.write(MASTER, 0, 0x0a);
    assert.equal(pic.read(MASTER, 0), 0x40);
    pic.write(MASTER, 0, 0x0b);
    assert.equal(pic.read(MASTER, 0), 0x02);
  });

  it("poll mode: the read returns 0x80 | level and acknowledges it", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pulse(pic, 5);
    pic.write(MASTER, 0, 0x0c);
    assert.equal(pic.read(MASTER, 0), 0x85);
    assert.equal(pic.registers(MASTER).isr, 0x20);
    pic.write(MASTER, 1, 0x01);
    pic.write(MASTER, 0, 0x0c);
    assert.equal(pic.read(MASTER, 1), 0, "nothing pending");
    assert.equal(pic.read(MASTER, 1), 0x01, "the next read is the IMR again");
  });

  it("special mask mode lets lower levels through while a masked level is in service", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pulse(pic, 2 + 1);
    pic.acknowledge(); // IR3 in service
    pic.write(MASTER, 1, 0x08);
    pic.write(MASTER, 0, 0x68); // OCW3: set special mask
    pulse(pic, 6);
    assert.equal(pic.acknowledge(), 0x36);
    pic.write(MASTER, 0, 0x48); // reset special mask
    pulse(pic, 7);
    assert.equal(pic.interruptLevel, false);
  });
});

describe("8259A level triggering (ELCR)", () => {
  it("keeps a level line's request while it is high and drops it when it falls", () => {
    const { pic } = wiredPic();
    initLinux(pic);
    pic.writeElcr(SLAVE, 0x0e); // IRQ9-11 level
    assert.equal(pic.readElcr(SLAVE), 0x0e);
    pic.setIrq(10, true);
    assert.equal(pic.acknowledge(), 0x3a);
    pic.write(SLAVE, 0, 0x20);
    pic.write(MASTER, 0, 0x20);
    assert.equal(pic.interruptLevel, true, "still high: requests again after EOI");
    pic.setIrq(10, false);
    assert.equal(pic.interruptLevel, false);
  });

  it("keeps IRQ0-2, IRQ8 and IRQ13 edge-triggered", () => {
    const { pic } = wiredPic();
    pic.writeElcr(MASTER, 0xff);
    pic.writeElcr(SLAVE, 0xff);
    assert.equal(pic.readElcr(MASTER), 0xf8);
    assert.equal(pic.readElcr(SLAVE), 0xde);
  });

  it("ICW1.LTIM makes every line of the chip level-triggered", () => {
    const { pic } = wiredPic();
    pic.write(MASTER, 0, 0x19);
    pic.write(MASTER, 1, 0x08);
    pic.write(MASTER, 1, 0x04);
    pic.write(MASTER, 1, 0x01);
    pic.setIrq(1, true);
    assert.equal(pic.acknowledge(), 0x09);
    pic.write(MASTER, 0, 0x20);
    assert.equal(pic.interruptLevel, true);
  });
});
