/**
 * What the page boots: the URL's parameters (`kernel`, `initrd`, `vmlinux`, `cmdline`, `memory`,
 * `cpus`), else the cached default guest (guest/default.json, served at /guest/ by vite.config.ts).
 */
import { parseGuestManifest } from "../workers/boot/guest-manifest";
import type { VMOptions } from "./vm/index";

export const GUEST_MANIFEST_URL = "/guest/default.json";

/** The images and command line to boot, and a name for the status line. */
export interface BootImages {
  options: Pick<VMOptions, "kernel" | "initrd" | "vmlinux" | "cmdline">;
  name: string;
}

/** A whole-number URL parameter, or undefined when absent; anything else is an error naming it. */
export function numberParam(params: URLSearchParams, name: string): number | undefined {
  const text = params.get(name);
  if (text === null || text === "") return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`the URL parameter ${name}=${text} is not a whole number`);
  return Number(text);
}

/** Reads the default guest's manifest; a missing one gets a message saying how to fetch it. */
async function defaultGuest(): Promise<BootImages> {
  const response = await fetch(GUEST_MANIFEST_URL);
  if (!response.ok || !response.headers.get("Content-Type")?.includes("json")) {
    throw new Error(`no guest image is cached (${GUEST_MANIFEST_URL}: ${response.status} ${response.statusText}): run "npm run guest:fetch" and reload, or name one with ?kernel=URL&initrd=URL`);
  }
  const manifest = parseGuestManifest(await response.json());
  const at = (path: string): string => new URL(path, new URL(GUEST_MANIFEST_URL, location.href)).href;
  return {
    options: { kernel: at(manifest.kernel), initrd: at(manifest.initrd), vmlinux: manifest.vmlinux && at(manifest.vmlinux), cmdline: manifest.cmdline },
    name: `Linux ${manifest.kernelRelease}`,
  };
}

/** The images the URL names, or the default guest's. */
export async function bootImages(params: URLSearchParams): Promise<BootImages> {
  const kernel = params.get("kernel");
  const images: BootImages = kernel
    ? { options: { kernel, initrd: params.get("initrd") ?? undefined, vmlinux: params.get("vmlinux") ?? undefined }, name: kernel }
    : await defaultGuest();
  const cmdline = params.get("cmdline");
  if (cmdline !== null) images.options.cmdline = cmdline;
  return images;
}
