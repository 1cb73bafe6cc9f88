// The chipset worker shell over a real socket: the test thread plays the vCPU's side of the ring
// and the owner's side of the worker's messages.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { OP_READ, OP_WRITE, OP_WRITE_POSTED, SPACE_MMIO, SPACE_PIO } from "../assembly/abi/layout";
import { ChipsetTag } from "../workers/devices/chipset";
import type { ChipsetCommand, ChipsetEvent, ChipsetInit } from "../workers/devices/chipset-worker";
import { loadCore, spawnVcpu } from "../workers/node-host";
import { spawnNodeWorker } from "../workers/node-spawn";
import { newMessage, SocketRequester } from "../workers/socket";
import { Vm } from "../workers/vm";
import type { WorkerHandle } from "../workers/worker-handle";

describe("chipset worker", () => {
  let vm: Vm;
  let worker: WorkerHandle;
  let requester: SocketRequester;
  const events: ChipsetEvent[] = [];
  let drained: () => void = () => undefined;
  const waiters: Array<() => void> = [];

  const access = (op: number, tag: number, offset: number, data = 0, size = 1): number => {
    const msg = newMessage();
    Object.assign(msg, { op, size, offset, data, tag, space: tag === ChipsetTag.Ioapic ? SPACE_MMIO : SPACE_PIO });
    if (op === OP_WRITE_POSTED) requester.post(msg);
    else requester.call(msg);
    return msg.data;
  };
  const out = (tag: number, offset: number, data: number, size = 1): void => void access(OP_WRITE_POSTED, tag, offset, data, size);
  const command = (cmd: ChipsetCommand): void => worker.postMessage(cmd);
  const drain = (): Promise<void> => new Promise((resolve) => {
    drained = resolve;
    command({ type: "drain" });
  });
  const eventsOf = <T extends ChipsetEvent["type"]>(type: T) => events.filter((e): e is Extract<ChipsetEvent, { type: T }> => e.type === type);
  /** Resolves at the first event (already posted or not) that `test` accepts. */
  const eventually = async (test: () => boolean, ms = 2000): Promise<void> => {
    const start = Date.now();
    while (!test()) {
      if (Date.now() - start > ms) throw new Error("timed out waiting for a chipset event");
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };

  before(async () => {
    vm = new Vm({ ramBytes: 1 << 16, maxVcpus: 1, maxSockets: 1, core: await loadCore(), spawnVcpu });
    const socket = vm.createSocket();
    requester = new SocketRequester(socket, 0);
    worker = spawnNodeWorker(new URL("../workers/devices/chipset-worker.ts", import.meta.url));
    worker.onMessage((message) => {
      const event = message as ChipsetEvent;
      if (event.type === "drained") drained();
      else events.push(event);
      waiters.splice(0).forEach((wake) => wake());
    });
    const init: ChipsetInit = {
      socket,
      config: { rtc: { wallClockMs: Date.UTC(2025, 0, 1), ramBelow4G: 128 << 20, ramAbove4G: 0 }, ioapicId: 0 },
    };
    worker.postMessage(init);
    await drain();
  });
  after(() => worker.terminate());

  it("answers port reads: the i8042 self-test, the host bridge's IDs, CMOS memory size", () => {
    out(ChipsetTag.KbcCommand, 0, 0xaa);
    assert.equal(access(OP_READ, ChipsetTag.KbcData, 0), 0x55);
    access(OP_WRITE, ChipsetTag.PciConfig, 0, 0x80000000, 4);
    assert.equal(access(OP_READ, ChipsetTag.PciConfig, 4, 0, 4), 0x12378086);
    out(ChipsetTag.Rtc, 0, 0x34);
    assert.equal(access(OP_READ, ChipsetTag.Rtc, 1), 0x00);
    out(ChipsetTag.Rtc, 0, 0x35);
    assert.equal(access(OP_READ, ChipsetTag.Rtc, 1), 0x07, "112 MiB above 16 MiB in 64 KiB units");
    assert.equal(access(OP_READ, ChipsetTag.Ioapic, 0x10, 0, 8), 0xffffffff, "an 8-byte access reads all ones");
  });

  it("wakes at the PIT's deadline and posts the 8259's INT without any access", async () => {
    // init_8259A (ICW1 to the command port, ICW2-4 to the data port), IRQ0 unmasked only, then
    // the PIT counting ~5 ms once in mode 0, whose output then stays high until the INTA (mode 2's
    // drops for a tick each period, and an INTA landing there reads the spurious IRQ 7).
    for (const [pic, vectors, icw3] of [[ChipsetTag.PicMaster, 0x30, 0x04], [ChipsetTag.PicSlave, 0x38, 0x02]] as const) {
      out(pic, 0, 0x11);
      out(pic, 1, vectors);
      out(pic, 1, icw3);
      out(pic, 1, 0x01);
    }
    out(ChipsetTag.PicMaster, 1, 0xfe);
    out(ChipsetTag.PicSlave, 1, 0xff);
    // ICW1 cleared the masks, so the keyboard's IRQ 1 from the test before may have raised INT
    // until the mask above: only an INT after the PIT is programmed counts.
    await drain();
    const earlier = eventsOf("intr").length;
    out(ChipsetTag.Pit, 3, 0x30);
    out(ChipsetTag.Pit, 0, 5966 & 0xff);
    out(ChipsetTag.Pit, 0, 5966 >> 8);
    await drain();
    await eventually(() => eventsOf("intr").slice(earlier).some((e) => e.level));
    command({ type: "acknowledge" });
    await eventually(() => eventsOf("vector").length > 0);
    assert.deepEqual(eventsOf("vector"), [{ type: "vector", vector: 0x30 }]);
    await eventually(() => eventsOf("intr").at(-1)?.level === false);
    out(ChipsetTag.PicMaster, 0, 0x20);
    out(ChipsetTag.Pit, 3, 0x30); // mode 0 again with no count: the counter stops
    await drain();
  });

  it("posts I/O APIC messages for IRQ0 on pin 2 and for an IRQ the owner drives", async () => {
    access(OP_WRITE, ChipsetTag.Ioapic, 0x00, 0x10 + 2 * 4, 4);
    access(OP_WRITE, ChipsetTag.Ioapic, 0x10, 0x8000 | 0x24, 4); // pin 4: level, vector 0x24
    command({ type: "irq", irq: 4, level: true });
    await drain();
    const level = { destination: 0, destMode: "physical", deliveryMode: 0, vector: 0x24, trigger: "level" } as const;
    assert.deepEqual(eventsOf("apic"), [{ type: "apic", messages: [level] }]);
    command({ type: "eoi", vector: 0x24 });
    await drain();
    assert.deepEqual(eventsOf("apic").at(-1), { type: "apic", messages: [level] }, "still asserted: sent again after EOI");
    command({ type: "irq", irq: 4, level: false });
    access(OP_WRITE, ChipsetTag.Ioapic, 0x00, 0x10 + 2 * 2, 4);
    access(OP_WRITE, ChipsetTag.Ioapic, 0x10, 0x31, 4); // pin 2 (IRQ0): edge, vector 0x31
    out(ChipsetTag.Pit, 3, 0x30);
    out(ChipsetTag.Pit, 0, 100);
    out(ChipsetTag.Pit, 0, 0);
    await eventually(() => eventsOf("apic").some((e) => e.messages.some((m) => m.vector === 0x31)));
  });

  it("posts the guest's reboot (i8042 pulse 0xFE) and A20 changes", async () => {
    out(ChipsetTag.KbcCommand, 0, 0xd1);
    out(ChipsetTag.KbcData, 0, 0x01);
    out(ChipsetTag.KbcCommand, 0, 0xfe);
    await drain();
    assert.deepEqual(events.filter((e) => e.type === "a20" || e.type === "reset"), [{ type: "a20", enabled: false }, { type: "reset" }]);
  });

  it("posts power-off when the guest writes SLP_EN with the soft-off type, and reset for the reset control register", async () => {
    events.length = 0;
    out(ChipsetTag.Pm1aControl, 0, 5 << 10, 2); // SLP_TYP = S5, as ACPICA writes it first
    await drain();
    assert.deepEqual(events, []);
    out(ChipsetTag.Pm1aControl, 0, (5 << 10) | (1 << 13), 2); // then SLP_EN
    await drain();
    assert.deepEqual(events, [{ type: "power-off" }]);
    out(ChipsetTag.PciConfig, 1, 0x06); // outb(0x06, 0xcf9): the FADT's RESET_REG
    await drain();
    assert.deepEqual(events, [{ type: "power-off" }, { type: "reset" }]);
  });

  it("reads the PM timer whole in one dword, moving at 3.579545 MHz", async () => {
    const first = access(OP_READ, ChipsetTag.PmTimer, 0, 0, 4);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const ticks = access(OP_READ, ChipsetTag.PmTimer, 0, 0, 4) - first;
    assert.ok(ticks >= 0.019 * 3_579_545 && ticks < 0.5 * 3_579_545, `${ticks} ticks in 20 ms`);
  });

  it("raises the SCI on IRQ 9 (level, I/O APIC pin 9) when the power button is pressed with PWRBTN_EN set", async () => {
    access(OP_WRITE, ChipsetTag.Ioapic, 0x00, 0x10 + 2 * 9, 4);
    access(OP_WRITE, ChipsetTag.Ioapic, 0x10, 0x8000 | 0x39, 4); // pin 9: level, vector 0x39
    out(ChipsetTag.Pm1aEvent, 2, 1 << 8, 2); // PWRBTN_EN
    events.length = 0;
    command({ type: "power-button" });
    await drain();
    const sci = { destination: 0, destMode: "physical", deliveryMode: 0, vector: 0x39, trigger: "level" } as const;
    assert.deepEqual(events, [{ type: "apic", messages: [sci] }]);
    assert.equal(access(OP_READ, ChipsetTag.Pm1aEvent, 0, 0, 2), 1 << 8, "PWRBTN_STS");
    out(ChipsetTag.Pm1aEvent, 0, 1 << 8, 2); // the OS clears it: the SCI falls
    command({ type: "eoi", vector: 0x39 });
    await drain();
    assert.deepEqual(events, [{ type: "apic", messages: [sci] }], "not sent again after EOI");
  });
});
