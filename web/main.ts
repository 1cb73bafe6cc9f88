/**
 * The page: boots a guest on load through the VM handle API (web/vm/) with COM1 on an xterm.js
 * terminal that takes the keyboard, and a control bar (start, pause, resume, reset, power-off,
 * memory, vCPUs). What it boots comes from the URL's parameters or the cached default guest
 * (web/boot-config.ts). For automation: the VM is `window.vm`, the terminal's text is
 * `window.vmConsoleText()`, and the status line carries the page state in `data-state` and, at
 * the end, the guest's fate in `data-fate`.
 */
import "@xterm/xterm/css/xterm.css";
import "./style.css";
import { Terminal } from "@xterm/xterm";
import { bootImages, numberParam, type BootImages } from "./boot-config";
import { createVM, NOT_ISOLATED_MESSAGE, type VM, type VMFate, type VMState, type VMStats } from "./vm/index";
import { attachConsole, fitToContainer, terminalText } from "./vm/terminal";

declare global {
  interface Window {
    /** The page's VM, once one has been created. */
    vm: VM | undefined;
    /** The terminal's text: one line per line the guest wrote, trailing blanks trimmed. */
    vmConsoleText(): string;
    /** The terminal's size, which the guest's shell learns only when told (`stty cols C rows R`): a serial line carries none. */
    vmTerminalSize(): { cols: number; rows: number };
    /** The running machine's counters (instructions, device accesses by kind, exits, halts); undefined before it starts. */
    vmStats(): Promise<VMStats | undefined>;
  }
}

/** What the status line shows (`data-state`), so styles and tests need not parse its text. */
type PageState = "loading" | VMState | "error";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html has no #${id}`);
  return found as T;
}

const statusLine = element("status");
const controls = element<HTMLFormElement>("controls");
const memoryInput = element<HTMLInputElement>("memory");
const cpusInput = element<HTMLInputElement>("cpus");
const buttons = {
  start: element<HTMLButtonElement>("start"),
  pause: element<HTMLButtonElement>("pause"),
  resume: element<HTMLButtonElement>("resume"),
  reset: element<HTMLButtonElement>("reset"),
  powerOff: element<HTMLButtonElement>("power-off"),
};
const terminalBox = element("terminal");
const terminal = new Terminal({ rows: 30, cols: 100, scrollback: 5000, convertEol: false });
terminal.open(terminalBox);
fitToContainer(terminal, terminalBox);

window.vm = undefined;
window.vmConsoleText = () => terminalText(terminal);
window.vmTerminalSize = () => ({ cols: terminal.cols, rows: terminal.rows });
window.vmStats = async () => window.vm?.stats();

const FATE_TEXT: Record<VMFate["reason"], string> = {
  "power-off": "The guest powered off.",
  panic: "The guest's kernel panicked.",
  reset: "The guest reset the machine.",
  "triple-fault": "The guest triple-faulted: the processor shut down.",
  stopped: "The machine was stopped.",
  failed: "The machine stopped:",
};

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function setStatus(state: PageState, text: string, fate?: VMFate["reason"]): void {
  statusLine.dataset.state = state;
  if (fate) statusLine.dataset.fate = fate;
  else delete statusLine.dataset.fate;
  statusLine.textContent = text;
  const live = state === "running" || state === "paused";
  buttons.start.disabled = state === "loading" || state === "starting" || live;
  buttons.pause.disabled = state !== "running";
  buttons.resume.disabled = state !== "paused";
  buttons.reset.disabled = !live;
  buttons.powerOff.disabled = !live;
}

function showState(state: VMState, name: string, vm: VM): void {
  if (state === "ended") {
    const fate = vm.fate()!;
    setStatus(fate.reason === "failed" ? "error" : "ended", fate.reason === "failed" ? `${FATE_TEXT.failed} ${fate.message}` : FATE_TEXT[fate.reason], fate.reason);
  } else {
    setStatus(state, { starting: `Starting ${name}…`, running: `Running ${name}…`, paused: `Paused ${name}.` }[state]);
  }
}

let images: BootImages | undefined;
let detach: (() => void) | undefined;

/** Boots a new VM with the control bar's memory and vCPUs. */
async function start(): Promise<void> {
  setStatus("loading", "Loading the guest…");
  detach?.();
  images ??= await bootImages(new URLSearchParams(location.search));
  const vm = await createVM({ ...images.options, memory: memoryInput.valueAsNumber, cpus: cpusInput.valueAsNumber });
  window.vm = vm;
  terminal.reset();
  detach = attachConsole(terminal, vm);
  const name = images.name;
  vm.on("state", (state) => showState(state, name, vm));
  showState(vm.state(), name, vm);
  terminal.focus();
}

/** Runs a control; a failure shows on the status line instead of being lost. */
function act(control: (vm: VM) => Promise<void>): () => void {
  return () => {
    const vm = window.vm;
    if (vm) control(vm).catch((error: unknown) => setStatus("error", `The machine failed: ${message(error)}`));
  };
}

controls.addEventListener("submit", (event) => {
  event.preventDefault();
  start().catch((error: unknown) => setStatus("error", `The machine failed to start: ${message(error)}`));
});
buttons.pause.addEventListener("click", act((vm) => vm.pause()));
buttons.resume.addEventListener("click", act((vm) => vm.resume()));
buttons.reset.addEventListener("click", act((vm) => vm.reset()));
buttons.powerOff.addEventListener("click", act((vm) => vm.powerOff()));

function main(): void {
  if (!crossOriginIsolated) {
    setStatus("error", `${NOT_ISOLATED_MESSAGE} (npm start and vite preview do.)`);
    buttons.start.disabled = true;
    return;
  }
  const params = new URLSearchParams(location.search);
  try {
    const memory = numberParam(params, "memory");
    const cpus = numberParam(params, "cpus");
    if (memory !== undefined) memoryInput.value = String(memory);
    if (cpus !== undefined) cpusInput.value = String(cpus);
  } catch (error) {
    setStatus("error", message(error));
    return;
  }
  start().catch((error: unknown) => setStatus("error", `The machine failed to start: ${message(error)}`));
}

main();
