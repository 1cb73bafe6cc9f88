/**
 * The UART device worker: serves one 16550 (workers/devices/uart-16550.ts) on a socket and
 * carries its serial line to the owner by messages. The owner posts a UartInit first, then
 * UartCommands; the worker posts UartEvents back.
 *
 * Registers are bytes: a wider access is refused (a read answers OP_ERROR, which the vCPU turns
 * into all ones; a posted write is dropped). Transmitted bytes and interrupt-line changes are
 * gathered while the socket loop runs and posted once per batch, when the loop yields. Input
 * from the owner waits in a bounded backlog and enters the receive FIFO as the guest makes room,
 * like a flow-controlled line; input beyond the backlog goes to the UART at once and overruns it,
 * so the worker's memory stays bounded whatever the owner sends.
 *
 * With a register file (UartInit.shadow), LSR and MSR are published there after every change, so
 * the guest's polls of them (Linux's console waits on LSR before each byte) need no message; a
 * read that would clear something (LSR with OE, MSR with deltas) is left to the socket.
 */
import { OP_READ } from "../../assembly/abi/layout";
import { RegisterFile } from "../register-file";
import { SocketServer, type IoMessage, type SocketEndpoint } from "../socket";
import { firstMessage, workerScope } from "../worker-handle";
import { Uart16550, UART_REGISTER_COUNT } from "./uart-16550";

/**
 * The first message the owner posts: the socket whose port range is the UART's registers, and
 * the first of the socket's register-file slots that range names (its `shadow`), if it names any.
 */
export interface UartInit { socket: SocketEndpoint; shadow?: number }

/**
 * What the owner posts after UartInit. `rx`: bytes arriving on the serial line. `drain`: handle
 * every access already in the socket, post its output, then answer `drained`; the owner sends it
 * after an exit to get all output the guest wrote before it.
 */
export type UartCommand = { type: "rx"; data: Uint8Array } | { type: "drain" };

/**
 * What the worker posts. `tx`: bytes the guest transmitted, in order. `irq`: the interrupt line's
 * level at the end of a batch, when it differs from the last one posted (changes within a batch
 * are merged). `drained`: the answer to `drain`, posted after its output.
 */
export type UartEvent = { type: "tx"; data: Uint8Array } | { type: "irq"; level: boolean } | { type: "drained" };

/** Most bytes of owner input held back while the receive FIFO is full. */
const RX_BACKLOG_LIMIT = 4096;

const post = (event: UartEvent, transfer: Transferable[] = []): void => workerScope.postMessage(event, transfer);

let transmitted: number[] = [];
let flushQueued = false;
let reportedLevel = false;
/** The line went low during the batch: a high level at its end is a new edge, reported as one. */
let droppedInBatch = false;
/** The line as last sampled, after an access or new input. */
let sampledLevel = false;

/**
 * Samples the line between steps the guest could tell apart (an access, input arriving); a
 * momentary drop inside one register access is no edge.
 */
function sample(): void {
  if (sampledLevel && !uart.interruptLevel) droppedInBatch = true;
  sampledLevel = uart.interruptLevel;
}
const backlog: number[] = [];

/** Posts the batch's output. Runs as a microtask, so after the socket loop's current run. */
function flush(): void {
  flushQueued = false;
  if (transmitted.length > 0) {
    const data = Uint8Array.from(transmitted);
    transmitted = [];
    post({ type: "tx", data }, [data.buffer]);
  }
  // An edge-triggered interrupt controller needs every rising edge: a drop and a rise inside
  // one batch are posted as both, not merged into "still high".
  const level = uart.interruptLevel;
  if (reportedLevel && level && droppedInBatch) {
    post({ type: "irq", level: false });
    post({ type: "irq", level: true });
  } else if (level !== reportedLevel) {
    post({ type: "irq", level });
  }
  reportedLevel = level;
  droppedInBatch = false;
}

function scheduleFlush(): void {
  if (flushQueued) return;
  flushQueued = true;
  queueMicrotask(flush);
}

const uart = new Uart16550({
  transmit: (byte) => {
    transmitted.push(byte);
    scheduleFlush();
  },
  setInterrupt: scheduleFlush,
});

/** Moves backlogged input into the receive FIFO, as much as it has room for. */
function feed(): void {
  const room = uart.rxRoom();
  if (room > 0 && backlog.length > 0) uart.receive(backlog.splice(0, room));
}

/** Shows the vCPUs the UART's state now: inside each access, before the socket frees it. */
function publish(): void {
  if (!registers) return;
  for (let offset = 0; offset < UART_REGISTER_COUNT; offset++) {
    registers.publish(offset, uart.peekStatus(offset), !uart.writeChangesStatus(offset));
  }
}

function handle(msg: IoMessage): void {
  if (msg.size !== 1) throw new RangeError(`16550 registers are bytes, not ${msg.size}-byte accesses (offset ${msg.offset})`);
  if (msg.op === OP_READ) msg.data = uart.read(msg.offset);
  else uart.write(msg.offset, msg.data);
  sample();
  feed();
  sample();
  publish();
}

function onCommand(command: UartCommand): void {
  switch (command.type) {
    case "rx": {
      const { data } = command;
      const kept = Math.min(data.length, RX_BACKLOG_LIMIT - backlog.length);
      for (let i = 0; i < kept; i++) backlog.push(data[i]);
      feed();
      if (kept < data.length) uart.receive(data.subarray(kept));
      sample();
      publish();
      break;
    }
    case "drain":
      server.poll();
      flush();
      post({ type: "drained" });
      break;
  }
}

const { socket, shadow } = await firstMessage<UartInit>();
const registers = shadow === undefined ? undefined : new RegisterFile(socket, shadow, UART_REGISTER_COUNT);
publish();
const server = new SocketServer(socket, handle);
workerScope.addEventListener("message", (event) => onCommand(event.data as UartCommand));
await server.serveAsync();
