// The XZ decoder against the host's `xz` (XZ Utils): what it compresses, with the options Linux
// uses (--check=crc32 --x86 --lzma2=dict=32MiB) and many others, must come back byte for byte;
// corrupt or truncated input must give an XzError, never a wrong result or another exception.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { crc32, crc64 } from "../workers/boot/crc";
import { decompressXz, matchesXz, XzError } from "../workers/boot/xz";
import { hasXz, xz } from "./fixtures/host-xz";

const skip = !hasXz && "the xz tool is not installed";

/** A deterministic generator (xorshift32), so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function randomBytes(length: number, seed: number): Uint8Array {
  const next = random(seed);
  return Uint8Array.from({ length }, () => Math.floor(next() * 256));
}

/** Text-like data with repeats at all distances: matches, rep matches and literals mixed. */
function structured(length: number, seed: number): Uint8Array {
  const next = random(seed);
  const words = Array.from({ length: 200 }, (_, i) => `w${i.toString(36)}${"xyz".slice(0, i % 4)}`);
  const out = new Uint8Array(length);
  let at = 0;
  while (at < length) {
    const choice = next();
    if (choice < 0.6) {
      for (const byte of new TextEncoder().encode(`${words[Math.floor(next() * next() * words.length)]} `)) if (at < length) out[at++] = byte;
    } else if (choice < 0.8 && at > 0) {
      const from = Math.floor(next() * at);
      const count = Math.min(length - at, 2 + Math.floor(next() * 300));
      for (let i = 0; i < count; i++) out[at++] = out[from + i];
    } else {
      out[at++] = Math.floor(next() * 256);
    }
  }
  return out;
}

/** Machine code with CALL/JMP rel32 (E8/E9) in every pattern the x86 filter distinguishes. */
function x86Like(length: number, seed: number): Uint8Array {
  const next = random(seed);
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at++) {
    const choice = next();
    if (choice < 0.15) out[at] = 0xe8;
    else if (choice < 0.2) out[at] = 0xe9;
    else if (choice < 0.45) out[at] = next() < 0.5 ? 0x00 : 0xff;
    else out[at] = Math.floor(next() * 256);
  }
  return out;
}

const hostBinary = (): Uint8Array => new Uint8Array(readFileSync(process.execPath)).subarray(0, 3 << 20);

function roundTrip(data: Uint8Array, ...args: string[]): void {
  const decoded = decompressXz(xz(data, ...args));
  assert.equal(decoded.length, data.length, `length with ${args.join(" ")}`);
  assert.ok(Buffer.from(decoded).equals(Buffer.from(data)), `contents with ${args.join(" ")}`);
}

test("CRC32 and CRC64 give the standard check values", () => {
  const digits = new TextEncoder().encode("123456789");
  assert.equal(crc32(digits), 0xcbf43926);
  assert.equal(crc64(digits), 0x995dc9bbdf1939fan);
  const data = randomBytes(1000, 7);
  assert.equal(crc32(data, 3, 1000, crc32(data, 0, 3)), crc32(data), "continues over a split");
});

test("decodes what xz makes with the kernel's options: --check=crc32 --x86 --lzma2=dict=32MiB", { skip }, () => {
  for (const data of [hostBinary(), x86Like(300_000, 1), structured(500_000, 2), randomBytes(100_000, 3)]) {
    roundTrip(data, "--check=crc32", "--x86", "--lzma2=dict=32MiB");
  }
});

test("decodes plain LZMA2 over dictionary sizes, presets and lc/lp/pb settings", { skip }, () => {
  const data = structured(400_000, 4);
  for (const dict of ["4KiB", "64KiB", "1MiB", "32MiB"]) roundTrip(data, `--lzma2=dict=${dict}`);
  for (const preset of ["0", "6", "9e"]) roundTrip(data, `--lzma2=preset=${preset}`);
  for (const [lc, lp, pb] of [[0, 0, 0], [4, 0, 4], [0, 4, 2], [1, 3, 1], [2, 2, 0]]) roundTrip(x86Like(100_000, lc + lp * 7 + pb), `--lzma2=lc=${lc},lp=${lp},pb=${pb}`);
});

test("decodes every check type xz uses for the kernel and by default: none, CRC32, CRC64", { skip }, () => {
  const data = structured(50_000, 5);
  for (const check of ["none", "crc32", "crc64"]) roundTrip(data, `--check=${check}`);
});

test("decodes empty input, one byte, incompressible data and chunk-sized edges", { skip }, () => {
  for (const length of [0, 1, 4, 5, 6, 65_536, 65_537, 2 << 20]) roundTrip(randomBytes(length, length + 9), "--x86", "--lzma2", "--check=crc32");
  roundTrip(new Uint8Array(3 << 20), "--check=crc64"); // long runs of one byte: the longest matches
});

test("decodes multiple blocks, multiple streams and stream padding", { skip }, () => {
  const data = hostBinary().subarray(0, 1 << 20);
  roundTrip(data, "--block-size=100000", "--x86", "--lzma2", "--check=crc32");
  roundTrip(data, "--block-list=1,2,3,70000,0", "--check=crc64");
  const first = structured(70_000, 6);
  const second = x86Like(30_000, 7);
  const joined = Buffer.concat([xz(first, "--x86", "--lzma2"), new Uint8Array(8), xz(second, "--check=none"), new Uint8Array(4)]);
  assert.ok(Buffer.from(decompressXz(joined)).equals(Buffer.concat([first, second])));
});

test("decodes the x86 filter with a start offset", { skip }, () => {
  roundTrip(hostBinary().subarray(0, 200_000), "--x86=start=4096", "--lzma2=dict=1MiB");
});

test("truncated input at every length is an XzError", { skip }, () => {
  const packed = xz(x86Like(3000, 8), "--x86", "--lzma2", "--check=crc32");
  for (let length = 0; length < packed.length; length++) {
    assert.throws(() => decompressXz(packed.subarray(0, length)), XzError, `truncated to ${length}`);
  }
});

test("any single corrupted byte is an XzError", { skip }, () => {
  const data = structured(20_000, 9);
  const packed = xz(data, "--x86", "--lzma2", "--check=crc32", "--block-size=8000");
  const next = random(10);
  for (let at = 0; at < packed.length; at++) {
    const corrupt = packed.slice();
    corrupt[at] ^= 1 + Math.floor(next() * 255);
    assert.throws(() => decompressXz(corrupt), XzError, `byte ${at} of ${packed.length}`);
  }
});

test("unsupported features and limits are named", { skip }, () => {
  const data = structured(10_000, 11);
  const cases: [Uint8Array, RegExp][] = [
    [xz(data, "--delta=dist=4", "--lzma2=preset=1"), /unsupported .xz filter 0x3/],
    [xz(data, "--check=sha256"), /unsupported .xz check type 10/],
    [xz(data, "--format=lzma"), /not .xz data/],
    [Buffer.concat([xz(data), new Uint8Array(3)]), /stream padding/],
    [Buffer.concat([xz(data), Uint8Array.from({ length: 16 }, (_, i) => i + 1)]), /not .xz data/],
  ];
  for (const [input, message] of cases) assert.throws(() => decompressXz(input), (error: Error) => error instanceof XzError && message.test(error.message), String(message));
  assert.throws(() => decompressXz(xz(data), { maxOutput: 9_999 }), /exceed the limit of 9999 bytes/);
  assert.equal(decompressXz(xz(data), { maxOutput: 10_000, sizeHint: 1 }).length, 10_000, "grows from a small hint up to the limit");
});

test("matchesXz tells a file's decompressed content by its index and CRCs, without decoding", { skip }, () => {
  const data = structured(300_000, 12);
  for (const args of [["--check=crc32"], ["--check=crc64", "--block-size=70000"], ["--x86", "--lzma2", "--check=crc32", "--block-size=100000"]]) {
    const packed = xz(data, ...args);
    assert.equal(matchesXz(packed, data), true, args.join(" "));
    const altered = data.slice();
    altered[150_000] ^= 1;
    assert.equal(matchesXz(packed, altered), false, `altered, ${args.join(" ")}`);
    assert.equal(matchesXz(packed, data.subarray(0, data.length - 1)), false, `shorter, ${args.join(" ")}`);
    assert.equal(matchesXz(packed, Buffer.concat([data, new Uint8Array(1)])), false, `longer, ${args.join(" ")}`);
    assert.equal(matchesXz(packed.subarray(0, packed.length - 1), data), false, `truncated, ${args.join(" ")}`);
  }
  assert.equal(matchesXz(xz(data, "--check=none"), data), false, "no checks: cannot tell");
  assert.equal(matchesXz(new Uint8Array(10), new Uint8Array(0)), false);
});
