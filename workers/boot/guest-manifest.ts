/**
 * guest/default.json: which kernel and initrd to boot and how. Written by scripts/fetch-guest.ts,
 * read by whatever boots the guest (the page fetches it, Node tests read it from disk).
 */

export interface GuestManifest {
  /** The bzImage, relative to the manifest's folder. */
  kernel: string;
  /** The gzip-compressed cpio initrd, relative to the manifest's folder. */
  initrd: string;
  /** INITRAMFS_VERSION of the initrd guest:fetch built; absent for an initrd supplied by hand. */
  initramfsVersion?: number;
  /** The kernel's XZ payload unpacked (an ELF vmlinux), so a boot need not unpack it; absent for other kernels. */
  vmlinux?: string;
  /** The default kernel command line. */
  cmdline: string;
  /** The kernel's release (`uname -r`). */
  kernelRelease: string;
  /** The line the initrd's /init prints when userspace is up; empty for an initrd supplied by hand. */
  readyMarker: string;
  /** Kernel modules asked for; the initrd holds them and their dependencies, and /init loads them all. */
  modules: string[];
  /** Debian packages the files came from, name to version (empty when supplied by hand). */
  packages: Record<string, string>;
}

export const DEFAULT_CMDLINE = "console=ttyS0";

/** Checks a parsed default.json; names the first field that is wrong. */
export function parseGuestManifest(json: unknown): GuestManifest {
  const fail = (why: string): never => { throw new Error(`guest manifest: ${why}`); };
  if (typeof json !== "object" || json === null) return fail("not an object");
  const m = json as Record<string, unknown>;
  for (const key of ["kernel", "initrd", "cmdline", "kernelRelease", "readyMarker"] as const) {
    if (typeof m[key] !== "string") fail(`${key} must be a string`);
  }
  if (m.vmlinux !== undefined && typeof m.vmlinux !== "string") fail("vmlinux must be a string when present");
  if (m.initramfsVersion !== undefined && !Number.isInteger(m.initramfsVersion)) fail("initramfsVersion must be an integer when present");
  for (const key of ["kernel", "initrd", "vmlinux"] as const) {
    const path = m[key] as string | undefined;
    if (path !== undefined && (path.startsWith("/") || path.split("/").includes(".."))) fail(`${key} must be a path inside the manifest's folder`);
  }
  if (!Array.isArray(m.modules) || !m.modules.every((x) => typeof x === "string")) fail("modules must be an array of strings");
  const packages = m.packages;
  if (typeof packages !== "object" || packages === null || !Object.values(packages).every((v) => typeof v === "string")) {
    fail("packages must map names to version strings");
  }
  return json as GuestManifest;
}
