/**
 * `<x86-vm kernel=... initrd=... vmlinux=... cmdline=... memory=... cpus=...>`: a VM with its own
 * xterm.js terminal that fills the element. Importing this module defines the element. It boots
 * when it joins the document (attributes are read then) and stops when it leaves.
 *
 * For scripts: `element.ready` resolves with the VM (see web/vm/vm.ts) or rejects with why it
 * could not start; `data-state` (a VMState, or "error") and `data-fate` mirror the VM; events
 * `x86-vm-state`, `x86-vm-fate` and `x86-vm-error` carry the same in `detail`.
 */
import "@xterm/xterm/css/xterm.css";
import { Terminal } from "@xterm/xterm";
import { attachConsole, fitToContainer } from "./terminal";
import type { VMFate, VMOptions, VMState } from "./types";
import { createVM, type VM } from "./vm";

export interface X86VmElementEventMap extends HTMLElementEventMap {
  "x86-vm-state": CustomEvent<VMState>;
  "x86-vm-fate": CustomEvent<VMFate>;
  "x86-vm-error": CustomEvent<Error>;
}

/** The element's look; shared by every element of a document, holding no VM state. */
const STYLE = `
x86-vm { display: flex; flex-direction: column; height: 24rem; background: #000; color: #d8dee9; }
x86-vm > .x86-vm-terminal { flex: 1; min-height: 0; overflow: hidden; padding: 4px; }
x86-vm > .x86-vm-status { font: 12px ui-monospace, monospace; color: #8fa1b3; padding: 2px 6px; }
x86-vm[data-state="error"] > .x86-vm-status { color: #ff8080; }
`;

function adoptStyle(document: Document): void {
  if (document.querySelector("style[data-x86-vm]")) return;
  const style = document.createElement("style");
  style.dataset.x86Vm = "";
  style.textContent = STYLE;
  document.head.append(style);
}

/** A number attribute, or undefined when absent; createVM checks its range. */
function numberAttribute(element: Element, name: string): number | undefined {
  const text = element.getAttribute(name);
  return text === null || text.trim() === "" ? undefined : Number(text);
}

export class X86VmElement extends HTMLElement {
  /** Resolves with the VM once it runs; rejects with a readable error when it cannot start. */
  readonly ready: Promise<VM>;
  /** The VM, once it runs. */
  vm: VM | undefined;
  private settleReady!: { resolve: (vm: VM) => void; reject: (error: Error) => void };
  private readonly cleanup: (() => void)[] = [];
  private started = false;
  private status: HTMLElement | undefined;

  constructor() {
    super();
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    // Nobody may be listening; the error is also on the element.
    this.ready.catch(() => undefined);
  }

  /** The options the attributes give. */
  options(): VMOptions {
    return {
      kernel: this.getAttribute("kernel") ?? "",
      initrd: this.getAttribute("initrd") ?? undefined,
      vmlinux: this.getAttribute("vmlinux") ?? undefined,
      cmdline: this.getAttribute("cmdline") ?? undefined,
      memory: numberAttribute(this, "memory"),
      cpus: numberAttribute(this, "cpus"),
    };
  }

  connectedCallback(): void {
    // Moving the element within the document keeps its VM.
    if (this.started) return;
    this.started = true;
    adoptStyle(this.ownerDocument);
    const box = document.createElement("div");
    box.className = "x86-vm-terminal";
    this.status = document.createElement("div");
    this.status.className = "x86-vm-status";
    this.status.setAttribute("role", "status");
    this.append(box, this.status);
    const terminal = new Terminal({ scrollback: 5000 });
    terminal.open(box);
    this.cleanup.push(fitToContainer(terminal, box), () => terminal.dispose());
    this.show("starting", "Starting…");
    this.boot(terminal).catch((error: unknown) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.show("error", `The VM could not start: ${failure.message}`);
      this.settleReady.reject(failure);
      this.dispatchEvent(new CustomEvent("x86-vm-error", { detail: failure }));
    });
  }

  disconnectedCallback(): void {
    // A move is a disconnect and a connect in the same task: stop only if it stays out.
    queueMicrotask(() => {
      if (this.isConnected) return;
      void this.vm?.stop();
      for (const undo of this.cleanup.splice(0)) undo();
    });
  }

  private async boot(terminal: Terminal): Promise<void> {
    if (!this.hasAttribute("kernel")) throw new Error("<x86-vm> needs a kernel attribute: the URL of a Linux bzImage");
    const vm = await createVM(this.options());
    if (!this.isConnected) {
      await vm.stop();
      throw new Error("the element left the document while its VM started");
    }
    this.vm = vm;
    this.cleanup.push(attachConsole(terminal, vm));
    vm.on("state", (state) => {
      const fate = vm.fate();
      this.show(state, state === "ended" ? `Ended: ${fate?.reason}${fate?.reason === "failed" ? ` (${fate.message})` : ""}` : state, fate);
      this.dispatchEvent(new CustomEvent("x86-vm-state", { detail: state }));
    });
    vm.on("fate", (fate) => this.dispatchEvent(new CustomEvent("x86-vm-fate", { detail: fate })));
    this.show(vm.state(), vm.state());
    this.settleReady.resolve(vm);
  }

  private show(state: VMState | "error", text: string, fate?: VMFate): void {
    this.dataset.state = state;
    if (fate) this.dataset.fate = fate.reason;
    if (this.status) this.status.textContent = text;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    "x86-vm": X86VmElement;
  }
}

if (!customElements.get("x86-vm")) customElements.define("x86-vm", X86VmElement);
