// The initramfs builder: archives read back by an independent newc reader written here from the
// format's description (buffer-format.rst), the builder's refusals, module resolution over a
// synthetic kernel package, and, when `npm run guest:fetch` has filled guest/, the real initrd.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { CpioArchive, CpioError, gzip } from "../workers/boot/cpio";
import { ACPID_CONF, buildGuestInitramfs, GUEST_READY_MARKER, initScript, INITTAB } from "../workers/boot/initramfs";
import { KernelModuleError, modulesDep, readModinfo, resolveModules, type KernelTree } from "../workers/boot/kernel-modules";
import { parseGuestManifest } from "../workers/boot/guest-manifest";

interface Member { name: string; ino: number; mode: number; nlink: number; mtime: number; rdev: [number, number]; data: Uint8Array }

/** Reads a newc archive, checking every rule of the format on the way. */
function readNewc(bytes: Uint8Array): Member[] {
  const ascii = new TextDecoder("latin1");
  const members: Member[] = [];
  let at = 0;
  for (;;) {
    assert.equal(at % 4, 0, "every header starts 4-byte aligned");
    assert.equal(ascii.decode(bytes.subarray(at, at + 6)), "070701", `magic at ${at}`);
    const field = (i: number): number => {
      const hex = ascii.decode(bytes.subarray(at + 6 + i * 8, at + 14 + i * 8));
      assert.match(hex, /^[0-9a-fA-F]{8}$/);
      return parseInt(hex, 16);
    };
    const [ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check] =
      Array.from({ length: 13 }, (_, i) => field(i));
    assert.deepEqual([uid, gid, devmajor, devminor, check], [0, 0, 0, 0, 0]);
    const nameStart = at + 110;
    assert.equal(bytes[nameStart + namesize - 1], 0, "name is NUL-terminated; namesize counts the NUL");
    const name = new TextDecoder().decode(bytes.subarray(nameStart, nameStart + namesize - 1));
    assert.ok(!name.includes("\0"));
    let dataStart = nameStart + namesize;
    while (dataStart % 4 !== 0) assert.equal(bytes[dataStart++], 0, "name padding is zeros");
    let next = dataStart + filesize;
    while (next % 4 !== 0) assert.equal(bytes[next++], 0, "data padding is zeros");
    if (name === "TRAILER!!!") {
      assert.equal(next, bytes.length, "nothing follows the trailer");
      return members;
    }
    members.push({ name, ino, mode, nlink, mtime, rdev: [rdevmajor, rdevminor], data: bytes.subarray(dataStart, dataStart + filesize) });
    at = next;
  }
}

const utf8 = new TextEncoder();
const byName = (members: Member[]): Map<string, Member> => new Map(members.map((m) => [m.name, m]));

test("a newc archive holds directories, files, symlinks and device nodes as the format says", () => {
  const archive = new CpioArchive(1_700_000_000)
    .directory("/bin")
    .directory("/tmp", 0o1777)
    .file("/bin/tool", utf8.encode("hello"), 0o4755)
    .file("/empty", new Uint8Array(0))
    .symlink("/bin/sh", "tool")
    .directory("/dev")
    .charDevice("/dev/console", 5, 1)
    .charDevice("/dev/big", 0xfff, 0xfffff, 0o666);
  const members = readNewc(archive.toBytes());
  assert.deepEqual(members.map((m) => m.name), ["bin", "tmp", "bin/tool", "empty", "bin/sh", "dev", "dev/console", "dev/big"]);
  assert.equal(new Set(members.map((m) => m.ino)).size, members.length, "inode numbers are unique");
  const m = byName(members);
  assert.equal(m.get("bin")!.mode, 0o040755);
  assert.equal(m.get("bin")!.nlink, 2);
  assert.equal(m.get("tmp")!.mode, 0o041777);
  assert.equal(m.get("bin/tool")!.mode, 0o104755);
  assert.equal(new TextDecoder().decode(m.get("bin/tool")!.data), "hello");
  assert.equal(m.get("bin/tool")!.mtime, 1_700_000_000);
  assert.equal(m.get("empty")!.data.length, 0);
  assert.equal(m.get("bin/sh")!.mode, 0o120777);
  assert.equal(new TextDecoder().decode(m.get("bin/sh")!.data), "tool", "a symlink's data is its target, without NUL");
  assert.equal(m.get("dev/console")!.mode, 0o020600);
  assert.deepEqual(m.get("dev/console")!.rdev, [5, 1]);
  assert.deepEqual(m.get("dev/big")!.rdev, [0xfff, 0xfffff]);
});

test("every data length from 0 to 8 and name length from 1 to 8 is padded right", () => {
  const archive = new CpioArchive();
  for (let n = 1; n <= 8; n++) archive.file(`/${"n".repeat(n)}`, new Uint8Array(n - 1).fill(n));
  const members = readNewc(archive.toBytes());
  members.forEach((m, i) => assert.deepEqual([...m.data], new Array(i).fill(i + 1)));
});

test("bad entries are refused with the path named", () => {
  const refused = (add: (a: CpioArchive) => unknown, why: RegExp): void => {
    const archive = new CpioArchive().directory("/bin").file("/bin/f", new Uint8Array(1));
    assert.throws(() => add(archive), (e: unknown) => e instanceof CpioError && why.test(e.message));
  };
  refused((a) => a.directory("/bin"), /"\/bin": added twice/);
  refused((a) => a.symlink("/bin/f", "x"), /added twice/);
  refused((a) => a.file("/lib/x", new Uint8Array(0)), /parent directory \/lib has not been added/);
  refused((a) => a.file("/bin/f/x", new Uint8Array(0)), /parent \/bin\/f is a file/);
  refused((a) => a.directory("bin2"), /absolute path/);
  refused((a) => a.directory("/"), /absolute path/);
  refused((a) => a.directory("/bin/"), /empty, '.' and '..'/);
  refused((a) => a.directory("/bin/../etc"), /empty, '.' and '..'/);
  refused((a) => a.directory("/a\0b"), /NUL/);
  refused((a) => a.directory(`/${"x".repeat(256)}`), /longer than 255/);
  refused((a) => {
    let path = "";
    for (let i = 0; i < 25; i++) {
      path += `/${"d".repeat(200)}`;
      a.directory(path);
    }
  }, /PATH_MAX/);
  refused((a) => a.symlink("/s", ""), /symlink target/);
  refused((a) => a.file("/m", new Uint8Array(0), 0o10000), /permission mask/);
  refused((a) => a.charDevice("/d", 4096, 0), /outside/);
  refused((a) => a.charDevice("/d", 1, -1), /outside/);
  assert.throws(() => new CpioArchive(2 ** 32), RangeError);
});

test("gzip output is a standard gzip stream", async () => {
  const bytes = new CpioArchive().file("/x", utf8.encode("data")).toBytes();
  assert.deepEqual(new Uint8Array(gunzipSync(await gzip(bytes))), bytes);
});

// A synthetic kernel package: ELF32 modules with a .modinfo section, as the kernel build writes.
const RELEASE = "6.1.0-9-686";

function moduleElf(info: Record<string, string>): Uint8Array {
  const modinfo = utf8.encode(Object.entries(info).map(([k, v]) => `${k}=${v}\0`).join(""));
  const shstrtab = utf8.encode("\0.shstrtab\0.modinfo\0");
  const dataAt = 52;
  const shoff = (dataAt + shstrtab.length + modinfo.length + 3) & ~3;
  const elf = new Uint8Array(shoff + 3 * 40);
  const view = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  view.setUint16(16, 1, true); // ET_REL
  view.setUint16(18, 3, true); // EM_386
  view.setUint32(0x20, shoff, true);
  view.setUint16(0x2e, 40, true);
  view.setUint16(0x30, 3, true);
  view.setUint16(0x32, 1, true);
  elf.set(shstrtab, dataAt);
  elf.set(modinfo, dataAt + shstrtab.length);
  const section = (i: number, name: number, offset: number, size: number): void => {
    view.setUint32(shoff + i * 40, name, true);
    view.setUint32(shoff + i * 40 + 16, offset, true);
    view.setUint32(shoff + i * 40 + 20, size, true);
  };
  section(1, 1, dataAt, shstrtab.length);
  section(2, 11, dataAt + shstrtab.length, modinfo.length);
  return elf;
}

function kernelTree(modules: Record<string, string>, options: { builtin?: string[]; config?: string; vermagic?: string } = {}): KernelTree {
  const base = `lib/modules/${RELEASE}`;
  const files = new Map<string, Uint8Array>([
    [`boot/config-${RELEASE}`, utf8.encode(options.config ?? "CONFIG_MODULES=y\nCONFIG_MODULE_COMPRESS_NONE=y\n")],
    [`${base}/modules.order`, utf8.encode(Object.keys(modules).map((p) => `${p}\n`).join(""))],
    [`${base}/modules.builtin`, utf8.encode((options.builtin ?? []).map((p) => `${p}\n`).join(""))],
  ]);
  for (const [path, depends] of Object.entries(modules)) {
    files.set(`${base}/${path}`, moduleElf({ license: "GPL", depends, vermagic: `${options.vermagic ?? RELEASE} SMP mod_unload 686 ` }));
  }
  return { release: RELEASE, read: async (path) => files.get(path) };
}

const VIRTIO = {
  "kernel/drivers/virtio/virtio.ko": "",
  "kernel/drivers/virtio/virtio_ring.ko": "virtio",
  "kernel/drivers/block/virtio_blk.ko": "virtio,virtio_ring",
  "kernel/drivers/net/net-failover.ko": "failover",
  "kernel/net/core/failover.ko": "",
  "kernel/drivers/net/virtio_net.ko": "virtio_ring,net_failover,virtio",
};

test(".modinfo is read from an ELF module", () => {
  const info = readModinfo(moduleElf({ depends: "a,b", name: "x" }), "x.ko");
  assert.equal(info.get("depends"), "a,b");
  assert.equal(info.get("name"), "x");
  assert.throws(() => readModinfo(utf8.encode("not an elf at all, just text padding it out to sixty-four bytes"), "t.ko"), /not an ELF/);
});

test("modules come with their dependencies, each after what it needs", async () => {
  const { modules, builtin } = await resolveModules(kernelTree(VIRTIO, { builtin: ["kernel/drivers/char/hw_random/virtio-rng.ko"] }), ["virtio-net", "virtio_blk", "virtio_rng"]);
  const names = modules.map((m) => m.name);
  assert.deepEqual(new Set(names), new Set(["virtio", "virtio_ring", "failover", "net_failover", "virtio_net", "virtio_blk"]));
  for (const m of modules) for (const d of m.depends) assert.ok(names.indexOf(d) < names.indexOf(m.name), `${d} before ${m.name}`);
  assert.deepEqual(builtin, ["virtio_rng"]);
  const dep = modulesDep(modules);
  assert.match(dep, /^kernel\/drivers\/net\/virtio_net\.ko: .*kernel\/drivers\/virtio\/virtio\.ko$/m, "transitive dependencies, loaded-first last");
  assert.match(dep, /^kernel\/drivers\/virtio\/virtio\.ko:$/m);
  assert.equal(dep.split("\n").filter((l) => l !== "").length, 6);
});

test("module resolution refuses what it cannot deliver", async () => {
  const fails = async (tree: KernelTree, names: string[], why: RegExp): Promise<void> => {
    await assert.rejects(resolveModules(tree, names), (e: unknown) => e instanceof KernelModuleError && why.test(e.message));
  };
  await fails(kernelTree(VIRTIO), ["nope"], /has no module nope/);
  await fails(kernelTree({ "kernel/a.ko": "b" }), ["a"], /no module b \(needed by a\)/);
  await fails(kernelTree({ "kernel/a.ko": "b", "kernel/b.ko": "a" }), ["a"], /cycle: a -> b -> a/);
  await fails(kernelTree(VIRTIO, { vermagic: "6.1.0-8-686" }), ["virtio"], /built for kernel 6\.1\.0-8-686/);
  await fails(kernelTree(VIRTIO, { config: "CONFIG_MODULE_COMPRESS_XZ=y\n" }), ["virtio"], /XZ-compressed/);
  await assert.rejects(buildGuestInitramfs({ busybox: staticElf(), modules: ["virtio"] }), /no kernel package/);
});

/** A minimal static i386 executable header (no PT_INTERP): what the builder checks busybox for. */
function staticElf(interp = false): Uint8Array {
  const elf = new Uint8Array(52 + 32);
  const view = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  view.setUint16(16, 2, true);
  view.setUint16(18, 3, true);
  view.setUint32(28, 52, true);
  view.setUint16(42, 32, true);
  view.setUint16(44, 1, true);
  view.setUint32(52, interp ? 3 : 1, true);
  return elf;
}

test("the guest initramfs has /init, busybox, the console node and the modules with modules.dep", async () => {
  const built = await buildGuestInitramfs({ busybox: staticElf(), kernel: kernelTree(VIRTIO), modules: ["virtio_blk"] });
  assert.deepEqual(built.modules, ["virtio", "virtio_ring", "virtio_blk"]);
  const m = byName(readNewc(new Uint8Array(gunzipSync(built.image))));
  assert.equal(m.get("init")!.mode, 0o100755);
  assert.equal(m.get("bin/busybox")!.mode, 0o100755);
  assert.deepEqual(m.get("dev/console")!.rdev, [5, 1]);
  assert.equal(m.get("tmp")!.mode, 0o041777);
  const init = new TextDecoder().decode(m.get("init")!.data);
  assert.ok(init.startsWith("#!/bin/busybox sh\n"));
  assert.ok(init.indexOf("mount -t proc") < init.indexOf("--install -s"), "busybox --install needs /proc");
  assert.match(init, /\nexec init\n$/, "busybox init takes over as PID 1");
  assert.equal(new TextDecoder().decode(m.get("etc/inittab")!.data), INITTAB);
  assert.match(INITTAB, /^::respawn:\/bin\/cttyhack \/bin\/sh -l$/m);
  assert.ok(init.includes(`echo "${GUEST_READY_MARKER}"`));
  // The power button: acpid (started when an event device exists) runs /etc/acpi/power-button, which powers off.
  assert.ok(init.indexOf("acpid") > init.lastIndexOf("insmod"), "acpid starts after the modules that make the event devices");
  assert.equal(new TextDecoder().decode(m.get("etc/acpid.conf")!.data), ACPID_CONF);
  assert.equal(m.get("etc/acpi/power-button")!.mode, 0o100755);
  assert.match(new TextDecoder().decode(m.get("etc/acpi/power-button")!.data), /\nexec \/bin\/busybox poweroff\n$/);
  const base = `lib/modules/${RELEASE}`;
  const insmods = [...init.matchAll(/^insmod (\S+)/gm)].map((x) => x[1]);
  assert.deepEqual(insmods, ["virtio", "virtio_ring", "virtio_blk"].map((n) => `/${base}/kernel/drivers/${n === "virtio_blk" ? "block" : "virtio"}/${n}.ko`));
  assert.ok(m.has(`${base}/kernel/drivers/block/virtio_blk.ko`));
  assert.match(new TextDecoder().decode(m.get(`${base}/modules.dep`)!.data), /^kernel\/drivers\/block\/virtio_blk\.ko: /m);
  assert.equal(initScript([]), new TextDecoder().decode(byName(readNewc(new Uint8Array(gunzipSync((await buildGuestInitramfs({ busybox: staticElf() })).image)))).get("init")!.data));
});

test("busybox must be a static i386 ELF", async () => {
  await assert.rejects(buildGuestInitramfs({ busybox: staticElf(true) }), /dynamically linked/);
  await assert.rejects(buildGuestInitramfs({ busybox: utf8.encode("#!/bin/sh\n".padEnd(64)) }), /not an ELF/);
  const x86_64 = staticElf();
  x86_64[4] = 2;
  await assert.rejects(buildGuestInitramfs({ busybox: x86_64 }), /EM_386/);
});

// The real guest, when `npm run guest:fetch` has been run here.
const guestDir = join(import.meta.dirname, "..", "guest");
const manifest = await readFile(join(guestDir, "default.json"), "utf8").then((t) => parseGuestManifest(JSON.parse(t)), () => undefined);

test("the cached Debian initrd holds busybox, /init and the manifest's modules", { skip: !manifest && "no guest/default.json (npm run guest:fetch)" }, async () => {
  const m = byName(readNewc(new Uint8Array(gunzipSync(await readFile(join(guestDir, manifest!.initrd))))));
  const busybox = m.get("bin/busybox")!;
  assert.equal(busybox.mode, 0o100755);
  assert.deepEqual([...busybox.data.subarray(0, 5)], [0x7f, 0x45, 0x4c, 0x46, 1], "an ELF32 busybox");
  assert.match(new TextDecoder().decode(m.get("init")!.data), new RegExp(manifest!.readyMarker));
  for (const name of manifest!.modules) {
    assert.ok([...m.keys()].some((p) => p.startsWith(`lib/modules/${manifest!.kernelRelease}/`) && p.replaceAll("-", "_").endsWith(`/${name}.ko`)), name);
  }
  const kernel = await readFile(join(guestDir, manifest!.kernel));
  assert.equal(kernel.toString("latin1", 0x202, 0x206), "HdrS", "the kernel is a bzImage");
});

const debianTree = manifest && Object.keys(manifest.packages).length > 0
  ? join(guestDir, `debian-${manifest.kernelRelease}`, "linux-image") : undefined;

test("virtio_blk resolves in the real Debian kernel package", { skip: !debianTree && "no Debian kernel in guest/" }, async () => {
  const tree: KernelTree = {
    release: manifest!.kernelRelease,
    read: (path) => readFile(join(debianTree!, path)).then((b) => new Uint8Array(b), () => undefined),
  };
  const { modules } = await resolveModules(tree, ["virtio_blk"]);
  assert.deepEqual(modules.map((m) => m.name), ["virtio", "virtio_ring", "virtio_blk"]);
});
