/** Checks createVM's options on the page, so bad input fails before any worker starts. */
import { DEFAULT_CMDLINE } from "../../workers/boot/guest-manifest";
import { PC_MAX_RAM_BYTES, PC_MIN_RAM_BYTES } from "../../workers/pc-board";
import type { BootRequest, ImageData } from "./protocol";
import type { ImageSource, VMOptions } from "./types";

export const DEFAULT_MEMORY_MIB = 128;
/** vCPUs the PC machine can run today. */
export const MAX_CPUS = 1;

const MIN_MIB = PC_MIN_RAM_BYTES / 2 ** 20;
const MAX_MIB = PC_MAX_RAM_BYTES / 2 ** 20;

/** Bad createVM options: the message names the option and what it should be. */
export class VMOptionsError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = "VMOptionsError";
  }
}

function image(name: string, source: ImageSource | undefined, base: string): ImageData | undefined {
  if (source === undefined) return undefined;
  if (typeof source === "string" || source instanceof URL) {
    if (source.toString() === "") throw new VMOptionsError(`${name}: the URL is empty`);
    try {
      return new URL(source, base).href;
    } catch {
      throw new VMOptionsError(`${name}: "${source.toString()}" is not a URL`);
    }
  }
  if (source instanceof Uint8Array || source instanceof ArrayBuffer || source instanceof Blob) {
    if (source instanceof Blob ? source.size === 0 : source.byteLength === 0) throw new VMOptionsError(`${name}: the image is empty`);
    return source;
  }
  throw new VMOptionsError(`${name} must be a URL, a Uint8Array, an ArrayBuffer or a Blob`);
}

/** Turns options into the worker's boot request; throws VMOptionsError naming the first bad option. */
export function resolveOptions(options: VMOptions, base: string): BootRequest {
  if (typeof options !== "object" || options === null) throw new VMOptionsError("createVM needs an options object");
  const kernel = image("kernel", options.kernel, base);
  if (kernel === undefined) throw new VMOptionsError("kernel is required: the URL or bytes of a Linux bzImage");
  const memory = options.memory ?? DEFAULT_MEMORY_MIB;
  if (!Number.isInteger(memory) || memory < MIN_MIB || memory > MAX_MIB) {
    throw new VMOptionsError(`memory must be a whole number of MiB from ${MIN_MIB} to ${MAX_MIB}, not ${String(memory)}`);
  }
  const cpus = options.cpus ?? 1;
  if (!Number.isInteger(cpus) || cpus < 1) throw new VMOptionsError(`cpus must be a whole number from 1, not ${String(cpus)}`);
  if (cpus > MAX_CPUS) throw new VMOptionsError(`cpus: only ${MAX_CPUS} vCPU is supported for now, not ${cpus}`);
  const cmdline = options.cmdline ?? DEFAULT_CMDLINE;
  if (typeof cmdline !== "string") throw new VMOptionsError("cmdline must be a string");
  const onGuestReset = options.onGuestReset ?? "restart";
  if (onGuestReset !== "restart" && onGuestReset !== "end") throw new VMOptionsError(`onGuestReset must be "restart" or "end", not ${String(onGuestReset)}`);
  return {
    kernel,
    initrd: image("initrd", options.initrd, base),
    vmlinux: image("vmlinux", options.vmlinux, base),
    cmdline,
    memoryBytes: memory * 2 ** 20,
    onGuestReset,
  };
}
