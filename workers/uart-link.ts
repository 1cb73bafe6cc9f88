/** The owner's side of a UART worker (workers/devices/uart-worker.ts). */
import type { UartCommand, UartEvent, UartInit } from "./devices/uart-worker";
import type { WorkerHandle } from "./worker-handle";

/**
 * The owner's end of a UART worker: starts it on a socket (and register file), hands its output to a callback, and
 * drains it on request. A worker failure rejects every drain, pending or later.
 */
export class UartLink {
  private readonly drainWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private failure: Error | undefined;

  constructor(
    private readonly worker: WorkerHandle,
    init: UartInit,
    onOutput: (bytes: Uint8Array) => void,
    onInterrupt?: (level: boolean) => void,
  ) {
    worker.onError((error) => this.fail(new Error(`UART worker failed: ${error.message}`)));
    worker.onMessage((message) => {
      const event = message as UartEvent;
      if (event.type === "tx") onOutput(event.data);
      else if (event.type === "drained") this.drainWaiters.shift()?.resolve();
      else onInterrupt?.(event.level);
    });
    worker.postMessage(init);
  }

  /** Resolves once every access already in the socket is handled and its output delivered. */
  drain(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.drainWaiters.push({ resolve, reject });
      this.worker.postMessage({ type: "drain" } satisfies UartCommand);
    });
  }

  /** Bytes arriving on the serial line, for the guest to receive. */
  receive(data: Uint8Array): void {
    this.worker.postMessage({ type: "rx", data } satisfies UartCommand);
  }

  terminate(): void {
    this.worker.terminate();
    this.fail(new Error("the UART worker was stopped"));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.drainWaiters.splice(0)) waiter.reject(this.failure);
  }
}
