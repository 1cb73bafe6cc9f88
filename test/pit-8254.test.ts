// Unit tests of the 8254 model against the Intel 8254 datasheet's mode definitions and the
// sequences Linux uses (periodic tick in mode 2, one-shot in mode 4, calibration on counter 2).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Pit8254, PIT_HZ, PORT_B_GATE2, PORT_B_OUT2, PORT_B_REFRESH } from "../workers/devices/pit-8254";

/** A PIT on a hand-stepped clock; `at(tick)` moves the clock to the start of an input tick. */
function wiredPit(): { pit: Pit8254; out0: boolean[]; at: (tick: number) => void; clock: { ns: number } } {
  const clock = { ns: 1_000_000, now(): number { return this.ns; } };
  const out0: boolean[] = [];
  const pit = new Pit8254(clock, { setOut0: (level) => out0.push(level) });
  const at = (tick: number): void => {
    clock.ns = 1_000_000 + Math.ceil((tick * 1e9) / PIT_HZ);
  };
  return { pit, out0, at, clock };
}

const CONTROL = 3;
/** Writes a 16-bit count LSB then MSB. */
const writeCount = (pit: Pit8254, counter: number, count: number): void => {
  pit.write(counter, count & 0xff);
  pit.write(counter, count >> 8);
};
/** Latches counter `counter` and reads the latched count LSB then MSB. */
const latched = (pit: Pit8254, counter: number): number => {
  pit.write(CONTROL, counter << 6);
  return pit.read(counter) | (pit.read(counter) << 8);
};

describe("8254 mode 0 (interrupt on terminal count)", () => {
  it("drops OUT on the control word and raises it N+1 clocks after the count is written", () => {
    const { pit, at } = wiredPit();
    pit.writePortB(PORT_B_GATE2);
    pit.write(CONTROL, 0xb0); // counter 2, LSB then MSB, mode 0, binary (Linux pit_calibrate_tsc)
    assert.equal(pit.readPortB() & PORT_B_OUT2, 0);
    writeCount(pit, 2, 1000);
    at(1000);
    assert.equal(pit.readPortB() & PORT_B_OUT2, 0, "one clock loads the count, N more reach zero");
    at(1001);
    assert.equal(pit.readPortB() & PORT_B_OUT2, PORT_B_OUT2);
    at(5000);
    assert.equal(pit.readPortB() & PORT_B_OUT2, PORT_B_OUT2, "stays high");
  });

  it("counts down from 0xFFFF as quick_pit_calibrate reads the MSB", () => {
    const { pit, at } = wiredPit();
    pit.writePortB(PORT_B_GATE2);
    pit.write(CONTROL, 0xb0);
    writeCount(pit, 2, 0xffff);
    at(1 + 256 * 3);
    pit.read(2); // LSB
    assert.equal(pit.read(2), 0xfc, "0xFFFF - 768 = 0xFCFF");
  });

  it("is suspended while the gate is low", () => {
    const { pit, at } = wiredPit();
    pit.writePortB(PORT_B_GATE2);
    pit.write(CONTROL, 0xb0);
    writeCount(pit, 2, 100);
    at(51);
    pit.writePortB(0);
    at(500);
    assert.equal(latched(pit, 2), 50);
    pit.writePortB(PORT_B_GATE2);
    at(549);
    assert.equal(pit.readPortB() & PORT_B_OUT2, 0);
    at(550);
    assert.equal(pit.readPortB() & PORT_B_OUT2, PORT_B_OUT2);
  });

  it("raises IRQ0 at terminal count, reported by update(), with the deadline to sleep until", () => {
    const { pit, out0, at, clock } = wiredPit();
    pit.write(CONTROL, 0x34);
    pit.write(CONTROL, 0x30);
    assert.deepEqual(out0, [false], "OUT starts high; mode 2 keeps it high, mode 0 drops it");
    writeCount(pit, 0, 200);
    const deadline = pit.nextDeadline();
    at(201);
    assert.equal(deadline, clock.ns);
    clock.ns -= 1;
    pit.update();
    assert.deepEqual(out0, [false]);
    clock.ns += 1;
    pit.update();
    assert.deepEqual(out0, [false, true]);
    assert.equal(pit.nextDeadline(), Infinity);
  });

  it("stops counting on the first byte of a new two-byte count", () => {
    const { pit, at } = wiredPit();
    pit.write(CONTROL, 0x30);
    writeCount(pit, 0, 100);
    at(11);
    pit.write(0, 0x50);
    at(100);
    assert.equal(latched(pit, 0), 90);
    pit.write(0, 0);
    at(181);
    assert.equal(latched(pit, 0), 0);
  });
});

describe("8254 mode 2 (rate generator)", () => {
  it("gives one OUT0 rise per period, as Linux's periodic tick (LATCH = 11932) needs", () => {
    const { pit, out0, at, clock } = wiredPit();
    pit.write(CONTROL, 0x34);
    writeCount(pit, 0, 11932);
    assert.deepEqual(out0, []);
    at(11932);
    pit.update();
    assert.deepEqual(out0, [false], "low for the clock in which the count is 1");
    at(11933);
    assert.equal(pit.nextDeadline(), clock.ns);
    pit.update();
    assert.deepEqual(out0, [false, true]);
    at(11933 + 5 * 11932);
    pit.update();
    assert.deepEqual(out0, [false, true, false, true], "five missed rises make one edge");
    at(11934 + 5 * 11932);
    assert.equal(pit.nextDeadline(), 1_000_000 + Math.ceil(((11933 + 6 * 11932) * 1e9) / PIT_HZ));
  });

  it("counts N..1 and reloads; a new count takes effect at the end of the period", () => {
    const { pit, at } = wiredPit();
    pit.write(CONTROL, 0x34);
    writeCount(pit, 0, 10);
    at(1);
    assert.equal(latched(pit, 0), 10);
    at(10);
    assert.equal(latched(pit, 0), 1);
    at(11);
    assert.equal(latched(pit, 0), 10);
    at(13);
    writeCount(pit, 0, 100);
    at(20);
    assert.equal(latched(pit, 0), 1, "the old period runs out");
    at(21);
    assert.equal(latched(pit, 0), 100);
  });
});

describe("8254 mode 3 (square wave)", () => {
  it("holds OUT high for half the period and low for the other half", () => {
    const { pit, at } = wiredPit();
    pit.writePortB(PORT_B_GATE2);
    pit.write(CONTROL, 0xb6); // counter 2, mode 3: the PC speaker tone
    writeCount(pit, 2, 10);
    at(5);
    assert.equal(pit.readPortB() & PORT_B_OUT2, PORT_B_OUT2);
    assert.equal(latched(pit, 2), 10 - 2 * 4);
    at(6);
    assert.equal(pit.readPortB() & PORT_B_OUT2, 0);
    at(11);
    assert.equal(pit.readPortB() & PORT_B_OUT2, PORT_B_OUT2);
  });

  it("with an odd count is high one clock longer than low", () => {
    const { pit, at } = wiredPit();
    pit.writePortB(PORT_B_GATE2);
    pit.write(CONTROL, 0xb6);
    writeCount(pit, 2, 5);
    at(3);
    assert.equal(pit.readPortB() & PORT_B_OUT2, PORT_B_OUT2);
    at(4);
    assert.equal(pit.readPortB() & PORT_B_OUT2, 0);
    at(6);
    assert.equal(pit.readPortB() & PORT_B_OUT2, PORT_B_OUT2);
  });
});

describe("8254 modes 1, 4 and 5", () => {
  it("mode 4 strobes OUT low for one clock at terminal count (Linux's one-shot clockevent)", () => {
    const { pit, out0, at } = wiredPit();
    pit.write(CONTROL, 0x38);
    writeCount(pit, 0, 50);
    assert.deepEqual(out0, []);
    at(51);
    pit.update();
    assert.deepEqual(out0, [false]);
    at(52);
    pit.update();
    assert.deepEqual(out0, [false, true]);
  });

  it("mode 1 starts on a gate rise: OUT low until terminal count", () => {
    const { pit, at } = wiredPit();
    pit.write(CONTROL, 0xb2);
    writeCount(pit, 2, 20);
    at(10);
    assert.equal(pit.readPortB() & PORT_B_OUT2, PORT_B_OUT2, "waits for the trigger");
    pit.writePortB(PORT_B_GATE2);
    at(11);
    assert.equal(pit.readPortB() & PORT_B_OUT2, 0);
    at(31);
    assert.equal(pit.readPortB() & PORT_B_OUT2, PORT_B_OUT2);
  });

  it("mode 5 strobes after a gate trigger", () => {
    const { pit, at } = wiredPit();
    pit.write(CONTROL, 0xba);
    writeCount(pit, 2, 5);
    pit.writePortB(PORT_B_GATE2);
    at(6);
    assert.equal(pit.readPortB() & PORT_B_OUT2, 0);
    at(7);
    assert.equal(pit.readPortB() & PORT_B_OUT2, PORT_B_OUT2);
  });
});

describe("8254 reading counts", () => {
  it("keeps a latched count until it is read, ignoring a second latch", () => {
    const { pit, at } = wiredPit();
    pit.write(CONTROL, 0x34);
    writeCount(pit, 0, 1000);
    at(101);
    pit.write(CONTROL, 0x00);
    at(301);
    pit.write(CONTROL, 0x00);
    assert.equal(pit.read(0) | (pit.read(0) << 8), 900);
  });

  it("reads one byte per access in LSB-only and MSB-only modes", () => {
    const { pit, at } = wiredPit();
    pit.write(CONTROL, 0x14); // LSB only, mode 2
    pit.write(0, 200);
    at(51);
    assert.equal(pit.read(0), 150);
    pit.write(CONTROL, 0x24); // MSB only
    pit.write(0, 0x10);
    at(51 + 1 + 0x100);
    assert.equal(pit.read(0), 0x0f);
  });

  it("counts in BCD", () => {
    const { pit, at } = wiredPit();
    pit.write(CONTROL, 0x31);
    writeCount(pit, 0, 0x9999);
    at(11);
    assert.equal(latched(pit, 0), 0x9989);
  });

  it("read-back latches status (OUT, null count, RW, mode, BCD) before the count", () => {
    const { pit, at } = wiredPit();
    pit.write(CONTROL, 0x34);
    pit.write(CONTROL, 0xe2); // read-back: status only, counter 0
    assert.equal(pit.read(0), 0x80 | 0x40 | 0x34, "OUT high, null count: no count written yet");
    writeCount(pit, 0, 500);
    pit.write(CONTROL, 0xe2);
    assert.equal(pit.read(0), 0x80 | 0x40 | 0x34, "count not yet loaded");
    at(2);
    pit.write(CONTROL, 0xc2); // status and count
    assert.equal(pit.read(0), 0x80 | 0x34);
    assert.equal(pit.read(0) | (pit.read(0) << 8), 499);
  });

  it("reads the control word register as an open bus", () => {
    const { pit } = wiredPit();
    assert.equal(pit.read(CONTROL), 0xff);
  });
});

describe("port B (0x61)", () => {
  it("keeps the gate and speaker bits and toggles the refresh bit every 15 us", () => {
    const { pit, clock } = wiredPit();
    pit.writePortB(0xff);
    const first = pit.readPortB();
    assert.equal(first & 0x0f, 0x0f);
    clock.ns += 15_085;
    assert.equal((pit.readPortB() ^ first) & PORT_B_REFRESH, PORT_B_REFRESH);
  });
});
