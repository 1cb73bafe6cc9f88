/**
 * npm run guest:fetch: the reference guest (issue 4) into the git-ignored guest/ folder.
 *
 * Downloads Debian 12's newest linux-image-6.1.0-NN-686 and busybox-static for i386 with
 * `apt-get download` over a private apt state (scripts/guest-apt.ts), unpacks them into
 * guest/debian-<release>/, builds the initrd with workers/boot/initramfs.ts, stores the kernel's
 * XZ payload unpacked (workers/boot/vmlinux.ts) so boots need not decode it, and writes
 * guest/default.json. A run with everything cached only reads the manifest.
 *
 *   --modules a,b     kernel modules to put into the initrd and load at boot (with dependencies)
 *   --refresh         look for a newer kernel even when the cache is complete
 *   --kernel FILE     supply a bzImage by hand, with --busybox FILE (a static i386 busybox; the
 *                     initrd is built from it) or --initrd FILE (used as it is)
 *   --dir DIR         the cache folder (default: guest/ at the repository's root)
 */
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseBzImage } from "../workers/boot/bzimage";
import { buildGuestInitramfs, GUEST_READY_MARKER, INITRAMFS_VERSION } from "../workers/boot/initramfs";
import { moduleName, type KernelTree } from "../workers/boot/kernel-modules";
import { payloadCompression, unpackPayload } from "../workers/boot/vmlinux";
import { DEFAULT_CMDLINE, parseGuestManifest, type GuestManifest } from "../workers/boot/guest-manifest";
import { hostSources, kernelRelease, MissingCommandError, pickNewestKernel, PrivateApt, run } from "./guest-apt";

const KERNEL_META = "linux-image-686";
const BUSYBOX = "busybox-static";
const started = performance.now();
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;

/** The way out when apt cannot deliver: what to supply by hand. */
class ManualSupplyNeeded extends Error {}

const HOW_TO_SUPPLY = `Supply the guest by hand instead:
  npm run guest:fetch -- --kernel <bzImage> --busybox <busybox>
      builds the initrd from a statically linked i386 busybox (Debian's busybox-static:i386, bin/busybox)
  npm run guest:fetch -- --kernel <bzImage> --initrd <initrd>
      uses your own initrd (a gzip-compressed newc cpio) as it is
The kernel must be a 32-bit x86 bzImage, such as boot/vmlinuz-6.1.0-NN-686 from Debian 12's
${KERNEL_META} package. Both files are copied to guest/manual/ and guest/default.json names them.`;

const { values } = parseArgs({
  options: {
    modules: { type: "string", default: "" },
    refresh: { type: "boolean", default: false },
    kernel: { type: "string" },
    busybox: { type: "string" },
    initrd: { type: "string" },
    dir: { type: "string" },
  },
});
const cacheDir = resolve(values.dir ?? join(import.meta.dirname, "..", "guest"));
const manifestPath = join(cacheDir, "default.json");
const requested = values.modules.split(",").map((m) => m.trim()).filter((m) => m !== "").map(moduleName);
/**
 * Modules the PC's own devices need, always in an initrd built from Debian's kernel package:
 * pvpanic_mmio drives the pvpanic device (ACPI QEMU0001), so a panic reaches the VMM; button
 * (the ACPI power button) and evdev (its key as an event device, which the initrd's acpid reads)
 * make the power button shut the guest down.
 */
const PLATFORM_MODULES = ["pvpanic_mmio", "button", "evdev"];
/** What an initrd built from Debian's kernel package holds: the platform's modules and those asked for. */
const debianModules = [...new Set([...PLATFORM_MODULES, ...requested])];

try {
  if (values.kernel) await supplyByHand(values.kernel);
  else if (values.busybox || values.initrd) throw new Error("--busybox and --initrd go with --kernel");
  else await fetchFromDebian();
} catch (error) {
  if (error instanceof ManualSupplyNeeded) console.error(`guest:fetch: ${error.message}\n\n${HOW_TO_SUPPLY}`);
  else console.error(`guest:fetch: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}

async function fetchFromDebian(): Promise<void> {
  const cached = await readManifest();
  const fromDebian = cached && Object.keys(cached.packages).length > 0 && await exists(join(cacheDir, cached.kernel));
  if (cached && fromDebian && !values.refresh) {
    const vmlinuxCached = cached.vmlinux !== undefined ? await exists(join(cacheDir, cached.vmlinux)) : !xzPayload(await readFile(join(cacheDir, cached.kernel)));
    const initrdCurrent = cached.initramfsVersion === INITRAMFS_VERSION && await exists(join(cacheDir, cached.initrd));
    if (sameModules(cached.modules) && initrdCurrent && vmlinuxCached) {
      console.log(`guest:fetch: up to date (${show(manifestPath)}: kernel ${cached.kernelRelease}, initrd ${cached.initrd}; ${elapsed()}). --refresh looks for a newer kernel.`);
      return;
    }
    // Only the modules, the initrd's contents or the vmlinux changed: the unpacked packages have all it takes.
    return buildFromPackages(cached.kernelRelease, cached.packages);
  }

  const apt = new PrivateApt(join(cacheDir, ".apt"));
  await apt.prepare(await hostSources());
  console.log(`apt-get update for i386 (private state in ${show(apt.root)}) ...`);
  const update = await apt.update().catch((error: unknown) => {
    if (error instanceof MissingCommandError) throw new ManualSupplyNeeded("apt-get is not installed, so Debian's packages cannot be downloaded.");
    throw error;
  });
  const updateErrors = update.stderr.split("\n").filter((l) => /^(E|W):/.test(l));
  if (update.code !== 0) console.log(`  apt-get update exited ${update.code}; going on with the indexes it got:\n  ${updateErrors.join("\n  ")}`);

  const image = pickNewestKernel(new Set([...await apt.depends(KERNEL_META), ...await apt.packageNames("linux-image-")]));
  const imageInfo = image ? await apt.show(image) : undefined;
  const busyboxInfo = await apt.show(BUSYBOX);
  if (!image || !imageInfo || !busyboxInfo) {
    const missing = [!imageInfo && `${KERNEL_META} (linux-image-*-686)`, !busyboxInfo && BUSYBOX].filter(Boolean).join(" and ");
    throw new ManualSupplyNeeded(`no i386 index lists ${missing} (no network, or sources that are not Debian 12?).${updateErrors.length ? `\napt-get update said:\n  ${updateErrors.join("\n  ")}` : ""}`);
  }
  const release = kernelRelease(image);
  if (!release.startsWith("6.1.")) console.log(`  note: ${image} is not Debian 12's 6.1 kernel; the host's sources are of another release`);
  const versions = { [image]: imageInfo.get("version")!, [BUSYBOX]: busyboxInfo.get("version")! };
  console.log(`  newest kernel: ${image} ${versions[image]}; ${BUSYBOX} ${versions[BUSYBOX]}`);

  const stale: string[] = [];
  for (const name of Object.keys(versions)) {
    if (await readFile(join(unpackedDir(release, name), ".version"), "utf8").catch(() => "") !== versions[name]) stale.push(name);
  }
  if (stale.length > 0) {
    console.log(`apt-get download ${stale.join(" ")} ...`);
    const debs = await apt.download(stale);
    for (const name of stale) await unpack(debs.get(name)!, unpackedDir(release, name), versions[name]);
    console.log(`  unpacked into ${show(join(cacheDir, `debian-${release}`))} (${elapsed()})`);
  }
  await buildFromPackages(release, versions);
}

/** guest/debian-<release>/linux-image/ and …/busybox-static/: the unpacked packages. */
function unpackedDir(release: string, packageName: string): string {
  return join(cacheDir, `debian-${release}`, packageName === BUSYBOX ? BUSYBOX : "linux-image");
}

/** The initrd and manifest from the unpacked kernel and busybox packages. */
async function buildFromPackages(release: string, versions: Record<string, string>): Promise<void> {
  const kernelTree = unpackedDir(release, KERNEL_META);
  const kernelFile = join(kernelTree, "boot", `vmlinuz-${release}`);
  if (!await exists(kernelFile)) throw new Error(`${show(kernelTree)} holds no boot/vmlinuz-${release}`);
  const initrd = join(cacheDir, `debian-${release}`, "initrd.img");
  const busybox = await readFile(join(unpackedDir(release, BUSYBOX), "bin", "busybox"));
  await writeInitrd(initrd, busybox, debianModules, { release, read: readUnder(kernelTree) });
  const vmlinux = await writeVmlinux(kernelFile, join(cacheDir, `debian-${release}`, `vmlinux-${release}`));
  await writeManifest({
    kernel: relative(cacheDir, kernelFile), initrd: relative(cacheDir, initrd), vmlinux, cmdline: DEFAULT_CMDLINE,
    kernelRelease: release, readyMarker: GUEST_READY_MARKER, modules: debianModules, packages: versions, initramfsVersion: INITRAMFS_VERSION,
  });
}

/** --kernel with --busybox or --initrd: copy them into guest/manual/. */
async function supplyByHand(kernelPath: string): Promise<void> {
  if (!values.busybox === !values.initrd) throw new ManualSupplyNeeded("--kernel needs exactly one of --busybox and --initrd.");
  if (requested.length > 0) throw new Error("--modules needs the Debian kernel package (run without --kernel)");
  const kernel = new Uint8Array(await readFile(kernelPath));
  const release = bzImageRelease(kernel);
  if (!release) throw new Error(`${kernelPath} is not a bzImage (no "HdrS" setup header with a version string)`);
  const target = join(cacheDir, "manual");
  await mkdir(target, { recursive: true });
  const kernelFile = join(target, `vmlinuz-${release}`);
  const initrd = join(target, "initrd.img");
  await copyFile(kernelPath, kernelFile);
  if (values.initrd) await copyFile(values.initrd, initrd);
  else await writeInitrd(initrd, await readFile(values.busybox!), []);
  const vmlinux = await writeVmlinux(kernelFile, join(target, `vmlinux-${release}`));
  await writeManifest({
    kernel: relative(cacheDir, kernelFile), initrd: relative(cacheDir, initrd), vmlinux, cmdline: DEFAULT_CMDLINE,
    kernelRelease: release, readyMarker: values.initrd ? "" : GUEST_READY_MARKER, modules: [], packages: {},
    initramfsVersion: values.initrd ? undefined : INITRAMFS_VERSION,
  });
}

async function writeInitrd(path: string, busybox: Uint8Array, modules: readonly string[], kernel?: KernelTree): Promise<void> {
  const built = await buildGuestInitramfs({ busybox, kernel, modules });
  await writeFile(path, built.image);
  const loaded = built.modules.length > 0 ? `, modules ${built.modules.join(" ")}` : "";
  const builtin = built.builtin.length > 0 ? ` (built in, nothing to load: ${built.builtin.join(" ")})` : "";
  console.log(`built ${show(path)}: ${(built.image.length / 1024).toFixed(0)} KiB${loaded}${builtin}`);
}

/**
 * The kernel's XZ payload unpacked into `path`, so boots need not unpack it (the loader checks it
 * against the payload's CRCs); returns its path for the manifest, or undefined when there is none.
 */
async function writeVmlinux(kernelFile: string, path: string): Promise<string | undefined> {
  await rm(path, { force: true });
  const payload = xzPayload(await readFile(kernelFile));
  if (!payload) return undefined;
  let unpacked: Uint8Array;
  try {
    unpacked = unpackPayload(payload);
  } catch (error) {
    // The boot will say the same; the guest is still worth caching.
    console.log(`  note: the kernel's payload is not unpacked ahead of time: ${(error as Error).message}`);
    return undefined;
  }
  await writeFile(path, unpacked);
  console.log(`unpacked the kernel's payload into ${show(path)} (${elapsed()})`);
  return relative(cacheDir, path);
}

/** A bzImage's payload when it is XZ (what the loader unpacks), else undefined. */
function xzPayload(kernel: Uint8Array): Uint8Array | undefined {
  try {
    const { payload } = parseBzImage(kernel);
    return payload && payloadCompression(payload) === "xz" ? payload : undefined;
  } catch {
    return undefined; // not a bzImage we boot; the boot will say why
  }
}

async function writeManifest(manifest: GuestManifest): Promise<void> {
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`wrote ${show(manifestPath)}: kernel ${manifest.kernel}, initrd ${manifest.initrd}, cmdline "${manifest.cmdline}" (${elapsed()})`);
}

async function readManifest(): Promise<GuestManifest | undefined> {
  try {
    return parseGuestManifest(JSON.parse(await readFile(manifestPath, "utf8")));
  } catch {
    return undefined;
  }
}

/** Unpacks into a fresh folder and marks it complete (.version) only when dpkg-deb succeeded. */
async function unpack(deb: string, dir: string, version: string): Promise<void> {
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const r = await run("dpkg-deb", ["-x", deb, partial]);
  if (r.code !== 0) throw new Error(`dpkg-deb -x ${basename(deb)} failed:\n${r.stderr.trim()}`);
  await writeFile(join(partial, ".version"), version);
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  await rm(deb);
}

function readUnder(root: string): KernelTree["read"] {
  return async (path) => {
    try {
      return new Uint8Array(await readFile(join(root, path)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  };
}

/** The release in a bzImage's kernel_version string (setup header, boot protocol >= 2.00). */
function bzImageRelease(image: Uint8Array): string | undefined {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image.length < 0x210 || view.getUint32(0x202, true) !== 0x53726448) return undefined;
  const at = view.getUint16(0x20e, true) + 0x200;
  const end = image.indexOf(0, at);
  if (at >= image.length || end < 0) return undefined;
  return new TextDecoder().decode(image.subarray(at, end)).split(" ")[0] || undefined;
}

function sameModules(cached: readonly string[]): boolean {
  return cached.length === debianModules.length && cached.every((m, i) => m === debianModules[i]);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** A path as the user would type it: relative below the current folder, absolute elsewhere. */
function show(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") ? path : rel;
}
