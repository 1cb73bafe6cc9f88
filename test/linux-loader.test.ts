// The bzImage parser and the direct-boot loader, against the boot protocol's header layout
// (Documentation/arch/x86/boot.rst) and, when guest:fetch has cached it, Debian's real kernel.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { KernelImageError, parseBzImage } from "../workers/boot/bzimage";
import { loadLinux } from "../workers/boot/linux-loader";
import { parseKernelElf, PayloadError, unpackVmlinux } from "../workers/boot/vmlinux";
import { pcE820 } from "../workers/pc-board";
import { REG } from "../workers/registers";
import { hasXz, xz } from "./fixtures/host-xz";

const MIB = 1 << 20;

/** A bzImage as boot.rst lays one out: setup sectors with the header, then the protected-mode kernel. */
function bzImage(fields: { version?: number; loadflags?: number; setupSects?: number; kernelBytes?: number; initSize?: number; payload?: Uint8Array } = {}): Uint8Array {
  const setupSects = fields.setupSects ?? 4;
  const payloadOffset = 0x100;
  const kernelBytes = fields.kernelBytes ?? Math.max(4096, Math.ceil((payloadOffset + (fields.payload?.length ?? 0)) / 16) * 16);
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
  if (fields.payload) {
    view.setUint32(0x248, payloadOffset, true);
    view.setUint32(0x24c, fields.payload.length, true);
    image.set(fields.payload, (setupSects + 1) * 512 + payloadOffset);
  }
  return image;
}

interface ElfSegment { address: number; bytes: Uint8Array; memSize: number }

/** An i386 ELF executable as the kernel's vmlinux is one: header, program headers, segment data, then anything. */
function elf32(entry: number, segments: ElfSegment[], fields: { machine?: number; trailer?: number } = {}): Uint8Array {
  const dataStart = 52 + segments.length * 32;
  const size = dataStart + segments.reduce((sum, segment) => sum + segment.bytes.length, 0) + (fields.trailer ?? 0);
  const elf = new Uint8Array(size);
  const view = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  view.setUint16(16, 2, true);
  view.setUint16(18, fields.machine ?? 3, true);
  view.setUint32(24, entry, true);
  view.setUint32(28, 52, true);
  view.setUint16(42, 32, true);
  view.setUint16(44, segments.length, true);
  let offset = dataStart;
  segments.forEach((segment, i) => {
    const at = 52 + i * 32;
    view.setUint32(at, 1, true);
    view.setUint32(at + 4, offset, true);
    view.setUint32(at + 8, segment.address + 0xc0000000, true);
    view.setUint32(at + 12, segment.address, true);
    view.setUint32(at + 16, segment.bytes.length, true);
    view.setUint32(at + 20, segment.memSize, true);
    elf.set(segment.bytes, offset);
    offset += segment.bytes.length;
  });
  return elf;
}


/** A payload as the kernel's build makes one: xz_wrap.sh's options, then the unpacked size (size_append). */
function xzPayload(data: Uint8Array): Uint8Array {
  const packed = xz(data, "--check=crc32", "--x86", "--lzma2=dict=1MiB");
  const size = new Uint8Array(4);
  new DataView(size.buffer).setUint32(0, data.length, true);
  return Buffer.concat([packed, size]);
}

/** A two-segment kernel like Debian's: text at 16 MiB (the entry), data with a bss after it. */
const TEXT = Uint8Array.from({ length: 5000 }, (_, i) => [0xe8, 0x10, 0x20, 0x00, 0x00, 0x90, 0xe9][i % 7]);
const DATA = new Uint8Array(3000).fill(0x42);
const kernelElf = (fields: { dataAddress?: number; machine?: number } = {}): Uint8Array => elf32(0x1000000, [
  { address: 0x1000000, bytes: TEXT, memSize: TEXT.length },
  { address: fields.dataAddress ?? 0x1800000, bytes: DATA, memSize: 0x10000 },
], { machine: fields.machine, trailer: 1000 });


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

test("parseKernelElf finds the PT_LOAD segments and refuses what is not an i386 kernel", () => {
  const elf = parseKernelElf(kernelElf());
  assert.equal(elf.entry, 0x1000000);
  assert.deepEqual(elf.segments.map((segment) => [segment.address, segment.bytes.length, segment.memSize]), [[0x1000000, 5000, 5000], [0x1800000, 3000, 0x10000]]);
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(100), /not an ELF/],
    [kernelElf({ machine: 62 }), /not an i386 executable/],
    [kernelElf().subarray(0, 60), /program headers lie outside/],
    [kernelElf().subarray(0, 5000), /segment 0 lies outside/],
    [kernelElf({ dataAddress: 0x1001000 }), /overlap/],
    [elf32(0x2000000, [{ address: 0x1000000, bytes: TEXT, memSize: TEXT.length }]), /entry point 0x2000000 is not in a loaded segment/],
    [elf32(0x1000000, [{ address: 0x1000000, bytes: TEXT, memSize: 10 }]), /impossible sizes/],
  ];
  for (const [bytes, message] of cases) assert.throws(() => parseKernelElf(bytes), (error: Error) => error instanceof PayloadError && message.test(error.message), String(message));
});

test("with an XZ payload the loader places vmlinux's segments, zeroes the bss and enters at the ELF entry", { skip: !hasXz && "no xz tool" }, () => {
  const ram = new Uint8Array(64 * MIB);
  ram.fill(0xee, 0x1800000, 0x1810000); // stale bytes where the bss goes
  const placed = loadLinux({ kernel: bzImage({ payload: xzPayload(kernelElf()) }), initrd: new Uint8Array(4096).fill(1), cmdline: "quiet", ram, e820: pcE820(ram.length) });
  assert.equal(placed.kernelPath.unpackedBy, "loader", placed.kernelPath.note);
  assert.match(placed.kernelPath.note, /unpacked the XZ payload .* enters vmlinux at 0x1000000/);
  assert.ok(Buffer.from(ram.subarray(0x1000000, 0x1000000 + TEXT.length)).equals(TEXT), "text at its physical address, BCJ undone");
  assert.ok(Buffer.from(ram.subarray(0x1800000, 0x1800000 + DATA.length)).equals(DATA), "data at its physical address");
  assert.ok(ram.subarray(0x1800000 + DATA.length, 0x1810000).every((byte) => byte === 0), "bss zeroed");
  assert.ok(ram.subarray(0x100000, 0x200000).every((byte) => byte === 0), "the bzImage itself is not loaded");
  assert.deepEqual(placed.kernel, { address: 0x1000000, size: 0x810000 });
  assert.ok(placed.initrd!.address >= 0x1000000 + 0x800000, "the initrd above init_size from pref_address");
  const regs = new Map(placed.registers.map((r) => [r.tag, r.value]));
  assert.equal(regs.get(REG.rip), 0x1000000n);
  assert.equal(regs.get(REG.rsi), BigInt(placed.bootParams), "ESI = boot_params, as for the bzImage's entry");
  assert.equal(regs.get(REG["cs.selector"]), 0x10n);
});

test("the kernel unpacks itself when the loader cannot, and the note says why", { skip: !hasXz && "no xz tool" }, () => {
  const corrupt = xzPayload(kernelElf());
  corrupt[100] ^= 0x55;
  const cases: [Uint8Array, RegExp][] = [
    [bzImage(), /names no payload/],
    [bzImage({ payload: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }), /payload is unknown-compressed/],
    [bzImage({ payload: Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]) }), /payload is gzip-compressed; the loader unpacks only XZ/],
    [bzImage({ payload: corrupt }), /the kernel unpacks itself: .*(corrupt|CRC32)/],
    [bzImage({ payload: xzPayload(kernelElf({ machine: 62 })) }), /not an i386 executable/],
    [bzImage({ payload: xzPayload(kernelElf({ dataAddress: 0xf8000 })) }), /segment at 0xf8000-0x108000 would cover the firmware tables/],
    [bzImage({ payload: xzPayload(kernelElf({ dataAddress: 0x3ff0000 })) }), /segment at 0x3ff0000-0x4000000 is not in RAM/],
    [bzImage({ version: 0x0207, payload: xzPayload(kernelElf()) }), /names no payload/],
  ];
  for (const [kernel, note] of cases) {
    const ram = new Uint8Array(63 * MIB);
    const placed = loadLinux({ kernel, cmdline: "", ram, e820: pcE820(ram.length) });
    assert.equal(placed.kernelPath.unpackedBy, "kernel", String(note));
    assert.match(placed.kernelPath.note, note);
    assert.equal(ram[0x100000], 0xcc, "the bzImage at code32_start");
    assert.equal(placed.registers.find((r) => r.tag === REG.rip)?.value, 0x100000n);
  }
  const ram = new Uint8Array(64 * MIB);
  const asked = loadLinux({ kernel: bzImage({ payload: xzPayload(kernelElf()) }), cmdline: "", ram, e820: pcE820(ram.length), selfDecompress: true });
  assert.deepEqual(asked.kernelPath, { unpackedBy: "kernel", note: "the kernel unpacks itself, as asked" });
});

test("a vmlinux unpacked ahead of time is used when the payload's CRCs say it is its content, else ignored", { skip: !hasXz && "no xz tool" }, () => {
  const elf = kernelElf();
  const kernel = bzImage({ payload: xzPayload(elf) });
  const ram = new Uint8Array(64 * MIB);
  const cached = loadLinux({ kernel, vmlinux: elf, cmdline: "", ram, e820: pcE820(ram.length) });
  assert.match(cached.kernelPath.note, /took the XZ payload's cached vmlinux/);
  assert.ok(Buffer.from(ram.subarray(0x1000000, 0x1000000 + TEXT.length)).equals(TEXT));
  const stale = elf.slice();
  stale[60] ^= 1;
  const fresh = loadLinux({ kernel, vmlinux: stale, cmdline: "", ram: new Uint8Array(64 * MIB), e820: pcE820(ram.length) });
  assert.equal(fresh.kernelPath.unpackedBy, "loader");
  assert.match(fresh.kernelPath.note, /unpacked the XZ payload .*; the cached vmlinux is not this kernel's/);
});

test("loadLinux refuses an initrd that does not fit beside an unpacked kernel, before writing anything", { skip: !hasXz && "no xz tool" }, () => {
  const ram = new Uint8Array(32 * MIB);
  assert.throws(() => loadLinux({ kernel: bzImage({ payload: xzPayload(kernelElf()) }), initrd: new Uint8Array(8 * MIB), cmdline: "", ram, e820: pcE820(ram.length) }), /initrd .* does not fit/);
  assert.ok(ram.every((byte) => byte === 0), "nothing written");
});

test("Debian's cached kernel unpacks to the vmlinux DESIGN.md describes and loads at 16 MiB", { skip: !existsSync(manifest) && "no cached guest (npm run guest:fetch)" }, () => {
  const { kernel } = JSON.parse(readFileSync(manifest, "utf8")) as { kernel: string };
  const bytes = new Uint8Array(readFileSync(new URL(kernel, manifest)));
  const image = parseBzImage(bytes);
  const vmlinux = unpackVmlinux(image.payload!);
  assert.equal(vmlinux.entry, 0x1000000);
  assert.equal(vmlinux.segments.length, 2, "text+rodata, then data+bss");
  const [text, data] = vmlinux.segments;
  assert.equal(text.address, 0x1000000);
  assert.ok(data.address > text.address + text.bytes.length && data.memSize > data.bytes.length, "data after text, with a bss");
  assert.ok(data.address + data.memSize <= image.prefAddress + image.initSize, "inside init_size from pref_address");
  // startup_32 (head_32.S): movl pa(initial_stack),%ecx (8B 0D disp32); lgdt pa(boot_gdt_descr) (0F 01 15 disp32).
  assert.deepEqual([...text.bytes.subarray(0, 2), ...text.bytes.subarray(6, 9)], [0x8b, 0x0d, 0x0f, 0x01, 0x15]);

  const ram = new Uint8Array(128 * MIB);
  const placed = loadLinux({ kernel: bytes, cmdline: "console=ttyS0", ram, e820: pcE820(ram.length) });
  assert.equal(placed.kernelPath.unpackedBy, "loader", placed.kernelPath.note);
  assert.equal(placed.registers.find((r) => r.tag === REG.rip)?.value, 0x1000000n);
});
