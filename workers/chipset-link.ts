/** The owner's side of the chipset worker (workers/devices/chipset-worker.ts). */
import type { ChipsetConfig } from "./devices/chipset";
import type { ChipsetCommand, ChipsetEvent, ChipsetInit } from "./devices/chipset-worker";
import type { SocketEndpoint } from "./socket";
import type { WorkerHandle } from "./worker-handle";

type Waiter<T> = { resolve: (value: T) => void; reject: (error: Error) => void };

/** What the chipset worker tells the owner about the machine as a whole. */
export interface ChipsetMachineEvents {
  /** The guest reset the machine. */
  onReset: () => void;
  /** The guest turned the machine off (ACPI S5). */
  onPowerOff: () => void;
  onPanic: () => void;
}

/**
 * Starts the chipset worker driving the local APICs itself, and carries what still goes through
 * the owner: IRQ lines of devices in other workers, the INTA cycle, resets, the power-off and a panic.
 * Answers come back in the order asked, so one queue per kind of answer suffices.
 */
export class ChipsetLink {
  private readonly vectorWaiters: Waiter<number>[] = [];
  private readonly drainWaiters: Waiter<void>[] = [];
  private failure: Error | undefined;

  constructor(private readonly worker: WorkerHandle, socket: SocketEndpoint, config: ChipsetConfig, machine: ChipsetMachineEvents) {
    worker.onError((error) => this.fail(new Error(`chipset worker failed: ${error.message}`)));
    worker.onMessage((message) => {
      const event = message as ChipsetEvent;
      if (event.type === "vector") this.vectorWaiters.shift()?.resolve(event.vector);
      else if (event.type === "drained") this.drainWaiters.shift()?.resolve();
      else if (event.type === "reset") machine.onReset();
      else if (event.type === "power-off") machine.onPowerOff();
      else if (event.type === "panic") machine.onPanic();
      // "a20": the gate is always open on this machine (RAM is one flat region). "apic" and
      // "intr" are not posted: the worker delivers them itself.
    });
    worker.postMessage({ socket, config, driveApics: true } satisfies ChipsetInit);
  }

  /** Drives an ISA IRQ line from a device in another worker. */
  setIrq(irq: number, level: boolean): void {
    this.send({ type: "irq", irq, level });
  }

  /** Presses the ACPI fixed power button. */
  pressPowerButton(): void {
    this.send({ type: "power-button" });
  }

  /** The INTA cycle: the vector the 8259 pair puts on the bus. */
  acknowledge(): Promise<number> {
    return this.ask(this.vectorWaiters, { type: "acknowledge" });
  }

  /** Resolves once every access already in the socket is handled. */
  drain(): Promise<void> {
    return this.ask(this.drainWaiters, { type: "drain" });
  }

  terminate(): void {
    this.worker.terminate();
    this.fail(new Error("the chipset worker was stopped"));
  }

  private send(command: ChipsetCommand): void {
    this.worker.postMessage(command);
  }

  private ask<T>(waiters: Waiter<T>[], command: ChipsetCommand): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      waiters.push({ resolve, reject });
      this.send(command);
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of [...this.vectorWaiters.splice(0), ...this.drainWaiters.splice(0)]) waiter.reject(this.failure);
  }
}
