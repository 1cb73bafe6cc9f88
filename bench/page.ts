/// <reference types="vite/client" />
/**
 * The bench page (served by bench/run.ts through Vite): runs the suite (or with `?cpu` only its
 * CPU workloads) with browser workers and leaves the outcome in `window.benchResult` or
 * `window.benchError`.
 */
import coreUrl from "../build/core.wasm?url";
import { webWorkerHandle } from "../workers/worker-handle";
import { runCpuSuite } from "./cpu";
import { runSuite, type BenchEnv, type SuiteResult } from "./suite";

declare global {
  interface Window {
    benchResult?: SuiteResult | Pick<SuiteResult, "cpu">;
    benchError?: string;
  }
}

try {
  // SharedArrayBuffer and shared memories reach workers only in a cross-origin isolated page.
  if (!crossOriginIsolated) throw new Error("the page is not cross-origin isolated (COOP/COEP headers missing)");
  const env: BenchEnv = {
    core: await WebAssembly.compileStreaming(fetch(coreUrl)),
    spawnBench: () => webWorkerHandle(new Worker(new URL("./bench-worker.ts", import.meta.url), { type: "module" })),
    spawnVcpu: () => webWorkerHandle(new Worker(new URL("../workers/vcpu-worker.ts", import.meta.url), { type: "module" })),
    log: (line) => console.log(line),
  };
  // `?cpu`: the guest CPU workloads only (bench/run.ts --cpu).
  window.benchResult = new URLSearchParams(location.search).has("cpu") ? { cpu: await runCpuSuite(env) } : await runSuite(env);
} catch (error) {
  window.benchError = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : String(error);
}
