/**
 * The chipset device worker: serves the chipset (workers/devices/chipset.ts) on one socket, whose
 * regions are chipsetRegions(socket.id), and carries its interrupt outputs to the owner. The
 * owner posts a ChipsetInit first, then ChipsetCommands; the worker posts ChipsetEvents back.
 *
 * Time: the timers run on performance.now() (every worker of a page or process shares its rate).
 * While the socket loop sleeps, a timeout set for the chipset's next deadline wakes the worker to
 * bring the timers' interrupts up to date, so a guest waiting for its tick needs no access.
 *
 * Output is gathered while the socket loop runs and posted once per batch, when the loop yields
 * (as the UART worker does): the 8259 pair's INT level when it differs from the last one posted,
 * I/O APIC messages in order, A20 changes, resets, the power-off and panics. How the local APICs receive them is the
 * owner's business; this interface stays small on purpose.
 */
import { OP_READ } from "../../assembly/abi/layout";
import { deliverMessage, setExtIntLevel } from "../apic-bus";
import { SocketServer, type IoMessage, type SocketEndpoint } from "../socket";
import { firstMessage, workerScope } from "../worker-handle";
import { Chipset, type ChipsetConfig } from "./chipset";
import type { Clock } from "./clock";
import type { InterruptMessage } from "./ioapic";

/**
 * The first message the owner posts: the socket carrying chipsetRegions(socket.id), and the
 * power-on configuration. With `driveApics`, the worker drives the local APICs itself, through
 * the VM's shared memory (I/O APIC messages by deliverMessage, the 8259's INT on the bootstrap
 * processor's LINT0), and posts no `apic` or `intr` events.
 */
export interface ChipsetInit {
  socket: SocketEndpoint;
  config: ChipsetConfig;
  driveApics?: boolean;
}

/**
 * What the owner posts after ChipsetInit. `irq`: an ISA IRQ line driven by a device in another
 * worker (COM1's IRQ4, say). `acknowledge`: the INTA cycle of a CPU taking the 8259's interrupt,
 * answered by a `vector` event. `eoi`: a local APIC's EOI broadcast for a level-triggered vector.
 * `power-button`: the ACPI fixed power button was pressed. `drain`: handle every access already in the socket, post its output, then answer `drained`.
 */
export type ChipsetCommand =
  | { type: "irq"; irq: number; level: boolean }
  | { type: "acknowledge" }
  | { type: "eoi"; vector: number }
  | { type: "power-button" }
  | { type: "drain" };

/**
 * What the worker posts. `intr`: the 8259 pair's INT output level (changes within a batch are
 * merged). `apic`: I/O APIC messages, in the order sent. `vector`: the answer to `acknowledge`.
 * `a20`: the gate changed. `reset`: the guest reset the machine. `power-off`: the guest entered
 * ACPI S5. `panic`: the guest's kernel panicked (pvpanic). `drained`: the answer to `drain`.
 */
export type ChipsetEvent =
  | { type: "intr"; level: boolean }
  | { type: "apic"; messages: InterruptMessage[] }
  | { type: "vector"; vector: number }
  | { type: "a20"; enabled: boolean }
  | { type: "reset" }
  | { type: "power-off" }
  | { type: "panic" }
  | { type: "drained" };

const post = (event: ChipsetEvent): void => workerScope.postMessage(event);
const clock: Clock = { now: () => performance.now() * 1e6 };

let reportedLevel = false;
let messages: InterruptMessage[] = [];
let flushQueued = false;
let timer: ReturnType<typeof setTimeout> | undefined;

const { socket, config, driveApics } = await firstMessage<ChipsetInit>();
/** The bootstrap processor, whose LINT0 the 8259's INT drives (MP spec 1.4, virtual wire mode). */
const BSP = 0;

const chipset = new Chipset(clock, config, {
  setPicInterrupt: scheduleFlush,
  deliver: (message) => {
    messages.push(message);
    scheduleFlush();
  },
  setA20: (enabled) => post({ type: "a20", enabled }),
  reset: () => post({ type: "reset" }),
  powerOff: () => post({ type: "power-off" }),
  panic: () => post({ type: "panic" }),
});

/** Posts the batch's interrupt output, then sets the timer for the next deadline. */
function flush(): void {
  flushQueued = false;
  if (messages.length > 0) {
    if (driveApics) for (const message of messages) deliverMessage(socket.memory, message);
    else post({ type: "apic", messages });
    messages = [];
  }
  if (chipset.pic.interruptLevel !== reportedLevel) {
    reportedLevel = chipset.pic.interruptLevel;
    if (driveApics) setExtIntLevel(socket.memory, BSP, reportedLevel);
    else post({ type: "intr", level: reportedLevel });
  }
  armTimer();
}

function scheduleFlush(): void {
  if (flushQueued) return;
  flushQueued = true;
  queueMicrotask(flush);
}

/** Wakes the worker at the chipset's next timer deadline (replacing any earlier wake-up). */
function armTimer(): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  const deadline = chipset.nextDeadline();
  if (deadline === Infinity) return;
  timer = setTimeout(() => {
    timer = undefined;
    chipset.update();
    flush();
  }, Math.max(0, (deadline - clock.now()) / 1e6));
}

function handle(msg: IoMessage): void {
  if (msg.op === OP_READ) {
    msg.data = chipset.read(msg.tag, msg.offset, msg.size);
    msg.dataHigh = msg.size === 8 ? 0xffffffff : 0; // no chipset register is 8 bytes wide
  } else {
    chipset.write(msg.tag, msg.offset, msg.size, msg.data);
  }
  // An access can change a deadline (a new count, a new rate) without raising any line.
  scheduleFlush();
}

function onCommand(command: ChipsetCommand): void {
  switch (command.type) {
    case "irq":
      chipset.setIsaIrq(command.irq, command.level);
      break;
    case "acknowledge":
      post({ type: "vector", vector: chipset.acknowledge() });
      break;
    case "eoi":
      chipset.eoi(command.vector);
      break;
    case "power-button":
      chipset.pm.pressPowerButton();
      break;
    case "drain":
      server.poll();
      chipset.update();
      flush();
      post({ type: "drained" });
      return;
  }
  scheduleFlush();
}

const server = new SocketServer(socket, handle);
workerScope.addEventListener("message", (event) => onCommand(event.data as ChipsetCommand));
armTimer();
await server.serveAsync();
