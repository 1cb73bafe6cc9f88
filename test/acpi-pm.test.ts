// The ACPI PM registers against ACPI 6.4 chapter 4.8 (PM1 event and control blocks, the PM timer)
// and the PIIX4 datasheet's reset control register.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  AcpiPm, PM1_CNT_SCI_EN, PM1_CNT_SLP_EN, PM1_PWRBTN, PM1_RTC, PM1_STS_WAK, PM1_TMR, PM_TIMER_HZ, RCR_RESET_CPU,
} from "../workers/devices/acpi-pm";

const S5 = 5;

function pm(timer32 = true, startNs = 1e12) {
  const clock = { ns: startNs, now(): number { return this.ns; } };
  const sci: boolean[] = [];
  const outputs: string[] = [];
  const model = new AcpiPm(clock, { timer32, softOffSleepType: S5 }, {
    setSci: (level) => sci.push(level),
    powerOff: () => outputs.push("power-off"),
    reset: () => outputs.push("reset"),
  });
  return { model, clock, sci, outputs };
}

const seconds = (s: number): number => s * 1e9;

describe("ACPI PM timer (4.8.3.3)", () => {
  it("counts at 3.579545 MHz from 0", () => {
    const { model, clock } = pm();
    assert.equal(model.readTimer(0, 4), 0);
    clock.ns += seconds(1);
    assert.equal(model.readTimer(0, 4), PM_TIMER_HZ);
    clock.ns += 1e6 / 3; // a third of a millisecond
    assert.equal(model.readTimer(0, 4), PM_TIMER_HZ + 1193);
    assert.equal(model.readTimer(0, 2), (PM_TIMER_HZ + 1193) & 0xffff, "a word read takes the low half");
    assert.equal(model.readTimer(2, 1), ((PM_TIMER_HZ + 1193) >>> 16) & 0xff);
  });

  it("wraps at 2^24 without TMR_VAL_EXT, and at 2^32 with it", () => {
    const narrow = pm(false);
    const wide = pm(true);
    const ns = Math.ceil(((2 ** 24 + 10) * 1e9) / PM_TIMER_HZ);
    narrow.clock.ns += ns;
    wide.clock.ns += ns;
    assert.equal(narrow.model.readTimer(0, 4), 10, "bits 31:24 read 0");
    assert.equal(wide.model.readTimer(0, 4), 2 ** 24 + 10);
    wide.clock.ns += Math.ceil((2 ** 32 * 1e9) / PM_TIMER_HZ);
    assert.equal(wide.model.readTimer(0, 4), 2 ** 24 + 10);
  });

  it("never reads backwards over a long run of small steps", () => {
    const { model, clock } = pm(true, 1e15);
    let last = model.readTimer(0, 4);
    for (let i = 0; i < 10_000; i++) {
      clock.ns += 37;
      const now = model.readTimer(0, 4);
      assert.ok(now >= last);
      last = now;
    }
  });

  it("sets TMR_STS when bit 23 changes, raises the SCI when TMR_EN is set, and names the deadline", () => {
    const { model, clock, sci } = pm(false);
    model.writeEvent(2, 2, PM1_TMR);
    const deadline = model.nextDeadline();
    assert.equal(Math.floor(((deadline - 1e12) * PM_TIMER_HZ) / 1e9), 2 ** 23, "the tick bit 23 first sets");
    clock.ns = deadline - 1;
    model.update();
    assert.equal(model.readEvent(0, 2) & PM1_TMR, 0);
    clock.ns = deadline;
    model.update();
    assert.equal(model.readEvent(0, 2) & PM1_TMR, PM1_TMR);
    assert.deepEqual(sci, [true]);
    assert.equal(model.nextDeadline(), Infinity, "already pending");
    model.writeEvent(0, 2, PM1_TMR); // write 1 to clear
    assert.deepEqual(sci, [true, false]);
    assert.equal(model.nextDeadline(), Math.ceil(((2 ** 24) * 1e9) / PM_TIMER_HZ) + 1e12, "bit 23 clears at 2^24");
  });

  it("sets TMR_STS at 2^31 with a 32-bit timer, and no deadline while TMR_EN is clear", () => {
    const { model, clock } = pm(true);
    assert.equal(model.nextDeadline(), Infinity);
    clock.ns += Math.ceil((2 ** 31 * 1e9) / PM_TIMER_HZ) - 2;
    assert.equal(model.readEvent(0, 2), 0);
    clock.ns += 2;
    assert.equal(model.readEvent(0, 2), PM1_TMR);
  });
});

describe("PM1 event block (4.8.3.1)", () => {
  it("reads PM1_STS at offset 0 and PM1_EN at 2, clears status bits written with 1", () => {
    const { model, sci } = pm();
    model.pressPowerButton();
    assert.equal(model.readEvent(0, 2), PM1_PWRBTN);
    assert.deepEqual(sci, [], "PWRBTN_EN is clear");
    model.writeEvent(0, 4, (0xffff << 16) | 0); // PM1_EN := all, clears nothing
    assert.equal(model.readEvent(2, 2), 0x0721, "only TMR, GBL, PWRBTN, SLPBTN and RTC enables exist");
    assert.deepEqual(sci, [true]);
    model.writeEvent(1, 1, PM1_RTC >> 8); // clearing another bit changes nothing
    assert.equal(model.readEvent(0, 2), PM1_PWRBTN);
    model.writeEvent(1, 1, PM1_PWRBTN >> 8); // a byte write to the high half of PM1_STS
    assert.equal(model.readEvent(0, 4), 0x0721 << 16);
    assert.deepEqual(sci, [true, false]);
    assert.equal(model.readEvent(3, 2), 0xff07, "the byte past the block floats");
  });
});

describe("PM1 control block (4.8.3.2)", () => {
  it("reads SCI_EN set by the hardware and keeps it whatever the OS writes", () => {
    const { model } = pm();
    assert.equal(model.readControl(0, 2), PM1_CNT_SCI_EN);
    model.writeControl(0, 2, 0);
    assert.equal(model.readControl(0, 2), PM1_CNT_SCI_EN);
  });

  it("powers off on SLP_EN with the \\_S5 sleep type, as ACPICA writes it (SLP_TYP, then SLP_TYP|SLP_EN)", () => {
    const { model, outputs } = pm();
    model.writeControl(0, 2, PM1_CNT_SCI_EN | (S5 << 10));
    assert.deepEqual(outputs, []);
    assert.equal(model.readControl(0, 2), PM1_CNT_SCI_EN | (S5 << 10));
    model.writeControl(0, 2, PM1_CNT_SCI_EN | (S5 << 10) | PM1_CNT_SLP_EN);
    assert.deepEqual(outputs, ["power-off"]);
    assert.equal(model.readControl(0, 2) & PM1_CNT_SLP_EN, 0, "SLP_EN reads 0");
  });

  it("powers off on a byte write of the high half", () => {
    const { model, outputs } = pm();
    model.writeControl(1, 1, ((S5 << 10) | PM1_CNT_SLP_EN) >> 8);
    assert.deepEqual(outputs, ["power-off"]);
  });

  it("wakes at once from a sleep type it does not offer: WAK_STS sets", () => {
    const { model, outputs } = pm();
    model.writeControl(0, 2, (1 << 10) | PM1_CNT_SLP_EN);
    assert.deepEqual(outputs, []);
    assert.equal(model.readEvent(0, 2), PM1_STS_WAK);
    model.writeEvent(0, 2, PM1_STS_WAK);
    assert.equal(model.readEvent(0, 2), 0);
  });
});

describe("reset control register (PIIX4 0xCF9)", () => {
  it("resets when bit 2 goes from 0 to 1 (ACPI's RESET_VALUE 0x06, or Linux's 0x02 then 0x06)", () => {
    const { model, outputs } = pm();
    model.writeResetControl(0x02);
    assert.deepEqual(outputs, []);
    assert.equal(model.readResetControl(), 0x02);
    model.writeResetControl(0x06);
    assert.deepEqual(outputs, ["reset"]);
    model.writeResetControl(RCR_RESET_CPU);
    assert.deepEqual(outputs, ["reset"], "no change, no reset");
  });
});
