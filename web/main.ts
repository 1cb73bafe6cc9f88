/**
 * The first page: runs the hello machine (workers/hello-machine.ts) and shows what the guest
 * writes to COM1 in an xterm.js terminal, with the vCPU's exit in a status line. The terminal's
 * text is exposed as `window.vmConsoleText()` and the exit as `data-exit` on the status line.
 */
import "@xterm/xterm/css/xterm.css";
import "./style.css";
import { Terminal } from "@xterm/xterm";
import coreUrl from "../build/core.wasm?url";
import type { VcpuExit } from "../workers/exits";
import { HelloMachine } from "../workers/hello-machine";
import { webWorkerHandle } from "../workers/worker-handle";

declare global {
  interface Window {
    /** The terminal's text: one line per row, trailing blanks trimmed. */
    vmConsoleText(): string;
  }
}

/** What the status line shows (`data-state`), so styles and tests need not parse its text. */
type PageState = "loading" | "running" | "halted" | "error";

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html has no #${id}`);
  return found;
}

const statusLine = element("status");
const terminal = new Terminal({ rows: 12, cols: 80, disableStdin: true, cursorBlink: false });
terminal.open(element("terminal"));

window.vmConsoleText = () => {
  const buffer = terminal.buffer.active;
  const lines: string[] = [];
  for (let row = 0; row < buffer.length; row++) lines.push(buffer.getLine(row)?.translateToString(true) ?? "");
  return lines.join("\n").trimEnd();
};

function setStatus(state: PageState, text: string, exit?: VcpuExit["reason"]): void {
  statusLine.dataset.state = state;
  if (exit) statusLine.dataset.exit = exit;
  statusLine.textContent = text;
}

const hex = (value: number | bigint): string => `0x${value.toString(16)}`;

function describeExit(exit: VcpuExit): string {
  switch (exit.reason) {
    case "hlt":
      return "Guest halted (HLT).";
    case "io":
      return `Guest stopped at an unclaimed ${exit.space} ${exit.write ? "write" : "read"} at ${hex(exit.address)}.`;
    case "unsupported-instruction":
      return `Guest stopped at unsupported opcode ${hex(exit.opcode)} at ${hex(exit.rip)}.`;
    case "fetch-fault":
      return `Guest fetched code from unmapped address ${hex(exit.address)}.`;
    case "exception":
      return `Guest raised exception ${exit.vector} at ${hex(exit.rip)}.`;
    case "shutdown":
      return "Guest triple-faulted: the processor shut down.";
    case "interrupt-acknowledge":
      return "Guest took an ExtINT that no interrupt controller answered.";
  }
}

async function main(): Promise<void> {
  if (!crossOriginIsolated) {
    setStatus("error", "This page is not cross-origin isolated, so it cannot share memory with its workers. "
      + "Serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp "
      + "(npm start and vite preview do).");
    return;
  }
  setStatus("loading", "Compiling the core…");
  const core = await WebAssembly.compileStreaming(fetch(coreUrl));
  const machine = await HelloMachine.create({
    core,
    spawnVcpu: () => webWorkerHandle(new Worker(new URL("../workers/vcpu-worker.ts", import.meta.url), { type: "module" })),
    spawnUart: () => webWorkerHandle(new Worker(new URL("../workers/devices/uart-worker.ts", import.meta.url), { type: "module" })),
    onOutput: (bytes) => terminal.write(bytes),
  });
  try {
    setStatus("running", "Running the hello guest…");
    const exit = await machine.run();
    setStatus(exit.reason === "hlt" ? "halted" : "error", describeExit(exit), exit.reason);
  } finally {
    await machine.destroy();
  }
}

main().catch((error: unknown) => setStatus("error", `The machine failed: ${error instanceof Error ? error.message : String(error)}`));
