/**
 * The public types of the VM handle API (web/vm/index.ts): what createVM takes, the states a VM
 * goes through, how it ends, and the events it emits.
 */
import type { VcpuStats } from "../../workers/vcpu";

/** Where an image comes from: a URL (relative ones resolve against the page), or its bytes. */
export type ImageSource = string | URL | Uint8Array | ArrayBuffer | Blob;

/** What to boot and on what machine. */
export interface VMOptions {
  /** The Linux bzImage. */
  kernel: ImageSource;
  /** The initramfs, if any. */
  initrd?: ImageSource;
  /** The kernel's payload unpacked ahead of time (guest:fetch's `vmlinux-<release>`): only a speed-up. */
  vmlinux?: ImageSource;
  /** The kernel command line (default `console=ttyS0`: the console is COM1). */
  cmdline?: string;
  /** Guest RAM in MiB, a whole number from 32 to 2048 (default 128). */
  memory?: number;
  /** vCPUs (default 1; only 1 is supported for now). */
  cpus?: number;
  /** What a reset by the guest (`reboot`) does: boot the same images again (default) or end the VM with fate `reset`. */
  onGuestReset?: "restart" | "end";
}

/**
 * A VM's lifecycle:
 *   starting --> running <--pause()/resume()--> paused
 *   running|paused --reset()--> starting --> running
 *   any --the guest's fate, stop(), a failure--> ended
 */
export type VMState = "starting" | "running" | "paused" | "ended";

/** How a VM ended. */
export type VMFate =
  /** The guest turned the machine off (ACPI S5), e.g. after powerOff() or `poweroff`. */
  | { reason: "power-off" }
  /** The guest's kernel panicked. */
  | { reason: "panic" }
  /** The guest reset the machine and `onGuestReset` is "end". */
  | { reason: "reset" }
  /** A triple fault: the processor shut down. */
  | { reason: "triple-fault" }
  /** stop() was called. */
  | { reason: "stopped" }
  /** The CPU core met something it cannot run, or the machine's host side failed; `message` says what. */
  | { reason: "failed"; message: string };

/** The CPU's counters since the last (re)boot: instructions, device accesses by kind, exits, halts. */
export type VMStats = VcpuStats;

/** The events a VM emits, by name, with what each listener receives. */
export interface VMEvents {
  /** The lifecycle state changed. */
  state: VMState;
  /** Bytes the guest wrote to its console (COM1), in order. */
  console: Uint8Array;
  /** The VM ended; emitted once, before the state becomes "ended". */
  fate: VMFate;
}

/** What console.waitFor() found. */
export interface ConsoleMatch {
  /** The matched text. */
  text: string;
  /** Where it starts in console.text(). */
  index: number;
  /** The regular expression's capture groups (empty for a string pattern). */
  captures: (string | undefined)[];
  /** The text between where the search started (the previous match's end) and this match: a command's output, say. */
  before: string;
}

export interface WaitForOptions {
  /** Milliseconds before the wait fails (default 30,000). */
  timeout?: number;
}
