/**
 * The standard guest initramfs: a static busybox, an /init script that mounts the kernel's
 * filesystems and hands over to busybox init, which keeps a shell on the console and carries out
 * `poweroff` and `reboot` (and the ACPI power button's press, through busybox acpid, when the
 * kernel's `button` and `evdev` drivers are loaded), and any kernel modules asked for by name.
 * Pure (the kernel package is reached through `KernelTree.read`), so a page can build one too.
 */
import { CpioArchive, CpioError, gzip } from "./cpio";
import { KernelModuleError, modulesDep, resolveModules, type KernelTree } from "./kernel-modules";

/** The line /init prints once the guest's userspace is up, before the shell starts. */
export const GUEST_READY_MARKER = "webvm-guest: init ready";

/**
 * The version of what buildGuestInitramfs() puts in an initrd (/init, the layout). Raise it with
 * any change there: guest:fetch rebuilds a cached initrd of another version.
 */
export const INITRAMFS_VERSION = 3;

export interface GuestInitramfsOptions {
  /** A statically linked i386 busybox (Debian's busybox-static), installed as /bin/busybox. */
  busybox: Uint8Array;
  /** The kernel package the modules come from; required when `modules` is not empty. */
  kernel?: KernelTree;
  /** Module names ("virtio_blk"); their dependencies are added and /init loads them all. */
  modules?: readonly string[];
}

export interface GuestInitramfs {
  /** The gzip-compressed newc archive, ready to pass to the kernel as its initrd. */
  image: Uint8Array;
  /** Modules included, in the order /init loads them. */
  modules: string[];
  /** Modules asked for that are built into the kernel (nothing to load). */
  builtin: string[];
}

const utf8 = new TextEncoder();

export async function buildGuestInitramfs(options: GuestInitramfsOptions): Promise<GuestInitramfs> {
  checkStaticI386(options.busybox);
  const names = options.modules ?? [];
  if (names.length > 0 && !options.kernel) throw new KernelModuleError("modules were asked for but no kernel package was given");
  const resolved = options.kernel && names.length > 0 ? await resolveModules(options.kernel, names) : { modules: [], builtin: [] };

  const cpio = new CpioArchive();
  for (const dir of ["/bin", "/sbin", "/usr", "/usr/bin", "/usr/sbin", "/dev", "/proc", "/sys", "/etc", "/root"]) cpio.directory(dir);
  cpio.directory("/tmp", 0o1777);
  // The kernel opens /dev/console for init's stdin/stdout before any devtmpfs is mounted.
  cpio.charDevice("/dev/console", 5, 1, 0o600);
  cpio.file("/bin/busybox", options.busybox, 0o755);

  const loadOrder: string[] = [];
  if (options.kernel && resolved.modules.length > 0) {
    const base = `/lib/modules/${options.kernel.release}`;
    for (const module of resolved.modules) {
      const path = `${base}/${module.path}`;
      makeParents(cpio, path);
      cpio.file(path, module.data, 0o644);
      loadOrder.push(path);
    }
    cpio.file(`${base}/modules.dep`, utf8.encode(modulesDep(resolved.modules)));
  }
  cpio.file("/init", utf8.encode(initScript(loadOrder)), 0o755);
  cpio.file("/etc/inittab", utf8.encode(INITTAB), 0o644);
  cpio.file("/etc/profile", utf8.encode(PROFILE), 0o644);
  cpio.directory("/etc/acpi");
  cpio.file("/etc/acpid.conf", utf8.encode(ACPID_CONF), 0o644);
  cpio.file("/etc/acpi/power-button", utf8.encode(POWER_BUTTON_ACTION), 0o755);
  return { image: await gzip(cpio.toBytes()), modules: resolved.modules.map((m) => m.name), builtin: resolved.builtin };
}

/**
 * /init, run by busybox's shell. `--install -s` needs /proc mounted (it finds busybox through
 * /proc/self/exe). It ends by becoming busybox init (still PID 1), which runs INITTAB.
 */
export function initScript(modulePaths: readonly string[]): string {
  return [
    "#!/bin/busybox sh",
    "/bin/busybox mount -t proc proc /proc",
    "/bin/busybox --install -s",
    "export PATH=/sbin:/usr/sbin:/bin:/usr/bin",
    "mount -t sysfs sysfs /sys",
    "mount -t devtmpfs devtmpfs /dev",
    "mount -t tmpfs tmpfs /tmp",
    ...modulePaths.map((p) => `insmod ${p} || echo "init: could not load ${p}"`),
    // The power button reaches userspace as a key on an event device (button + evdev); without one, acpid has nothing to read.
    "[ -e /dev/input/event0 ] && acpid -l /tmp/acpid.log",
    `echo "${GUEST_READY_MARKER}"`,
    "exec init",
    "",
  ].join("\n");
}

/**
 * busybox init's table: a login shell on the console in its own session with the console as its
 * controlling terminal (`cttyhack`), so job control and Ctrl-C work, started again when it exits.
 * busybox `halt`, `poweroff` and `reboot` signal init (USR1, USR2, TERM), which stops every
 * process, syncs and asks the kernel (reboot(2)); with -f they skip init. Nothing to unmount:
 * the root is the initramfs.
 */
export const INITTAB = "::respawn:/bin/cttyhack /bin/sh -l\n";

/**
 * busybox acpid: it names the power button's key (KEY_POWER) "button/power PWRF 00000080" and runs
 * the action of the first key the name contains, a path under /etc/acpi.
 */
export const ACPID_CONF = "PWRF power-button\n";
/** Pressing the power button shuts down cleanly, as `poweroff` does: init stops everything, then ACPI S5. */
const POWER_BUTTON_ACTION = "#!/bin/busybox sh\nexec /bin/busybox poweroff\n";

/** Read by the login shell: init leaves HOME=/ and the working directory at /. */
const PROFILE = ["export HOME=/root", "cd /root", ""].join("\n");

function makeParents(cpio: CpioArchive, path: string): void {
  const parts = path.split("/").slice(1, -1);
  for (let i = 1; i <= parts.length; i++) {
    const dir = `/${parts.slice(0, i).join("/")}`;
    if (!cpio.has(dir)) cpio.directory(dir);
  }
}

/** The kernel runs /bin/busybox with no loader and no libraries: it must be a static i386 ELF. */
function checkStaticI386(elf: Uint8Array): void {
  const fail = (why: string): never => { throw new CpioError("/bin/busybox", why); };
  if (elf.length < 52 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46) fail("not an ELF file");
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (elf[4] !== 1 || elf[5] !== 1 || view.getUint16(18, true) !== 3) fail("not a 32-bit little-endian i386 (EM_386) executable");
  const phoff = view.getUint32(28, true);
  const phentsize = view.getUint16(42, true);
  const phnum = view.getUint16(44, true);
  if (phoff + phnum * phentsize > elf.length) fail("program headers lie outside the file");
  for (let i = 0; i < phnum; i++) {
    if (view.getUint32(phoff + i * phentsize, true) === 3) fail("dynamically linked (has PT_INTERP); use a static busybox such as Debian's busybox-static");
  }
}
