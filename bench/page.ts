/// <reference types="vite/client" />
/**
 * The bench page (served by bench/run.ts through Vite): runs the suite with browser workers and
 * leaves the outcome in `window.benchResult` or `window.benchError`.
 */
import coreUrl from "../build/core.wasm?url";
import { webWorkerHandle } from "../workers/worker-handle";
import { runSuite, type SuiteResult } from "./suite";

declare global {
  interface Window {
    benchResult?: SuiteResult;
    benchError?: string;
  }
}

try {
  // SharedArrayBuffer and shared memories reach workers only in a cross-origin isolated page.
  if (!crossOriginIsolated) throw new Error("the page is not cross-origin isolated (COOP/COEP headers missing)");
  window.benchResult = await runSuite({
    core: await WebAssembly.compileStreaming(fetch(coreUrl)),
    spawnBench: () => webWorkerHandle(new Worker(new URL("./bench-worker.ts", import.meta.url), { type: "module" })),
    spawnVcpu: () => webWorkerHandle(new Worker(new URL("../workers/vcpu-worker.ts", import.meta.url), { type: "module" })),
    log: (line) => console.log(line),
  });
} catch (error) {
  window.benchError = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : String(error);
}
