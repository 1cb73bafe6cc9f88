/**
 * The page: boots the cached default guest (guest/default.json, served at /guest/ by
 * vite.config.ts) on the PC machine (workers/pc-machine.ts) with COM1 on an xterm.js terminal
 * that takes the keyboard. The terminal's text is exposed as `window.vmConsoleText()`; the status
 * line carries the page state in `data-state` and, at the end, the guest's fate in `data-fate`.
 */
import "@xterm/xterm/css/xterm.css";
import "./style.css";
import { Terminal } from "@xterm/xterm";
import coreUrl from "../build/core.wasm?url";
import { parseGuestManifest } from "../workers/boot/guest-manifest";
import { PcMachine, type MachineFate } from "../workers/pc-machine";
import type { VcpuStats } from "../workers/vcpu";
import { webWorkerHandle } from "../workers/worker-handle";

declare global {
  interface Window {
    /** The terminal's text: one line per row, trailing blanks trimmed. */
    vmConsoleText(): string;
    /** The running machine's counters (instructions, device accesses by kind, exits, halts); undefined before it starts. */
    vmStats(): VcpuStats | undefined;
  }
}

/** What the status line shows (`data-state`), so styles and tests need not parse its text. */
type PageState = "loading" | "running" | "ended" | "error";

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html has no #${id}`);
  return found;
}

const statusLine = element("status");
const terminal = new Terminal({ rows: 30, cols: 100, scrollback: 5000, convertEol: false });
terminal.open(element("terminal"));

window.vmStats = () => undefined;
window.vmConsoleText = () => {
  const buffer = terminal.buffer.active;
  const lines: string[] = [];
  for (let row = 0; row < buffer.length; row++) lines.push(buffer.getLine(row)?.translateToString(true) ?? "");
  return lines.join("\n").trimEnd();
};

function setStatus(state: PageState, text: string, fate?: MachineFate["reason"]): void {
  statusLine.dataset.state = state;
  if (fate) statusLine.dataset.fate = fate;
  statusLine.textContent = text;
}

const FATE_TEXT: Record<MachineFate["reason"], string> = {
  "power-off": "The guest powered off.",
  panic: "The guest's kernel panicked.",
  reset: "The guest reset the machine.",
  "triple-fault": "The guest triple-faulted: the processor shut down.",
  stopped: "The machine was stopped.",
  failed: "The machine stopped:",
};

/** Fetches a file of the guest cache; a missing one gets a message saying how to make it. */
async function fetchGuestFile(path: string): Promise<Response> {
  const response = await fetch(`/guest/${path}`);
  if (!response.ok) throw new Error(`the guest image ${path} is not cached (${response.status}): run "npm run guest:fetch" and reload`);
  return response;
}

async function main(): Promise<void> {
  if (!crossOriginIsolated) {
    setStatus("error", "This page is not cross-origin isolated, so it cannot share memory with its workers. "
      + "Serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp "
      + "(npm start and vite preview do).");
    return;
  }
  setStatus("loading", "Loading the guest…");
  const manifest = parseGuestManifest(await (await fetchGuestFile("default.json")).json());
  const [core, kernel, initrd, vmlinux] = await Promise.all([
    WebAssembly.compileStreaming(fetch(coreUrl)),
    fetchGuestFile(manifest.kernel).then((r) => r.arrayBuffer()),
    fetchGuestFile(manifest.initrd).then((r) => r.arrayBuffer()),
    // Only a speed-up: without it the loader unpacks the kernel's payload itself.
    manifest.vmlinux ? fetchGuestFile(manifest.vmlinux).then((r) => r.arrayBuffer(), () => undefined) : undefined,
  ]);
  const machine = await PcMachine.create({
    core,
    // Written out whole, so Vite sees each `new Worker(new URL(...))` and bundles the worker.
    spawnVcpu: () => webWorkerHandle(new Worker(new URL("../workers/vcpu-worker.ts", import.meta.url), { type: "module" })),
    spawnUart: () => webWorkerHandle(new Worker(new URL("../workers/devices/uart-worker.ts", import.meta.url), { type: "module" })),
    spawnChipset: () => webWorkerHandle(new Worker(new URL("../workers/devices/chipset-worker.ts", import.meta.url), { type: "module" })),
    kernel: new Uint8Array(kernel),
    initrd: new Uint8Array(initrd),
    vmlinux: vmlinux && new Uint8Array(vmlinux),
    cmdline: manifest.cmdline,
    onConsoleOutput: (bytes) => terminal.write(bytes),
  });
  window.vmStats = () => machine.stats();
  const encoder = new TextEncoder();
  terminal.onData((data) => machine.writeConsole(encoder.encode(data)));
  terminal.focus();
  try {
    setStatus("running", `Running Linux ${manifest.kernelRelease}…`);
    const fate = await machine.run();
    setStatus(fate.reason === "failed" ? "error" : "ended", fate.reason === "failed" ? `${FATE_TEXT.failed} ${fate.message}` : FATE_TEXT[fate.reason], fate.reason);
  } finally {
    await machine.destroy();
  }
}

main().catch((error: unknown) => setStatus("error", `The machine failed: ${error instanceof Error ? error.message : String(error)}`));
