// The UART worker shell over a real socket: the test thread plays the vCPU's side of the ring.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { OP_READ, OP_WRITE, OP_WRITE_POSTED, SPACE_PIO } from "../assembly/abi/layout";
import {
  UART_FCR, UART_IER, UART_IER_ERBFI, UART_LCR, UART_LSR, UART_LSR_DR, UART_LSR_OE, UART_LSR_TEMT, UART_LSR_THRE,
  UART_MCR, UART_MCR_LOOP, UART_MSR, UART_MSR_CTS, UART_MSR_DCD, UART_MSR_DSR, UART_RBR, UART_SCR, UART_THR,
} from "../workers/devices/uart-16550";
import type { UartCommand, UartEvent, UartInit } from "../workers/devices/uart-worker";
import { loadCore, spawnVcpu } from "../workers/node-host";
import { spawnNodeWorker } from "../workers/node-spawn";
import { RegisterFile } from "../workers/register-file";
import { newMessage, SocketError, SocketRequester } from "../workers/socket";
import { Vm } from "../workers/vm";
import type { WorkerHandle } from "../workers/worker-handle";

describe("UART worker", () => {
  let vm: Vm;
  let worker: WorkerHandle;
  let requester: SocketRequester;
  /** The UART's register file as the vCPU sees it. */
  let registers: RegisterFile;
  const events: UartEvent[] = [];
  let drained: () => void = () => undefined;

  const access = (op: number, offset: number, data = 0, size = 1): number => {
    const msg = newMessage();
    Object.assign(msg, { op, size, offset, data, space: SPACE_PIO });
    if (op === OP_WRITE_POSTED) requester.post(msg);
    else requester.call(msg);
    return msg.data;
  };
  const command = (cmd: UartCommand): void => worker.postMessage(cmd);
  /** Resolves once the worker has handled everything sent before, with its output received. */
  const drain = (): Promise<void> => new Promise((resolve) => {
    drained = resolve;
    command({ type: "drain" });
  });
  const eventsOf = <T extends UartEvent["type"]>(type: T) => events.filter((e): e is Extract<UartEvent, { type: T }> => e.type === type);

  before(async () => {
    vm = new Vm({ ramBytes: 1 << 16, maxVcpus: 1, maxSockets: 1, core: await loadCore(), spawnVcpu });
    const socket = vm.createSocket();
    requester = new SocketRequester(socket, 0);
    registers = new RegisterFile(socket, 0, 8);
    // Queued before the worker starts, so its first poll takes all of them in one batch.
    for (const byte of Buffer.from("batch")) access(OP_WRITE_POSTED, UART_THR, byte);
    worker = spawnNodeWorker(new URL("../workers/devices/uart-worker.ts", import.meta.url));
    worker.onMessage((message) => {
      const event = message as UartEvent;
      if (event.type === "drained") drained();
      else events.push(event);
    });
    worker.postMessage({ socket, shadow: 0 } satisfies UartInit);
    await drain();
  });
  after(() => worker.terminate());

  it("posts the bytes of one handled batch as one tx message", () => {
    const tx = eventsOf("tx");
    assert.equal(tx.length, 1);
    assert.equal(Buffer.from(tx[0].data).toString("latin1"), "batch");
  });

  it("feeds rx input to the receiver and reports every edge of the interrupt line", async () => {
    access(OP_WRITE, UART_IER, UART_IER_ERBFI);
    command({ type: "rx", data: Uint8Array.from(Buffer.from("hi")) });
    await drain();
    assert.deepEqual(eventsOf("irq"), [{ type: "irq", level: true }]);
    const got: number[] = [];
    while (access(OP_READ, UART_LSR) & UART_LSR_DR) got.push(access(OP_READ, UART_RBR));
    assert.equal(Buffer.from(got).toString("latin1"), "hi");
    await drain();
    // Reading 'h' ends the character timeout, which the byte left behind raises again: a new
    // rising edge, reported as one so an edge-triggered controller sees it; reading 'i' ends it.
    const irq = (level: boolean) => ({ type: "irq", level });
    assert.deepEqual(eventsOf("irq"), [irq(true), irq(false), irq(true), irq(false)]);
  });

  it("paces input longer than the receive FIFO so none of it is lost", async () => {
    const text = "a line longer than the sixteen-byte receive FIFO of a 16550A";
    command({ type: "rx", data: Uint8Array.from(Buffer.from(text)) });
    await drain();
    const got: number[] = [];
    while (access(OP_READ, UART_LSR) & UART_LSR_DR) got.push(access(OP_READ, UART_RBR));
    assert.equal(Buffer.from(got).toString("latin1"), text);
  });

  it("refuses accesses wider than a byte", () => {
    assert.throws(() => access(OP_READ, UART_LSR, 0, 2), SocketError);
    assert.equal(access(OP_READ, UART_LSR) & UART_LSR_DR, 0, "and keeps serving byte accesses");
  });

  it("publishes LSR and MSR as a read would return them, and only while reading them clears nothing", async () => {
    const idle = UART_LSR_THRE | UART_LSR_TEMT;
    const attached = UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
    await drain();
    assert.equal(registers.readable(UART_LSR), idle);
    assert.equal(registers.readable(UART_MSR), attached);
    for (const offset of [UART_RBR, UART_FCR, UART_MCR]) assert.equal(registers.readable(offset), undefined, `offset ${offset} is not published`);
    command({ type: "rx", data: Uint8Array.of(0x78) });
    await drain();
    assert.equal(registers.readable(UART_LSR), idle | UART_LSR_DR);
    assert.equal(access(OP_READ, UART_RBR), 0x78);
    assert.equal(registers.readable(UART_LSR), idle);
    // Loopback with FIFOs off: the modem inputs drop (deltas to clear) and a second byte overruns.
    access(OP_WRITE, UART_FCR, 0);
    access(OP_WRITE, UART_MCR, UART_MCR_LOOP);
    assert.equal(registers.readable(UART_MSR), undefined, "MSR has deltas to clear");
    access(OP_WRITE, UART_THR, 0x61);
    access(OP_WRITE, UART_THR, 0x62);
    assert.equal(registers.readable(UART_LSR), undefined, "LSR has an overrun to clear");
    assert.equal(access(OP_READ, UART_LSR), idle | UART_LSR_DR | UART_LSR_OE);
    assert.equal(registers.readable(UART_LSR), idle | UART_LSR_DR);
    assert.equal(access(OP_READ, UART_MSR) & 0xf0, 0);
    assert.equal(registers.readable(UART_MSR), 0);
    assert.equal(access(OP_READ, UART_RBR), 0x62);
    assert.equal(registers.readable(UART_LSR), idle);
    access(OP_WRITE, UART_MCR, 0);
    access(OP_READ, UART_MSR);
    assert.equal(registers.readable(UART_MSR), attached);
  });

  it("marks writes that change nothing published as quiet: THR outside loopback, IER, LCR, SCR", () => {
    const quiet = (offset: number): boolean => registers.quietWrite(offset);
    assert.deepEqual([UART_THR, UART_IER, UART_FCR, UART_LCR, UART_MCR, UART_SCR].map(quiet), [true, true, false, true, false, true]);
    access(OP_WRITE, UART_MCR, UART_MCR_LOOP);
    assert.equal(quiet(UART_THR), false, "in loopback a THR write is received");
    access(OP_WRITE, UART_MCR, 0);
    access(OP_READ, UART_MSR);
  });
});
