/**
 * Starts worker modules under Node's worker_threads with the browser worker's global API
 * (`postMessage`, `addEventListener("message")`), so worker code is written once.
 */
import { Worker } from "node:worker_threads";
import type { WorkerHandle } from "./worker-handle";

const bootstrap = new URL("./node-worker-bootstrap.js", import.meta.url);

/** Spawns the worker module at `entry` (a file URL) in a Node worker thread. */
export function spawnNodeWorker(entry: URL): WorkerHandle {
  const worker = new Worker(bootstrap, { workerData: { entry: entry.href } });
  return {
    postMessage: (message, transfer = []) => worker.postMessage(message, transfer as never),
    onMessage: (listener) => worker.on("message", listener),
    onError: (listener) => worker.on("error", listener),
    terminate: () => void worker.terminate(),
  };
}
