/**
 * The VMM: owns one PC machine (workers/pc-machine.ts) and everything it spawns, runs it, builds
 * it again on a reset, and reports to the page over the port of web/vm/protocol.ts. It runs in
 * the VMM worker (web/vm/vmm-worker.ts); it takes its host (core, worker spawners) as an argument,
 * so Node tests run it on worker_threads.
 */
import { PcMachine, type MachineFate } from "../../workers/pc-machine";
import type { WorkerHandle } from "../../workers/worker-handle";
import type { BootRequest, ImageData, PageInput, VmmApi, VmmPush } from "./protocol";
import type { VMFate, VMState, VMStats } from "./types";

/** What the VMM needs from the thread it runs on. */
export interface VmmHost {
  loadCore(): Promise<WebAssembly.Module>;
  spawnVcpu(): WorkerHandle;
  spawnUart(): WorkerHandle;
  spawnChipset(): WorkerHandle;
}

interface BootImages {
  core: WebAssembly.Module;
  kernel: Uint8Array;
  initrd?: Uint8Array;
  vmlinux?: Uint8Array;
}

/** Reads an image: fetches a URL (naming what is missing and why), or takes the bytes. */
async function readImage(what: string, data: ImageData): Promise<Uint8Array> {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  let response: Response;
  try {
    response = await fetch(data);
  } catch (error) {
    throw new Error(`cannot fetch the ${what} ${data}: ${(error as Error).message}`);
  }
  if (!response.ok) {
    // A short plain-text answer usually says why (the guest cache's says how to fill it).
    const why = (response.headers.get("Content-Type") ?? "text/plain").startsWith("text/plain") ? `: ${(await response.text()).trim().slice(0, 200)}` : "";
    throw new Error(`the ${what} ${data} is missing (${response.status} ${response.statusText})${why}`);
  }
  // A server that answers every path with its page (a single-page app's fallback) is not an image.
  if (response.headers.get("Content-Type")?.startsWith("text/html")) throw new Error(`the ${what} ${data} is missing: the server answered with an HTML page`);
  return new Uint8Array(await response.arrayBuffer());
}

const fateOf = (fate: MachineFate): VMFate => (fate.reason === "failed" ? { reason: "failed", message: fate.message } : { reason: fate.reason });
const failed = (error: unknown): VMFate => ({ reason: "failed", message: error instanceof Error ? error.message : String(error) });

export class Vmm implements VmmApi {
  private port: MessagePort | undefined;
  private request: BootRequest | undefined;
  private images: BootImages | undefined;
  private machine: PcMachine | undefined;
  private state: VMState = "starting";
  private seq = 0;
  /** What the page asked for that ends the current machine; the run loop acts on it. */
  private pending: "reset" | "stop" | undefined;
  private loop: Promise<void> | undefined;
  private lastStats: VMStats | undefined;

  constructor(private readonly host: VmmHost) {}

  async boot(request: BootRequest, port: MessagePort): Promise<{ seq: number; note: string }> {
    if (this.port) throw new Error("this VMM has booted a VM already");
    this.port = port;
    port.onmessage = (event: MessageEvent<PageInput>) => {
      if (event.data.type === "input") this.machine?.writeConsole(event.data.bytes);
    };
    const [core, kernel, initrd, vmlinux] = await Promise.all([
      this.host.loadCore(),
      readImage("kernel", request.kernel),
      request.initrd === undefined ? undefined : readImage("initrd", request.initrd),
      // Only a speed-up: without it the loader unpacks the kernel's payload itself.
      request.vmlinux === undefined ? undefined : readImage("vmlinux", request.vmlinux).catch(() => undefined),
    ]);
    this.request = request;
    this.images = { core, kernel, initrd, vmlinux };
    const machine = await this.build();
    this.loop = this.runMachines(machine);
    return { seq: this.seq, note: machine.placement.kernelPath.note };
  }

  async pause(): Promise<number> {
    this.require("pause", "running", "paused");
    if (this.state === "running") {
      await this.machine!.pause();
      // The machine may have ended meanwhile.
      if (this.state === "running") this.setState("paused");
    }
    return this.seq;
  }

  async resume(): Promise<number> {
    this.require("resume", "running", "paused");
    if (this.state === "paused") {
      this.machine!.resume();
      this.setState("running");
    }
    return this.seq;
  }

  async reset(): Promise<number> {
    this.require("reset", "running", "paused");
    this.pending = "reset";
    this.setState("starting");
    await this.machine!.destroy();
    return this.seq;
  }

  async pressPowerButton(): Promise<number> {
    this.require("press the power button of", "running", "paused");
    this.machine!.pressPowerButton();
    return this.seq;
  }

  async stop(): Promise<number> {
    if (this.state !== "ended") {
      this.pending = "stop";
      await this.machine?.destroy();
      await this.loop;
    }
    return this.seq;
  }

  async stats(): Promise<VMStats | undefined> {
    return this.machine && this.state !== "ended" ? this.machine.stats() : this.lastStats;
  }

  private require(what: string, ...states: VMState[]): void {
    if (!states.includes(this.state)) throw new Error(`cannot ${what} the VM while it is ${this.state}`);
  }

  private push(message: VmmPush, transfer: Transferable[] = []): void {
    this.port?.postMessage(message, transfer);
  }

  private setState(state: Exclude<VMState, "ended">): void {
    this.state = state;
    this.push({ type: "state", state, seq: ++this.seq });
  }

  private end(fate: VMFate): void {
    this.state = "ended";
    this.push({ type: "state", state: "ended", fate, seq: ++this.seq });
    this.port?.close();
  }

  /** Builds a machine from the images and marks the VM running. */
  private async build(): Promise<PcMachine> {
    const { core, kernel, initrd, vmlinux } = this.images!;
    const request = this.request!;
    this.machine = await PcMachine.create({
      core,
      spawnVcpu: () => this.host.spawnVcpu(),
      spawnUart: () => this.host.spawnUart(),
      spawnChipset: () => this.host.spawnChipset(),
      kernel,
      initrd,
      vmlinux,
      cmdline: request.cmdline,
      memoryBytes: request.memoryBytes,
      onConsoleOutput: (bytes) => {
        // Each batch was cloned into this worker; hand its buffer on when it is the whole buffer.
        const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
        this.push({ type: "console", bytes: own }, [own.buffer]);
      },
    });
    this.setState("running");
    return this.machine;
  }

  /** Runs machines until the VM ends: a reset (asked for, or by the guest when it restarts) builds the next one. */
  private async runMachines(first: PcMachine): Promise<void> {
    let machine = first;
    for (;;) {
      let fate: VMFate;
      try {
        fate = fateOf(await machine.run());
      } catch (error) {
        fate = failed(error);
      }
      this.lastStats = machine.stats();
      await machine.destroy().catch(() => undefined);
      const restart = this.pending === "reset" || (fate.reason === "reset" && this.request!.onGuestReset === "restart" && this.pending !== "stop");
      if (!restart) return this.end(this.pending === "stop" ? { reason: "stopped" } : fate);
      this.pending = undefined;
      if (this.state !== "starting") this.setState("starting");
      try {
        machine = await this.build();
      } catch (error) {
        return this.end(failed(error));
      }
      if (this.pending === "stop") await machine.destroy();
    }
  }
}
