// Unit tests of the MC146818A model against its datasheet and the sequences Linux uses
// (mc146818_get_time waiting out UIP, mc146818_set_time under SET, rtc-cmos alarm and UIE).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  RTC_A_UIP, RTC_B_24H, RTC_B_AIE, RTC_B_BINARY, RTC_B_PIE, RTC_B_SET, RTC_B_UIE, RTC_C_AF, RTC_C_IRQF,
  RTC_C_PF, RTC_C_UF, RTC_CENTURY, RTC_DAY_OF_MONTH, RTC_DAY_OF_WEEK, RTC_HOURS, RTC_HOURS_ALARM, RtcCmos,
  RTC_MINUTES, RTC_MINUTES_ALARM, RTC_MONTH, RTC_REG_A, RTC_REG_B, RTC_REG_C, RTC_REG_D, RTC_SECONDS,
  RTC_SECONDS_ALARM, RTC_YEAR,
} from "../workers/devices/rtc-cmos";

const MIB = 1 << 20;
/** 2024-02-29 23:59:58.500 UTC, a Thursday, two seconds before a leap-day rollover. */
const START_MS = Date.UTC(2024, 1, 29, 23, 59, 58, 500);

function wiredRtc(ramBelow4G = 128 * MIB, ramAbove4G = 0): { rtc: RtcCmos; clock: { ns: number }; irqs: boolean[] } {
  const clock = { ns: 5e9, now(): number { return this.ns; } };
  const irqs: boolean[] = [];
  const rtc = new RtcCmos(clock, { wallClockMs: START_MS, ramBelow4G, ramAbove4G }, { setIrq8: (level) => irqs.push(level) });
  return { rtc, clock, irqs };
}

const get = (rtc: RtcCmos, index: number): number => {
  rtc.write(0, index);
  return rtc.read(1);
};
const set = (rtc: RtcCmos, index: number, value: number): void => {
  rtc.write(0, index);
  rtc.write(1, value);
};
const dateOf = (rtc: RtcCmos): number[] =>
  [RTC_CENTURY, RTC_YEAR, RTC_MONTH, RTC_DAY_OF_MONTH, RTC_HOURS, RTC_MINUTES, RTC_SECONDS].map((i) => get(rtc, i));

describe("RTC time registers", () => {
  it("start from the host's wall clock in BCD, 24-hour form", () => {
    const { rtc } = wiredRtc();
    assert.deepEqual(dateOf(rtc), [0x20, 0x24, 0x02, 0x29, 0x23, 0x59, 0x58]);
    assert.equal(get(rtc, RTC_DAY_OF_WEEK), 5, "Thursday (Sunday = 1)");
    assert.equal(get(rtc, RTC_REG_A), 0x26);
    assert.equal(get(rtc, RTC_REG_B), RTC_B_24H);
    assert.equal(get(rtc, RTC_REG_D), 0x80, "valid RAM and time");
  });

  it("advance once a second with the clock, across the leap day and month", () => {
    const { rtc, clock } = wiredRtc();
    clock.ns += 1.4e9;
    assert.deepEqual(dateOf(rtc), [0x20, 0x24, 0x02, 0x29, 0x23, 0x59, 0x59]);
    clock.ns += 0.2e9;
    assert.deepEqual(dateOf(rtc), [0x20, 0x24, 0x03, 0x01, 0x00, 0x00, 0x00]);
    assert.equal(get(rtc, RTC_DAY_OF_WEEK), 6);
  });

  it("read in binary and 12-hour form as register B says", () => {
    const { rtc } = wiredRtc();
    set(rtc, RTC_REG_B, RTC_B_BINARY);
    assert.equal(get(rtc, RTC_HOURS), 0x80 | 11, "11 PM");
    assert.equal(get(rtc, RTC_MINUTES), 59);
    assert.equal(get(rtc, RTC_CENTURY), 20);
  });

  it("show UIP during the 244 us before each update", () => {
    const { rtc, clock } = wiredRtc();
    clock.ns += 0.5e9 - 250e3;
    assert.equal(get(rtc, RTC_REG_A) & RTC_A_UIP, 0);
    clock.ns += 10e3;
    assert.equal(get(rtc, RTC_REG_A) & RTC_A_UIP, RTC_A_UIP);
    clock.ns += 240e3;
    assert.equal(get(rtc, RTC_REG_A) & RTC_A_UIP, 0);
    assert.equal(get(rtc, RTC_SECONDS), 0x59);
  });

  it("take a new time under SET (Linux's mc146818_set_time) and resume a second after SET clears", () => {
    const { rtc, clock } = wiredRtc();
    set(rtc, RTC_REG_B, RTC_B_24H | RTC_B_SET | RTC_B_UIE);
    assert.equal(get(rtc, RTC_REG_B) & RTC_B_UIE, 0, "SET clears UIE");
    // Month before day: no normalisation of 31 February happens between the writes.
    set(rtc, RTC_YEAR, 0x25);
    set(rtc, RTC_MONTH, 0x01);
    set(rtc, RTC_DAY_OF_MONTH, 0x31);
    set(rtc, RTC_HOURS, 0x12);
    set(rtc, RTC_MINUTES, 0x34);
    set(rtc, RTC_SECONDS, 0x56);
    clock.ns += 5e9;
    assert.deepEqual(dateOf(rtc), [0x20, 0x25, 0x01, 0x31, 0x12, 0x34, 0x56], "frozen while SET");
    set(rtc, RTC_REG_B, RTC_B_24H);
    clock.ns += 0.999e9;
    assert.equal(get(rtc, RTC_SECONDS), 0x56);
    clock.ns += 0.001e9;
    assert.equal(get(rtc, RTC_SECONDS), 0x57);
  });

  it("hold the time while the divider is in reset; the first update comes 500 ms after", () => {
    const { rtc, clock } = wiredRtc();
    set(rtc, RTC_REG_A, 0x70);
    clock.ns += 3e9;
    assert.equal(get(rtc, RTC_SECONDS), 0x58);
    set(rtc, RTC_REG_A, 0x26);
    clock.ns += 0.49e9;
    assert.equal(get(rtc, RTC_SECONDS), 0x58);
    clock.ns += 0.01e9;
    assert.equal(get(rtc, RTC_SECONDS), 0x59);
  });
});

describe("RTC interrupts", () => {
  it("set UF at each update and raise IRQ8 when UIE is on; reading C clears it", () => {
    const { rtc, clock, irqs } = wiredRtc();
    get(rtc, RTC_REG_C);
    set(rtc, RTC_REG_B, RTC_B_24H | RTC_B_UIE);
    assert.equal(rtc.nextDeadline(), clock.ns + 0.5e9);
    clock.ns += 0.5e9;
    rtc.update();
    assert.deepEqual(irqs, [true]);
    assert.equal(rtc.nextDeadline(), Infinity, "nothing new until C is read");
    assert.equal(get(rtc, RTC_REG_C), RTC_C_IRQF | RTC_C_UF | RTC_C_PF, "PF is set by the periodic rate, enabled or not");
    assert.deepEqual(irqs, [true, false]);
    assert.equal(get(rtc, RTC_REG_C), 0);
  });

  it("set flags without an interrupt when their enables are off", () => {
    const { rtc, clock, irqs } = wiredRtc();
    clock.ns += 1e9;
    assert.equal(get(rtc, RTC_REG_C) & (RTC_C_UF | RTC_C_IRQF), RTC_C_UF);
    assert.deepEqual(irqs, []);
  });

  it("fire the alarm when seconds, minutes and hours match, with 0xC0-0xFF as don't care", () => {
    const { rtc, clock, irqs } = wiredRtc();
    set(rtc, RTC_SECONDS_ALARM, 0x05);
    set(rtc, RTC_MINUTES_ALARM, 0xff);
    set(rtc, RTC_HOURS_ALARM, 0xc0);
    get(rtc, RTC_REG_C);
    set(rtc, RTC_REG_B, RTC_B_24H | RTC_B_AIE);
    clock.ns += 6e9; // 00:00:04.5
    rtc.update();
    assert.deepEqual(irqs, []);
    clock.ns += 1e9; // 00:00:05.5
    rtc.update();
    assert.deepEqual(irqs, [true]);
    assert.equal(get(rtc, RTC_REG_C) & RTC_C_AF, RTC_C_AF);
  });

  it("find an alarm second passed during a long sleep", () => {
    const { rtc, clock } = wiredRtc();
    set(rtc, RTC_SECONDS_ALARM, 0x30);
    set(rtc, RTC_MINUTES_ALARM, 0x00);
    set(rtc, RTC_HOURS_ALARM, 0x00);
    get(rtc, RTC_REG_C);
    clock.ns += 120e9;
    assert.equal(get(rtc, RTC_REG_C) & RTC_C_AF, RTC_C_AF);
  });

  it("give periodic interrupts at register A's rate (6: 1024 Hz)", () => {
    const { rtc, clock, irqs } = wiredRtc();
    set(rtc, RTC_REG_A, 0x26);
    get(rtc, RTC_REG_C);
    set(rtc, RTC_REG_B, RTC_B_24H | RTC_B_PIE);
    const period = 1e9 / 1024;
    assert.equal(rtc.nextDeadline(), Math.ceil(5e9 + period));
    clock.ns = 5e9 + period;
    rtc.update();
    assert.deepEqual(irqs, [true]);
    assert.equal(get(rtc, RTC_REG_C), RTC_C_IRQF | RTC_C_PF);
    set(rtc, RTC_REG_A, 0x20); // rate 0: none
    clock.ns += 1e9;
    assert.equal(get(rtc, RTC_REG_C) & RTC_C_PF, 0);
  });
});

describe("CMOS RAM", () => {
  it("keeps general bytes and reads the index port as an open bus", () => {
    const { rtc } = wiredRtc();
    set(rtc, 0x40, 0x5a);
    assert.equal(get(rtc, 0x40), 0x5a);
    assert.equal(rtc.read(0), 0xff);
  });

  it("takes the NMI-disable bit from the index port", () => {
    const { rtc } = wiredRtc();
    rtc.write(0, 0x80 | 0x40);
    assert.equal(rtc.nmiDisabled, true);
    assert.equal(rtc.read(1), 0, "the index is bits 6-0");
    rtc.write(0, 0x0d);
    assert.equal(rtc.nmiDisabled, false);
  });

  it("holds the memory sizes a PC BIOS leaves", () => {
    const { rtc } = wiredRtc(128 * MIB);
    const word = (at: number): number => get(rtc, at) | (get(rtc, at + 1) << 8);
    assert.equal(word(0x15), 640);
    assert.equal(word(0x17), 0xffff, "127 MiB of extended memory caps at 0xFFFF KiB");
    assert.equal(word(0x30), 0xffff);
    assert.equal(word(0x34), (112 * MIB) / 65536);
    const small = wiredRtc(16 * MIB).rtc;
    assert.equal(get(small, 0x17) | (get(small, 0x18) << 8), 15 * 1024);
    assert.equal(get(small, 0x34), 0);
    const big = wiredRtc(3 * 1024 * MIB, 2 * 1024 * MIB).rtc;
    assert.deepEqual([0x5b, 0x5c, 0x5d].map((i) => get(big, i)), [0x00, 0x80, 0x00]);
  });

  it("ignores writes to registers C and D", () => {
    const { rtc } = wiredRtc();
    set(rtc, RTC_REG_D, 0);
    set(rtc, RTC_REG_C, 0xff);
    assert.equal(get(rtc, RTC_REG_D), 0x80);
    assert.equal(get(rtc, RTC_REG_C), 0);
  });

  it("refuses memory sizes that are not byte counts and a wall clock that is not a time (board bugs)", () => {
    assert.throws(() => wiredRtc(-1), RangeError);
    assert.throws(() => new RtcCmos({ now: () => 0 }, { wallClockMs: NaN, ramBelow4G: 0, ramAbove4G: 0 }, { setIrq8: () => undefined }), RangeError);
  });
});

describe("RTC hours alarm in 12-hour form", () => {
  it("compares the alarm byte with the hour as register B shows it", () => {
    const { rtc, clock } = wiredRtc();
    set(rtc, RTC_REG_B, 0); // BCD, 12-hour
    set(rtc, RTC_SECONDS_ALARM, 0x00);
    set(rtc, RTC_MINUTES_ALARM, 0x00);
    set(rtc, RTC_HOURS_ALARM, 0x12); // 12 AM = midnight
    get(rtc, RTC_REG_C);
    clock.ns += 1.5e9;
    assert.equal(get(rtc, RTC_REG_C) & RTC_C_AF, RTC_C_AF);
  });
});
