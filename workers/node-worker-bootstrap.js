// Runs inside a Node worker thread: gives the thread the browser worker's global API on top of
// `parentPort`, then loads the worker module named in workerData. Plain JavaScript because Node 20
// loads a worker's entry before any TypeScript loader is registered in that thread; a TypeScript
// entry gets tsx registered here first.
import { parentPort, workerData } from "node:worker_threads";

if (!parentPort) throw new Error("node-worker-bootstrap must run in a worker thread");
const port = parentPort;
Object.assign(globalThis, {
  postMessage: (message, transfer) => port.postMessage(message, transfer),
  addEventListener: (type, listener) => {
    if (type !== "message") throw new Error(`worker shim supports only "message" events, not ${type}`);
    port.on("message", (data) => listener({ data }));
  },
});
const { entry } = workerData;
if (entry.endsWith(".ts")) (await import("tsx/esm/api")).register();
await import(entry);
