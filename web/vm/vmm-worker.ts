/**
 * The VMM worker: one per VM. It serves the Vmm (web/vm/vmm.ts) to the page by Comlink and starts
 * the machine's own workers (vCPU, COM1's UART, chipset) as nested workers, so nothing of the
 * machine runs on the page's thread.
 */
import { expose } from "comlink";
import coreUrl from "../../build/core.wasm?url";
import { webWorkerHandle } from "../../workers/worker-handle";
import { Vmm } from "./vmm";

expose(new Vmm({
  loadCore: () => WebAssembly.compileStreaming(fetch(coreUrl)),
  // Written out whole, so Vite sees each `new Worker(new URL(...))` and bundles the worker.
  spawnVcpu: () => webWorkerHandle(new Worker(new URL("../../workers/vcpu-worker.ts", import.meta.url), { type: "module" })),
  spawnUart: () => webWorkerHandle(new Worker(new URL("../../workers/devices/uart-worker.ts", import.meta.url), { type: "module" })),
  spawnChipset: () => webWorkerHandle(new Worker(new URL("../../workers/devices/chipset-worker.ts", import.meta.url), { type: "module" })),
}));
