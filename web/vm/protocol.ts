/**
 * What the page's VM handle (web/vm/vm.ts) and its VMM worker (web/vm/vmm.ts) say to each other.
 *
 * Two channels, on purpose:
 * - the control plane is Comlink calls on the worker (`VmmApi`): boot, pause, resume, reset,
 *   power button, stop, stats; each answers once.
 * - everything the VMM pushes goes through one MessagePort the page transfers at boot
 *   (`VmmPush`): console bytes (a batch per message, as the UART worker sends them) and state
 *   changes, in the order they happened, so the last console bytes always arrive before the end.
 *   Keystrokes go the other way on the same port (`PageInput`). No Comlink call per byte.
 *
 * State changes carry a sequence number; a control call answers with the number of the last
 * change it caused, so the handle can wait until its view has caught up before resolving.
 */
import type { VMFate, VMState, VMStats } from "./types";

/** An image as the worker receives it: an absolute URL to fetch, or its bytes. */
export type ImageData = string | Uint8Array | ArrayBuffer | Blob;

/** createVM's options, checked and resolved by the page. */
export interface BootRequest {
  kernel: ImageData;
  initrd?: ImageData;
  vmlinux?: ImageData;
  cmdline: string;
  memoryBytes: number;
  onGuestReset: "restart" | "end";
}

export type VmmPush =
  | { type: "console"; bytes: Uint8Array }
  | { type: "state"; state: Exclude<VMState, "ended">; seq: number }
  | { type: "state"; state: "ended"; fate: VMFate; seq: number };

export type PageInput = { type: "input"; bytes: Uint8Array };

/** The VMM worker's calls. Each returns the sequence number of the last state change it caused (or the current one). */
export interface VmmApi {
  /** Loads the images and starts the machine; rejects with a readable error for a missing or malformed image. */
  boot(request: BootRequest, port: MessagePort): Promise<{ seq: number; note: string }>;
  pause(): Promise<number>;
  resume(): Promise<number>;
  /** A hard reset: the machine is built again from the same images. Answers once it is "starting". */
  reset(): Promise<number>;
  /** Presses the ACPI power button. */
  pressPowerButton(): Promise<number>;
  /** Stops the machine for good; answers once it has ended. */
  stop(): Promise<number>;
  stats(): Promise<VMStats | undefined>;
}
