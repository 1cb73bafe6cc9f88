// The bzImage parser and the direct-boot loader, against the boot protocol's header layout
// (Documentation/arch/x86/boot.rst) and, when guest:fetch has cached it, Debian's real kernel.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { KernelImageError, parseBzImage } from "../workers/boot/bzimage";
import { E820, loadLinux, type E820Entry } from "../workers/boot/linux-loader";
import { REG } from "../workers/registers";

const MIB = 1 << 20;

/** A bzImage as boot.rst lays one out: setup sectors with the header, then the protected-mode kernel. */
function bzImage(fields: { version?: number; loadflags?: number; setupSects?: number; kernelBytes?: number; initSize?: number } = {}): Uint8Array {
  const setupSects = fields.setupSects ?? 4;
  const kernelBytes = fields.kernelBytes ?? 4096;
  const image = new Uint8Array((setupSects + 1) * 512 + kernelBytes);
  const view = new DataView(image.buffer);
  image[0x1f1] = setupSects;
  view.setUint32(0x1f4, kernelBytes / 16, true);
  view.setUint16(0x1fe, 0xaa55, true);
  image[0x200] = 0xeb;
  image[0x201] = 0x6a; // jump over the header, to 0x26c
  image.set([0x48, 0x64, 0x72, 0x53], 0x202); // "HdrS"
  view.setUint16(0x206, fields.version ?? 0x020f, true);
  image[0x211] = fields.loadflags ?? 1;
  view.setUint32(0x214, 0x100000, true);
  view.setUint32(0x22c, 0x7fffffff, true);
  view.setUint32(0x230, 0x1000000, true);
  image[0x234] = 1;
  view.setUint32(0x238, 2047, true);
  view.setUint32(0x258, 0x1000000, true);
  view.setUint32(0x260, fields.initSize ?? 0x800000, true);
  image.fill(0xcc, (setupSects + 1) * 512);
  return image;
}

const pcE820 = (ramBytes: number): E820Entry[] => [
  { address: 0, size: 0x9fc00, type: E820.ram },
  { address: 0x9fc00, size: 0x400, type: E820.reserved },
  { address: 0xf0000, size: 0x10000, type: E820.reserved },
  { address: 0x100000, size: ramBytes - 0x100000, type: E820.ram },
];

test("a well-formed bzImage parses: protocol, setup and kernel split, load address, limits", () => {
  const image = parseBzImage(bzImage());
  assert.equal(image.protocol, 0x020f);
  assert.equal(image.setup.length, 5 * 512);
  assert.equal(image.kernel.length, 4096);
  assert.deepEqual([image.code32Start, image.cmdlineSize, image.relocatable, image.prefAddress, image.initSize], [0x100000, 2047, true, 0x1000000, 0x800000]);
});

test("bad kernel images are refused with errors that say what is wrong", () => {
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(100), /too short/],
    [Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, ...new Uint8Array(1000)]), /not a Linux bzImage/],
    [bzImage({ version: 0x0204 }), /boot protocol 2\.04; at least 2\.06/],
    [bzImage({ loadflags: 0 }), /zImage/],
    [bzImage().subarray(0, 5 * 512 + 100), /truncated/],
  ];
  for (const [image, message] of cases) assert.throws(() => parseBzImage(image), (error: Error) => error instanceof KernelImageError && message.test(error.message));
});

test("loadLinux places kernel, initrd and command line and fills boot_params as boot.rst says", () => {
  const ram = new Uint8Array(64 * MIB);
  const initrd = new Uint8Array(300_000).fill(0x5a);
  const placed = loadLinux({ kernel: bzImage(), initrd, cmdline: "console=ttyS0 quiet", ram, e820: pcE820(ram.length), acpiRsdp: 0xf0010 });
  const view = new DataView(ram.buffer);
  const bp = placed.bootParams;
  assert.equal(ram[0x100000], 0xcc, "protected-mode kernel at code32_start");
  assert.equal(placed.initrd?.address, 64 * MIB - 303_104, "initrd page-aligned at the top of RAM");
  assert.equal(ram[placed.initrd!.address], 0x5a);
  assert.equal(view.getUint32(bp + 0x218, true), placed.initrd!.address, "ramdisk_image");
  assert.equal(view.getUint32(bp + 0x21c, true), 300_000, "ramdisk_size");
  assert.equal(view.getUint32(bp + 0x202, true), 0x53726448, "the setup header is copied in");
  assert.equal(ram[bp + 0x210], 0xff, "type_of_loader: undefined");
  const cmdline = view.getUint32(bp + 0x228, true);
  assert.equal(Buffer.from(ram.subarray(cmdline, cmdline + 20)).toString("latin1"), "console=ttyS0 quiet\0");
  assert.equal(Number(view.getBigUint64(bp + 0x70, true)), 0xf0010, "acpi_rsdp_addr");
  assert.equal(ram[bp + 0x1e8], 4, "e820_entries");
  const e820 = Array.from({ length: 4 }, (_, i) => [Number(view.getBigUint64(bp + 0x2d0 + i * 20, true)), Number(view.getBigUint64(bp + 0x2d8 + i * 20, true)), view.getUint32(bp + 0x2e0 + i * 20, true)]);
  assert.deepEqual(e820, pcE820(ram.length).map((e) => [e.address, e.size, e.type]));
  const regs = new Map(placed.registers.map((r) => [r.tag, r.value]));
  assert.equal(regs.get(REG.rsi), BigInt(bp), "ESI = boot_params");
  assert.equal(regs.get(REG.rip), 0x100000n);
  assert.equal(regs.get(REG["cs.selector"]), 0x10n, "__BOOT_CS");
  assert.equal(regs.get(REG["ds.selector"]), 0x18n, "__BOOT_DS");
  const gdt = Number(regs.get(REG["gdtr.base"]));
  assert.deepEqual([...ram.subarray(gdt + 0x10, gdt + 0x20)], [0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0], "flat code and data descriptors at 0x10 and 0x18");
});

test("loadLinux refuses what does not fit, before writing anything", () => {
  const ram = new Uint8Array(24 * MIB);
  const e820 = pcE820(ram.length);
  assert.throws(() => loadLinux({ kernel: bzImage({ initSize: 16 * MIB }), cmdline: "", ram, e820 }), /needs RAM up to 32\.0 MiB/);
  assert.throws(() => loadLinux({ kernel: bzImage(), cmdline: "x".repeat(2048), ram, e820 }), /at most 2047/);
  assert.throws(() => loadLinux({ kernel: bzImage(), cmdline: "caf\u00e9", ram, e820 }), /printable ASCII/);
  assert.throws(() => loadLinux({ kernel: bzImage(), initrd: new Uint8Array(8 * MIB), cmdline: "", ram, e820 }), /initrd .* does not fit/);
  assert.ok(ram.every((byte) => byte === 0), "nothing written");
});

const manifest = new URL("../guest/default.json", import.meta.url);
test("Debian's cached kernel parses as boot.rst and DESIGN.md describe it", { skip: !existsSync(manifest) && "no cached guest (npm run guest:fetch)" }, () => {
  const { kernel } = JSON.parse(readFileSync(manifest, "utf8")) as { kernel: string };
  const image = parseBzImage(readFileSync(new URL(kernel, manifest)));
  assert.ok(image.protocol >= 0x020f, "protocol 2.15 or later");
  assert.equal(image.relocatable, true);
  assert.equal(image.prefAddress, 0x1000000);
  assert.equal(image.code32Start, 0x100000);
});
