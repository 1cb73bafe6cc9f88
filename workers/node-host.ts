/**
 * What a VM needs from Node (tests, bench, command-line tools): the compiled core from
 * build/core.wasm, and vCPU and device workers on worker_threads.
 */
import { readFile } from "node:fs/promises";
import { spawnNodeWorker } from "./node-spawn";
import type { WorkerHandle } from "./worker-handle";

const CORE_PATH = new URL("../build/core.wasm", import.meta.url);

/** Compiles build/core.wasm; a missing build gets a message saying how to make it. */
export async function loadCore(): Promise<WebAssembly.Module> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await readFile(CORE_PATH));
  } catch {
    throw new Error(`${CORE_PATH.pathname} is missing: run "npm run build:wasm" first`);
  }
  return WebAssembly.compile(bytes);
}

/** Spawns a vCPU worker thread. */
export const spawnVcpu = (): WorkerHandle => spawnNodeWorker(new URL("./vcpu-worker.ts", import.meta.url));

/** Spawns the COM1 UART worker and the chipset worker. */
export const spawnUart = (): WorkerHandle => spawnNodeWorker(new URL("./devices/uart-worker.ts", import.meta.url));
export const spawnChipset = (): WorkerHandle => spawnNodeWorker(new URL("./devices/chipset-worker.ts", import.meta.url));
