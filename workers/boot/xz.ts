/**
 * A decoder for .xz files (The .xz File Format 1.1.0, tukaani.org/xz/xz-file-format.txt) as
 * Linux packs its kernel (scripts/xz_wrap.sh: `xz --check=crc32 --x86 --lzma2=,dict=32MiB`):
 * streams with their headers, footers and index, blocks with the LZMA2 filter alone or after the
 * x86 BCJ filter, and None, CRC32 or CRC64 checks. Everything is verified: header and index
 * CRCs, sizes stated anywhere, the index against the blocks, padding. Plain TypeScript over
 * Uint8Arrays, so it runs in a page and under Node alike, in one call over the whole input.
 */
import { unfilterX86 } from "./bcj-x86";
import { crc32, crc64 } from "./crc";
import { lzma2DictionarySize, Lzma2Decoder, OutputBuffer } from "./lzma2";
import { XzError } from "./xz-error";

export { XzError };

export interface XzOptions {
  /** The most bytes the output may have; more is an error (default 256 MiB). */
  maxOutput?: number;
  /** The expected output size, so the output is allocated once (default: four times the input). */
  sizeHint?: number;
}

const DEFAULT_MAX_OUTPUT = 256 << 20;
const HEADER_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const FOOTER_MAGIC = [0x59, 0x5a];
const FILTER_X86 = 0x04;
const FILTER_LZMA2 = 0x21;
const CHECK_NONE = 0x00;
const CHECK_CRC32 = 0x01;
const CHECK_CRC64 = 0x04;

/** What the index must say about a block we decoded. */
interface BlockRecord { unpaddedSize: number; uncompressedSize: number }

/** Reads a little-endian 32-bit value. */
const u32 = (data: Uint8Array, at: number): number => (data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)) >>> 0;

/** A cursor over the input with bounds-checked reads. */
class Reader {
  constructor(readonly data: Uint8Array, public pos: number) {}

  need(count: number, what: string): void {
    if (this.pos + count > this.data.length) throw new XzError(`the .xz data is truncated (in the ${what})`);
  }

  byte(what: string): number {
    this.need(1, what);
    return this.data[this.pos++];
  }

  /** A variable-length integer (section 1.2): 7 bits per byte, at most 9 bytes, no redundant zero byte. */
  vli(what: string): number {
    let value = 0;
    for (let i = 0; i < 9; i++) {
      const byte = this.byte(what);
      value += (byte & 0x7f) * 2 ** (7 * i);
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) throw new XzError(`corrupt .xz ${what}: a number has a redundant zero byte`);
        if (!Number.isSafeInteger(value)) throw new XzError(`the .xz ${what} holds a number too large to handle`);
        return value;
      }
    }
    throw new XzError(`corrupt .xz ${what}: a number is longer than 9 bytes`);
  }

  /** Zero bytes up to the next multiple of four from `origin`. */
  padding(origin: number, what: string): void {
    while ((this.pos - origin) % 4 !== 0) {
      if (this.byte(what) !== 0) throw new XzError(`corrupt .xz ${what}: non-zero padding`);
    }
  }

  crc32(from: number, what: string): void {
    this.need(4, what);
    if (u32(this.data, this.pos) !== crc32(this.data, from, this.pos)) throw new XzError(`corrupt .xz ${what}: CRC32 mismatch`);
    this.pos += 4;
  }
}

/** Decompresses a whole .xz file: one or more streams, with stream padding between and after them. */
export function decompressXz(input: Uint8Array, options: XzOptions = {}): Uint8Array {
  const maxOutput = options.maxOutput ?? DEFAULT_MAX_OUTPUT;
  const out = new OutputBuffer(options.sizeHint ?? input.length * 4, maxOutput);
  const reader = new Reader(input, 0);
  do {
    decodeStream(reader, out);
    const paddingStart = reader.pos;
    while (reader.pos < input.length && input[reader.pos] === 0) reader.pos++;
    if ((reader.pos - paddingStart) % 4 !== 0) throw new XzError("corrupt .xz file: stream padding is not a multiple of four bytes");
  } while (reader.pos < input.length);
  return out.length === out.bytes.length ? out.bytes : out.bytes.slice(0, out.length);
}

function decodeStream(reader: Reader, out: OutputBuffer): void {
  const data = reader.data;
  const streamStart = reader.pos;
  reader.need(12, "stream header");
  if (HEADER_MAGIC.some((byte, i) => data[streamStart + i] !== byte)) throw new XzError("not .xz data: no stream header magic (fd 37 7a 58 5a 00)");
  reader.pos += 6;
  const flags = data.subarray(reader.pos, reader.pos + 2);
  const check = flags[1];
  if (flags[0] !== 0 || check > 0x0f) throw new XzError("unsupported .xz stream flags (a newer format version?)");
  reader.pos += 2;
  reader.crc32(streamStart + 6, "stream header");
  if (check !== CHECK_NONE && check !== CHECK_CRC32 && check !== CHECK_CRC64) {
    throw new XzError(`unsupported .xz check type ${check} (this decoder verifies None, CRC32 and CRC64)`);
  }

  const records: BlockRecord[] = [];
  reader.need(1, "block header");
  while (data[reader.pos] !== 0x00) records.push(decodeBlock(reader, out, check));

  const indexStart = reader.pos;
  const index = readIndex(reader);
  if (index.length !== records.length) throw new XzError(`corrupt .xz index: it lists ${index.length} blocks, the stream has ${records.length}`);
  if (index.some((entry, i) => entry.unpaddedSize !== records[i].unpaddedSize || entry.uncompressedSize !== records[i].uncompressedSize)) {
    throw new XzError("corrupt .xz index: a block's sizes differ from the index");
  }
  const indexSize = reader.pos - indexStart;

  const footer = reader.pos;
  reader.need(12, "stream footer");
  if (data[footer + 8] !== flags[0] || data[footer + 9] !== flags[1] || FOOTER_MAGIC.some((byte, i) => data[footer + 10 + i] !== byte)) {
    throw new XzError("corrupt .xz stream footer: bad magic or flags that differ from the header");
  }
  if (u32(data, footer) !== crc32(data, footer + 4, footer + 10)) throw new XzError("corrupt .xz stream footer: CRC32 mismatch");
  if ((u32(data, footer + 4) + 1) * 4 !== indexSize) throw new XzError("corrupt .xz stream footer: the index size it states is wrong");
  reader.pos = footer + 12;
}

/** The index (section 4): a record per block, then padding and a CRC32. */
function readIndex(reader: Reader): BlockRecord[] {
  const start = reader.pos;
  if (reader.byte("index") !== 0x00) throw new XzError("corrupt .xz index: no index indicator");
  const count = reader.vli("index");
  const records: BlockRecord[] = [];
  for (let i = 0; i < count; i++) records.push({ unpaddedSize: reader.vli("index"), uncompressedSize: reader.vli("index") });
  reader.padding(start, "index");
  reader.crc32(start, "index");
  return records;
}

/**
 * Whether `output` is what a one-stream .xz file `input` decodes to, judged without decoding:
 * the sizes in its index and the CRC32 or CRC64 each block stores of its data. For a cached copy
 * of a decompressed file; false whenever it cannot tell (no checks, several streams, corruption).
 */
export function matchesXz(input: Uint8Array, output: Uint8Array): boolean {
  try {
    const reader = new Reader(input, 0);
    reader.need(24, "stream");
    if (HEADER_MAGIC.some((byte, i) => input[i] !== byte) || input[6] !== 0) return false;
    const check = input[7];
    reader.pos = 8;
    reader.crc32(6, "stream header");
    const footer = input.length - 12;
    if (check !== CHECK_CRC32 && check !== CHECK_CRC64) return false;
    if (input[footer + 8] !== 0 || input[footer + 9] !== check || FOOTER_MAGIC.some((byte, i) => input[footer + 10 + i] !== byte)) return false;
    if (u32(input, footer) !== crc32(input, footer + 4, footer + 10)) return false;
    const indexStart = footer - (u32(input, footer + 4) + 1) * 4;
    if (indexStart < 12) return false;
    reader.pos = indexStart;
    const records = readIndex(reader);
    if (reader.pos !== footer) return false;
    const size = check === CHECK_CRC32 ? 4 : 8;
    let block = 12;
    let from = 0;
    for (const { unpaddedSize, uncompressedSize } of records) {
      const at = block + Math.ceil((unpaddedSize - size) / 4) * 4;
      const to = from + uncompressedSize;
      if (to > output.length || at + size > footer) return false;
      const matches = check === CHECK_CRC32
        ? u32(input, at) === crc32(output, from, to)
        : (BigInt(u32(input, at)) | (BigInt(u32(input, at + 4)) << 32n)) === crc64(output, from, to);
      if (!matches) return false;
      block = at + size;
      from = to;
    }
    return block === indexStart && from === output.length;
  } catch (error) {
    if (error instanceof XzError) return false;
    throw error;
  }
}

/** One block: header, LZMA2 data through the filter chain, padding, check. */
function decodeBlock(reader: Reader, out: OutputBuffer, check: number): BlockRecord {
  const data = reader.data;
  const headerStart = reader.pos;
  const headerSize = (data[headerStart] + 1) * 4;
  reader.need(headerSize, "block header");
  const headerEnd = headerStart + headerSize - 4;
  reader.pos++;
  const flags = reader.byte("block header");
  if (flags & 0x3c) throw new XzError("unsupported .xz block flags (a newer format version?)");
  const compressedSize = flags & 0x40 ? reader.vli("block header") : undefined;
  const uncompressedSize = flags & 0x80 ? reader.vli("block header") : undefined;
  const filters: { id: number; props: Uint8Array }[] = [];
  for (let i = 0; i <= (flags & 0x03); i++) {
    const id = reader.vli("block header");
    const propsSize = reader.vli("block header");
    reader.need(propsSize, "block header");
    filters.push({ id, props: data.subarray(reader.pos, reader.pos + propsSize) });
    reader.pos += propsSize;
  }
  if (reader.pos > headerEnd) throw new XzError("corrupt .xz block header: its fields overrun its size");
  while (reader.pos < headerEnd) {
    if (data[reader.pos++] !== 0) throw new XzError("corrupt .xz block header: non-zero padding");
  }
  reader.crc32(headerStart, "block header");

  const last = filters[filters.length - 1];
  if (last.id !== FILTER_LZMA2 || last.props.length !== 1) throw new XzError(`unsupported .xz filter chain: it ends in filter 0x${last.id.toString(16)}, not LZMA2`);
  const bcj = filters.slice(0, -1).map(({ id, props }) => {
    if (id !== FILTER_X86) throw new XzError(`unsupported .xz filter 0x${id.toString(16)} (this decoder knows LZMA2 and x86 BCJ)`);
    if (props.length !== 0 && props.length !== 4) throw new XzError("corrupt .xz block header: x86 filter properties are 0 or 4 bytes");
    return props.length === 4 ? u32(props, 0) : 0;
  });

  const compressedStart = reader.pos;
  const outStart = out.length;
  reader.pos = new Lzma2Decoder(lzma2DictionarySize(last.props[0])).decode(data, reader.pos, out);
  const compressed = reader.pos - compressedStart;
  const uncompressed = out.length - outStart;
  if ((compressedSize !== undefined && compressed !== compressedSize) || (uncompressedSize !== undefined && uncompressed !== uncompressedSize)) {
    throw new XzError("corrupt .xz block: its sizes differ from its header");
  }
  for (let i = bcj.length - 1; i >= 0; i--) unfilterX86(out.bytes, outStart, out.length, bcj[i]);
  reader.padding(headerStart, "block");

  const size = check === CHECK_CRC32 ? 4 : check === CHECK_CRC64 ? 8 : 0;
  reader.need(size, "block check");
  const stored = data.subarray(reader.pos, reader.pos + size);
  if (check === CHECK_CRC32 && u32(stored, 0) !== crc32(out.bytes, outStart, out.length)) throw new XzError("the .xz block's CRC32 does not match its data");
  if (check === CHECK_CRC64) {
    const expected = BigInt(u32(stored, 0)) | (BigInt(u32(stored, 4)) << 32n);
    if (expected !== crc64(out.bytes, outStart, out.length)) throw new XzError("the .xz block's CRC64 does not match its data");
  }
  reader.pos += size;
  return { unpaddedSize: headerSize + compressed + size, uncompressedSize: uncompressed };
}
