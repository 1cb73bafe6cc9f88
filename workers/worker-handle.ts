/**
 * The two ends of a worker, the same in a browser and in Node. Owners get a WorkerHandle from a
 * spawner (web/ uses `new Worker(new URL(...), { type: "module" })`, Node uses worker_threads via
 * workers/node-spawn.ts); worker modules talk to their owner through `workerScope`.
 */

/** The owner's end of a worker. */
export interface WorkerHandle {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  /** Registers a listener for messages from the worker. */
  onMessage(listener: (message: unknown) => void): void;
  /** Registers a listener for an uncaught error in the worker. */
  onError(listener: (error: Error) => void): void;
  terminate(): void;
}

/** Wraps a browser Web Worker. */
export function webWorkerHandle(worker: Worker): WorkerHandle {
  return {
    postMessage: (message, transfer = []) => worker.postMessage(message, transfer),
    onMessage: (listener) => worker.addEventListener("message", (event) => listener(event.data)),
    onError: (listener) => worker.addEventListener("error", (event) => listener(new Error(event.message || "worker failed to load"))),
    terminate: () => worker.terminate(),
  };
}

/** The worker's end: its global scope (a browser worker's `self`, or the Node bootstrap's shim). */
export interface WorkerScope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
}

export const workerScope = globalThis as unknown as WorkerScope;

/** Receives the first message posted to this worker. */
export function firstMessage<T>(): Promise<T> {
  return new Promise((resolve) => {
    let done = false;
    workerScope.addEventListener("message", (event) => {
      if (!done) {
        done = true;
        resolve(event.data as T);
      }
    });
  });
}
