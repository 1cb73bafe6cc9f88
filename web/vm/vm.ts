/**
 * The page's handle on one VM: createVM() starts a VMM worker (web/vm/vmm-worker.ts) that runs
 * the machine, calls it by Comlink for control, and takes console bytes and state changes from a
 * MessagePort (see web/vm/protocol.ts). Every VM has its own worker, port, console and listeners.
 */
import { releaseProxy, transfer, wrap, type Remote } from "comlink";
import { VMConsole } from "./console";
import { Emitter } from "./events";
import { resolveOptions } from "./options";
import type { PageInput, VmmApi, VmmPush } from "./protocol";
import type { VMEvents, VMFate, VMOptions, VMState, VMStats } from "./types";

export const NOT_ISOLATED_MESSAGE = "This page is not cross-origin isolated, so it cannot share memory with its workers. "
  + "Serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp.";

/** Boots a VM: resolves once the machine runs, rejects with a readable error for bad options or images. */
export function createVM(options: VMOptions): Promise<VM> {
  return VM.create(options);
}

/** A running VM. Get one from createVM(). */
export class VM {
  /** The guest's console (COM1): its text, waits for output, typing. */
  readonly console: VMConsole;
  /** Settles with the fate when the VM ends. */
  readonly ended: Promise<VMFate>;
  private readonly remote: Remote<VmmApi>;
  private note = "";
  private readonly events = new Emitter<VMEvents>();
  private current: VMState = "starting";
  private currentFate: VMFate | undefined;
  private seq = 0;
  private readonly seqWaiters = new Set<{ seq: number; resolve: () => void }>();
  private settleEnded!: (fate: VMFate) => void;
  /** Rejects when the worker is gone (crashed, or terminated at the end), so no call waits on it forever. */
  private readonly gone: Promise<never>;
  private leave!: (error: Error) => void;
  private disposed = false;
  /** Console batches held back until createVM's caller has had a chance to listen. */
  private held: Uint8Array[] | undefined = [];

  /** What createVM() does. */
  static async create(options: VMOptions): Promise<VM> {
    const request = resolveOptions(options, document.baseURI);
    if (!globalThis.crossOriginIsolated) throw new Error(NOT_ISOLATED_MESSAGE);
    const worker = new Worker(new URL("./vmm-worker.ts", import.meta.url), { type: "module" });
    const channel = new MessageChannel();
    const vm = new VM(worker, channel.port1);
    try {
      const { seq, note } = await vm.whileAlive(vm.remote.boot(request, transfer(channel.port2, [channel.port2])));
      vm.note = note;
      await vm.caughtUp(seq);
      // Listeners added right after createVM resolves (in the same task) still see the first output.
      setTimeout(() => vm.releaseConsole(), 0);
      return vm;
    } catch (error) {
      vm.dispose();
      throw error;
    }
  }

  private constructor(private readonly worker: Worker, private readonly port: MessagePort) {
    this.remote = wrap<VmmApi>(worker);
    this.ended = new Promise((resolve) => (this.settleEnded = resolve));
    this.console = new VMConsole((bytes) => port.postMessage({ type: "input", bytes } satisfies PageInput));
    port.onmessage = (event: MessageEvent<VmmPush>) => this.receive(event.data);
    this.gone = new Promise((_, reject) => (this.leave = reject));
    this.gone.catch(() => undefined);
    worker.addEventListener("error", (event) => {
      const error = new Error(`the VMM worker failed: ${event.message || "it did not load"}`);
      this.leave(error);
      this.finish({ reason: "failed", message: error.message }, this.seq + 1);
      this.dispose();
    });
  }

  /** The loader's note on how the kernel was placed (unpacked by the loader, or left to unpack itself). */
  get bootNote(): string {
    return this.note;
  }

  /** The lifecycle state. */
  state(): VMState {
    return this.current;
  }

  /** How the VM ended, once it has. */
  fate(): VMFate | undefined {
    return this.currentFate;
  }

  /** Adds a listener for "state", "console" or "fate"; returns a function that removes it. */
  on<K extends keyof VMEvents>(type: K, listener: (value: VMEvents[K]) => void): () => void {
    return this.events.on(type, listener);
  }

  off<K extends keyof VMEvents>(type: K, listener: (value: VMEvents[K]) => void): void {
    this.events.off(type, listener);
  }

  /** Stops the CPU at an instruction boundary (devices go on). Resolves once paused. */
  pause(): Promise<void> {
    return this.control(() => this.remote.pause());
  }

  /** Lets a paused VM go on. */
  resume(): Promise<void> {
    return this.control(() => this.remote.resume());
  }

  /** A hard reset: the machine is built again from the same images and boots anew. Resolves once it runs. */
  async reset(): Promise<void> {
    await this.control(() => this.remote.reset());
    await new Promise<void>((resolve) => {
      const off = this.on("state", (state) => {
        if (state === "running" || state === "ended") resolve(off());
      });
      if (this.current === "running" || this.current === "ended") resolve(off());
    });
  }

  /** Presses the ACPI power button: the guest shuts down, usually ending with fate "power-off". */
  powerOff(): Promise<void> {
    return this.control(() => this.remote.pressPowerButton());
  }

  /** Stops the VM for good (fate "stopped" unless it had ended already) and frees its workers. */
  async stop(): Promise<void> {
    if (this.current !== "ended") await this.control(() => this.remote.stop()).catch(() => undefined);
    this.dispose();
  }

  /** The CPU's counters since the last boot; undefined once the VM's worker is gone. */
  async stats(): Promise<VMStats | undefined> {
    if (this.current === "ended" && this.disposed) return undefined;
    return this.whileAlive(this.remote.stats());
  }

  /** Ends the worker and the port; the VM is unusable afterwards. */
  private dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.leave(new Error(`the VM has ended (${this.currentFate?.reason ?? "stopped"})`));
    this.remote[releaseProxy]();
    this.port.close();
    this.worker.terminate();
    if (this.current !== "ended") this.finish({ reason: "stopped" }, this.seq + 1);
  }

  /** Races a call with the worker's end, so nothing waits on a gone worker. */
  private whileAlive<T>(call: Promise<T>): Promise<T> {
    return Promise.race([call, this.gone]);
  }

  /** Resolves once the state change numbered `seq` has arrived over the port. */
  private caughtUp(seq: number): Promise<void> {
    if (this.seq >= seq) return Promise.resolve();
    return new Promise((resolve) => this.seqWaiters.add({ seq, resolve }));
  }

  /** Emits the console output held back while createVM was resolving; later output goes out as it comes. */
  private releaseConsole(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const bytes of held) this.events.emit("console", bytes);
  }

  private async control(call: () => Promise<number>): Promise<void> {
    if (this.current === "ended") throw new Error(`the VM has ended (${this.currentFate?.reason})`);
    await this.caughtUp(await this.whileAlive(call()));
  }

  private receive(message: VmmPush): void {
    if (message.type === "console") {
      this.console.receive(message.bytes);
      if (this.held) this.held.push(message.bytes);
      else this.events.emit("console", message.bytes);
    } else if (message.state === "ended") {
      this.finish(message.fate, message.seq);
      this.dispose();
    } else {
      this.current = message.state;
      this.advance(message.seq);
      this.events.emit("state", message.state);
    }
  }

  private finish(fate: VMFate, seq: number): void {
    if (this.current === "ended") return;
    this.current = "ended";
    this.currentFate = fate;
    this.console.end(fate);
    this.settleEnded(fate);
    this.advance(seq);
    this.events.emit("fate", fate);
    this.events.emit("state", "ended");
  }

  private advance(seq: number): void {
    this.seq = Math.max(this.seq, seq);
    for (const waiter of [...this.seqWaiters]) {
      if (waiter.seq <= this.seq || this.current === "ended") {
        this.seqWaiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}
