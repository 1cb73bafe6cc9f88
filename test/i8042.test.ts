// Unit tests of the keyboard controller against the IBM PS/2 controller and keyboard references,
// following Linux's i8042 probe (flush, self-test, CTR, AUX loop) and atkbd probe (GETID, LEDs).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  I8042, I8042_CTR_AUXDIS, I8042_CTR_AUXINT, I8042_CTR_KBDDIS, I8042_CTR_KBDINT, I8042_CTR_XLATE, I8042_STR_AUXDATA,
  I8042_STR_CMDDAT, I8042_STR_OBF, I8042_STR_SYSFLAG, I8042_STR_TIMEOUT,
} from "../workers/devices/i8042";

function wiredController() {
  const events: string[] = [];
  const kbc = new I8042({
    setIrq1: (level) => events.push(`irq1 ${level}`),
    setIrq12: (level) => events.push(`irq12 ${level}`),
    setA20: (enabled) => events.push(`a20 ${enabled}`),
    reset: () => events.push("reset"),
  });
  /** A command with a reply, read as Linux's i8042_command does: write 0x64, wait for OBF, read 0x60. */
  const ask = (command: number): number => {
    kbc.writeCommand(command);
    assert.equal(kbc.readStatus() & I8042_STR_OBF, I8042_STR_OBF, `a reply to 0x${command.toString(16)}`);
    return kbc.readData();
  };
  /** Everything waiting in the output buffer, as i8042_flush reads it. */
  const drain = (): number[] => {
    const bytes: number[] = [];
    while (kbc.readStatus() & I8042_STR_OBF) bytes.push(kbc.readData());
    return bytes;
  };
  return { kbc, events, ask, drain };
}

describe("i8042 controller commands", () => {
  it("starts empty with the POST command byte, and passes self-test and interface tests", () => {
    const { kbc, ask, drain } = wiredController();
    assert.deepEqual(drain(), []);
    assert.equal(kbc.readStatus() & I8042_STR_SYSFLAG, I8042_STR_SYSFLAG);
    assert.equal(ask(0xaa), 0x55);
    assert.equal(ask(0xab), 0x00);
    assert.equal(ask(0xa9), 0x00);
    assert.equal(ask(0x20), I8042_CTR_XLATE | I8042_CTR_AUXDIS | 0x04 | I8042_CTR_KBDINT);
  });

  it("writes the command byte with 0x60 and tracks the command/data status bit", () => {
    const { kbc, ask } = wiredController();
    kbc.writeCommand(0x60);
    assert.equal(kbc.readStatus() & I8042_STR_CMDDAT, I8042_STR_CMDDAT);
    kbc.writeData(0x47);
    assert.equal(kbc.readStatus() & I8042_STR_CMDDAT, 0);
    assert.equal(ask(0x20), 0x47);
    kbc.writeCommand(0x65);
    kbc.writeData(0x99);
    assert.equal(ask(0x25), 0x99, "the other controller RAM bytes");
  });

  it("disables and enables each port through the command byte", () => {
    const { kbc, ask } = wiredController();
    kbc.writeCommand(0xa8);
    assert.equal(ask(0x20) & I8042_CTR_AUXDIS, 0);
    kbc.writeCommand(0xa7);
    assert.equal(ask(0x20) & I8042_CTR_AUXDIS, I8042_CTR_AUXDIS);
    kbc.writeCommand(0xad);
    assert.equal(ask(0x20) & I8042_CTR_KBDDIS, I8042_CTR_KBDDIS);
    kbc.writeCommand(0xae);
    assert.equal(ask(0x20) & I8042_CTR_KBDDIS, 0);
  });

  it("loops a byte back as AUX data (0xD3), as Linux's i8042_check_aux tests", () => {
    const { kbc, events } = wiredController();
    kbc.writeCommand(0xd3);
    kbc.writeData(0xa5);
    assert.equal(kbc.readStatus() & I8042_STR_AUXDATA, I8042_STR_AUXDATA, "even with the aux port disabled");
    assert.equal(kbc.readData(), 0xa5);
    assert.deepEqual(events, [], "AUXINT is off");
    kbc.writeCommand(0x60);
    kbc.writeData(I8042_CTR_AUXINT | I8042_CTR_KBDINT);
    kbc.writeCommand(0xd3);
    kbc.writeData(0x5a);
    assert.equal(kbc.readStatus() & (I8042_STR_OBF | I8042_STR_AUXDATA), I8042_STR_OBF | I8042_STR_AUXDATA);
    assert.deepEqual(events, ["irq12 true"]);
    assert.equal(kbc.readData(), 0x5a);
    assert.deepEqual(events, ["irq12 true", "irq12 false"]);
  });

  it("answers a byte sent to the absent mouse (0xD4) with a timeout", () => {
    const { kbc } = wiredController();
    kbc.writeCommand(0xa8);
    kbc.writeCommand(0xd4);
    kbc.writeData(0xff);
    assert.equal(kbc.readStatus() & (I8042_STR_AUXDATA | I8042_STR_TIMEOUT), I8042_STR_AUXDATA | I8042_STR_TIMEOUT);
    assert.equal(kbc.readData(), 0xfe);
  });

  it("reads and writes the output port; bit 1 gates A20 and a 0 in bit 0 resets", () => {
    const { kbc, events, ask } = wiredController();
    assert.equal(ask(0xd0) & 0x03, 0x03);
    kbc.writeCommand(0xd1);
    kbc.writeData(0x01);
    kbc.writeCommand(0xd1);
    kbc.writeData(0x03);
    assert.deepEqual(events.filter((e) => !e.startsWith("irq")), ["a20 false", "a20 true"]);
    kbc.writeCommand(0xd1);
    kbc.writeData(0x02);
    assert.deepEqual(events.at(-1), "reset");
  });

  it("resets the machine on the pulse command 0xFE (the guest's reboot), not on 0xFF", () => {
    const { kbc, events } = wiredController();
    kbc.writeCommand(0xff);
    assert.deepEqual(events, []);
    kbc.writeCommand(0xfe);
    assert.deepEqual(events, ["reset"]);
  });

  it("puts a 0xD2 byte in the output buffer as keyboard data", () => {
    const { kbc, drain } = wiredController();
    kbc.writeCommand(0xd2);
    kbc.writeData(0x1c);
    assert.equal(kbc.readStatus() & I8042_STR_AUXDATA, 0);
    assert.deepEqual(drain(), [0x1c]);
  });
});

describe("AT keyboard behind the controller", () => {
  it("answers reset with ACK and BAT passed, each byte its own IRQ1 edge", () => {
    const { kbc, events } = wiredController();
    kbc.writeData(0xff);
    assert.deepEqual(events, ["irq1 true"]);
    assert.equal(kbc.readData(), 0xfa);
    assert.deepEqual(events, ["irq1 true", "irq1 false", "irq1 true"]);
    assert.equal(kbc.readData(), 0xaa);
    assert.deepEqual(events.at(-1), "irq1 false");
    assert.equal(kbc.readData(), 0xaa, "an empty buffer reads its last byte again");
  });

  it("identifies as an MF2 keyboard, the second ID byte translated while XLATE is on", () => {
    const { kbc, drain } = wiredController();
    kbc.writeData(0xf2);
    assert.deepEqual(drain(), [0xfa, 0xab, 0x41]);
    kbc.writeCommand(0x60);
    kbc.writeData(I8042_CTR_KBDINT);
    kbc.writeData(0xf2);
    assert.deepEqual(drain(), [0xfa, 0xab, 0x83]);
  });

  it("acknowledges LEDs, typematic, scan set, enable, disable; echoes; resends on nonsense", () => {
    const { kbc, drain } = wiredController();
    for (const byte of [0xed, 0x07, 0xf3, 0x20, 0xf0, 0x02, 0xf4, 0xf5, 0xf6]) kbc.writeData(byte);
    assert.deepEqual(drain(), [0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa]);
    kbc.writeData(0xf0);
    kbc.writeData(0x00);
    assert.deepEqual(drain(), [0xfa, 0xfa, 0x41], "current set 2, as translated");
    kbc.writeData(0xee);
    kbc.writeData(0x12);
    assert.deepEqual(drain(), [0xee, 0xfe]);
  });

  it("holds keyboard bytes while the keyboard port is disabled, not controller replies", () => {
    const { kbc, drain, events } = wiredController();
    kbc.writeCommand(0xad);
    kbc.writeData(0xf4);
    kbc.writeCommand(0xaa);
    assert.deepEqual(drain(), [0x55]);
    kbc.writeCommand(0xae);
    assert.deepEqual(drain(), [0xfa]);
    assert.ok(events.includes("irq1 true"));
  });

  it("raises no IRQ1 with KBDINT clear, and keeps at most 16 bytes for a host that does not read", () => {
    const { kbc, events, drain } = wiredController();
    kbc.writeCommand(0x60);
    kbc.writeData(I8042_CTR_XLATE);
    for (let i = 0; i < 100; i++) kbc.writeData(0xee);
    assert.deepEqual(events, []);
    assert.equal(drain().length, 17, "the output buffer and 16 waiting");
  });
});
