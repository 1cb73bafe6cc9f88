// guest:fetch: its pure parts (which kernel is newest, the i386 sources, apt-cache output), and
// the whole script run offline against a stand-in apt-get/apt-cache on PATH that fails its update
// like a mirror caught mid-sync and "downloads" .debs built here with dpkg-deb.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { i386Sources, kernelRelease, parseDepends, parseStanza, pickNewestKernel } from "../scripts/guest-apt";
import { parseGuestManifest } from "../workers/boot/guest-manifest";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..");
const script = join(root, "scripts", "fetch-guest.ts");

test("the newest kernel is picked by numeric ABI order, flavour 686 only, signed before unsigned", () => {
  assert.equal(pickNewestKernel(["linux-image-6.1.0-9-686", "linux-image-6.1.0-28-686"]), "linux-image-6.1.0-28-686");
  assert.equal(pickNewestKernel(["linux-image-6.10.0-1-686", "linux-image-6.9.0-30-686"]), "linux-image-6.10.0-1-686");
  assert.equal(pickNewestKernel([
    "linux-image-686", "linux-image-6.1.0-50-686-pae", "linux-image-6.1.0-50-686-dbg", "linux-image-6.1.0-50-rt-686-pae",
    "linux-image-6.1.0-47-686", "linux-image-6.1.0-47-686-unsigned",
  ]), "linux-image-6.1.0-47-686");
  assert.equal(pickNewestKernel(["linux-image-6.1.0-47-686-unsigned", "linux-image-6.1.0-48-686-unsigned"]), "linux-image-6.1.0-48-686-unsigned");
  assert.equal(pickNewestKernel(["linux-image-6.1.0-9-686-unsigned", "linux-image-6.1.0-9-686"]), "linux-image-6.1.0-9-686");
  assert.equal(pickNewestKernel(["linux-image-686", "busybox-static"]), undefined);
  assert.equal(pickNewestKernel(["linux-image-6.1.0-9-686-pae", "linux-image-6.1.0-9-686"], "686-pae"), "linux-image-6.1.0-9-686-pae");
  assert.equal(kernelRelease("linux-image-6.1.0-28-686-unsigned"), "6.1.0-28-686");
});

test("host sources are copied for i386 only, deb-src and disabled entries dropped", () => {
  const { list, deb822 } = i386Sources([
    { name: "/etc/apt/sources.list", text: [
      "# comment",
      "deb http://deb.example/debian bookworm main",
      "deb-src http://deb.example/debian bookworm main",
      "deb [ arch=amd64,i386 signed-by=/k.gpg ] http://deb.example/debian-security bookworm-security main # trailing",
      "",
    ].join("\n") },
    { name: "/etc/apt/sources.list.d/x.sources", text: [
      "Types: deb deb-src",
      "URIs: http://deb.example/debian",
      "Suites: bookworm bookworm-updates",
      "# a comment inside",
      "Components: main",
      "Architectures: amd64",
      "Signed-By:",
      " -----BEGIN PGP PUBLIC KEY BLOCK-----",
      " .",
      " -----END PGP PUBLIC KEY BLOCK-----",
      "",
      "Types: deb-src",
      "URIs: http://src.example",
      "",
      "Types: deb",
      "Enabled: no",
      "URIs: http://off.example",
    ].join("\n") },
  ]);
  assert.equal(list, [
    "deb [arch=i386] http://deb.example/debian bookworm main",
    "deb [signed-by=/k.gpg arch=i386] http://deb.example/debian-security bookworm-security main",
    "",
  ].join("\n"));
  assert.equal(deb822, [
    "Types: deb", "Architectures: i386", "URIs: http://deb.example/debian", "Suites: bookworm bookworm-updates", "Components: main",
    "Signed-By:", " -----BEGIN PGP PUBLIC KEY BLOCK-----", " .", " -----END PGP PUBLIC KEY BLOCK-----", "",
  ].join("\n"));
});

test("apt-cache output is parsed", () => {
  assert.deepEqual(parseDepends("linux-image-686\n  Depends: linux-image-6.1.0-50-686\n |Depends: <linux-image-x>\n  Recommends: foo\n"),
    ["linux-image-6.1.0-50-686", "linux-image-x"]);
  const s = parseStanza("Package: busybox-static\nVersion: 1:1.35.0-4\nFilename: pool/b.deb\n\nPackage: other\nVersion: 2\n");
  assert.equal(s.get("version"), "1:1.35.0-4");
  assert.equal(s.get("package"), "busybox-static");
});

test("a manifest with a wrong field is refused", () => {
  const good = { kernel: "k", initrd: "i", cmdline: "console=ttyS0", kernelRelease: "r", readyMarker: "m", modules: [], packages: {} };
  assert.deepEqual(parseGuestManifest(good), good);
  assert.throws(() => parseGuestManifest({ ...good, kernel: 1 }), /kernel must be a string/);
  assert.throws(() => parseGuestManifest({ ...good, initrd: "../x" }), /inside the manifest's folder/);
  assert.throws(() => parseGuestManifest({ ...good, modules: [1] }), /modules/);
  assert.throws(() => parseGuestManifest({ ...good, packages: { a: 1 } }), /packages/);
});

/** A fake bzImage: just enough setup header for the version string (0x20e points at it, less 0x200). */
function fakeBzImage(release: string): Buffer {
  const image = Buffer.alloc(0x400);
  image.write("HdrS", 0x202, "latin1");
  image.writeUInt16LE(0x300 - 0x200, 0x20e);
  image.write(`${release} (test@example) #1 SMP\0`, 0x300, "latin1");
  return image;
}

/** A static i386 ELF header, which is all the initramfs builder checks busybox for. */
function fakeBusybox(): Buffer {
  const elf = Buffer.alloc(84);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  elf.writeUInt16LE(3, 18);
  elf.writeUInt32LE(52, 28);
  elf.writeUInt16LE(32, 42);
  elf.writeUInt16LE(1, 44);
  elf.writeUInt32LE(1, 52);
  return elf;
}

const dpkgDeb = await exec("dpkg-deb", ["--version"]).then(() => true, () => false);

test("the script runs offline against a stand-in apt: mid-sync update, newest kernel, then a cached no-op", { skip: !dpkgDeb && "no dpkg-deb" }, async () => {
  const work = await mkdtemp(join(tmpdir(), "guest-fetch-"));
  try {
    const release = "6.1.0-28-686";
    const pkg = async (name: string, files: Record<string, Buffer | string>): Promise<void> => {
      const tree = join(work, "trees", name);
      await mkdir(join(tree, "DEBIAN"), { recursive: true });
      await writeFile(join(tree, "DEBIAN", "control"), `Package: ${name}\nVersion: 1.0\nArchitecture: i386\nMaintainer: t <t@example>\nDescription: test\n`);
      for (const [path, body] of Object.entries(files)) {
        await mkdir(join(tree, path, ".."), { recursive: true });
        await writeFile(join(tree, path), body);
      }
      await mkdir(join(work, "debs"), { recursive: true });
      await exec("dpkg-deb", ["--root-owner-group", "-b", tree, join(work, "debs", `${name}_1.0_i386.deb`)]);
    };
    await pkg(`linux-image-${release}`, {
      [`boot/vmlinuz-${release}`]: fakeBzImage(release),
      [`boot/config-${release}`]: "CONFIG_MODULE_COMPRESS_NONE=y\n",
      [`lib/modules/${release}/modules.order`]: "",
      // Built in here, so the platform's modules need no .ko in this stand-in package.
      [`lib/modules/${release}/modules.builtin`]: "kernel/drivers/virtio/virtio.ko\nkernel/drivers/misc/pvpanic/pvpanic-mmio.ko\nkernel/drivers/acpi/button.ko\nkernel/drivers/input/evdev.ko\n",
    });
    await pkg("busybox-static", { "bin/busybox": fakeBusybox() });
    const bin = join(work, "bin");
    await mkdir(bin);
    const log = join(work, "apt.log");
    await writeFile(join(bin, "apt-get"), `#!/bin/sh
echo "apt-get $*" >> ${log}
case " $* " in
  *" update "*) echo "E: Failed to fetch .../binary-i386/Packages.xz  File has unexpected size. Mirror sync in progress?" >&2; exit 100;;
  *" download "*) for p in "$@"; do [ -f "${work}/debs/\${p}_1.0_i386.deb" ] && cp "${work}/debs/\${p}_1.0_i386.deb" .; done; exit 0;;
esac
`);
    await writeFile(join(bin, "apt-cache"), `#!/bin/sh
echo "apt-cache $*" >> ${log}
for last; do :; done
case " $* " in
  *" depends "*) printf 'linux-image-686\\n  Depends: linux-image-${release}\\n';;
  *" pkgnames "*) printf 'linux-image-6.1.0-9-686\\nlinux-image-${release}\\nlinux-image-${release}-unsigned\\nlinux-image-686\\n';;
  *" show "*) printf 'Package: %s\\nVersion: 1.0\\nFilename: pool/%s.deb\\n\\n' "$last" "$last";;
esac
`);
    await chmod(join(bin, "apt-get"), 0o755);
    await chmod(join(bin, "apt-cache"), 0o755);
    const cache = join(work, "guest");
    const fetch = (...args: string[]) => exec(process.execPath, ["--import", "tsx", script, "--dir", cache, ...args], {
      cwd: root, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });

    const first = await fetch();
    assert.match(first.stdout, /apt-get update exited 100; going on/);
    assert.match(first.stdout, new RegExp(`newest kernel: linux-image-${release} 1\\.0`));
    const manifest = parseGuestManifest(JSON.parse(await readFile(join(cache, "default.json"), "utf8")));
    assert.equal(manifest.kernelRelease, release);
    assert.equal(manifest.kernel, `debian-${release}/linux-image/boot/vmlinuz-${release}`);
    assert.equal(manifest.cmdline, "console=ttyS0");
    assert.deepEqual(manifest.packages, { [`linux-image-${release}`]: "1.0", "busybox-static": "1.0" });
    assert.deepEqual(manifest.modules, ["pvpanic_mmio", "button", "evdev"], "the platform's modules go into every initrd built from Debian's kernel");
    assert.ok(gunzipSync(await readFile(join(cache, manifest.initrd))).includes("TRAILER!!!"));
    assert.match(await readFile(log, "utf8"), /Dir::State::Lists=.*APT::Architecture=i386/);

    await writeFile(log, "");
    assert.match((await fetch()).stdout, /up to date/);
    const builtinOnly = await fetch("--modules", "virtio");
    assert.match(builtinOnly.stdout, /built in, nothing to load: pvpanic_mmio button evdev virtio/);
    assert.equal(await readFile(log, "utf8"), "", "a cached guest needs no apt at all");
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test("without apt-get the script says how to supply a kernel and initrd by hand", async () => {
  const work = await mkdtemp(join(tmpdir(), "guest-fetch-"));
  try {
    const result = await exec(process.execPath, ["--import", "tsx", script, "--dir", work], { cwd: root, env: { ...process.env, PATH: work } })
      .then(() => assert.fail("exits non-zero"), (error: { code: number; stderr: string }) => error);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /apt-get is not installed/);
    assert.match(result.stderr, /--kernel <bzImage> --busybox <busybox>/);
    assert.match(result.stderr, /--kernel <bzImage> --initrd <initrd>/);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test("a kernel and busybox supplied by hand get an initrd and a manifest", async () => {
  const work = await mkdtemp(join(tmpdir(), "guest-fetch-"));
  try {
    await writeFile(join(work, "bz"), fakeBzImage("6.1.0-7-686"));
    await writeFile(join(work, "bb"), fakeBusybox());
    await exec(process.execPath, ["--import", "tsx", script, "--dir", join(work, "g"), "--kernel", join(work, "bz"), "--busybox", join(work, "bb")], { cwd: root });
    const manifest = parseGuestManifest(JSON.parse(await readFile(join(work, "g", "default.json"), "utf8")));
    assert.deepEqual([manifest.kernel, manifest.initrd, manifest.kernelRelease], ["manual/vmlinuz-6.1.0-7-686", "manual/initrd.img", "6.1.0-7-686"]);
    assert.deepEqual(manifest.packages, {});
    await assert.rejects(exec(process.execPath, ["--import", "tsx", script, "--dir", join(work, "g"), "--kernel", join(work, "bb"), "--busybox", join(work, "bb")], { cwd: root }),
      /not a bzImage/);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
