/**
 * Little-endian byte building for firmware tables (MP and ACPI structures are packed, little-endian
 * and closed by an 8-bit checksum that makes the covered bytes sum to zero).
 */

/** Appends fixed-width fields; `bytes()` gives the result. */
export class TableBuilder {
  private buffer = new Uint8Array(256);
  private view = new DataView(this.buffer.buffer);
  private used = 0;

  get length(): number {
    return this.used;
  }

  u8(value: number): this {
    this.reserve(1).setUint8(this.used - 1, value);
    return this;
  }

  u16(value: number): this {
    this.reserve(2).setUint16(this.used - 2, value, true);
    return this;
  }

  u32(value: number): this {
    this.reserve(4).setUint32(this.used - 4, value >>> 0, true);
    return this;
  }

  /** A 64-bit field holding a value below 2^53. */
  u64(value: number): this {
    return this.u32(value % 2 ** 32).u32(Math.floor(value / 2 ** 32));
  }

  /** ASCII text in a field of `width` bytes, padded with `pad` (the specs pad IDs with spaces). */
  text(value: string, width: number, pad = " "): this {
    const padded = value.padEnd(width, pad);
    if (padded.length !== width || !/^[\x20-\x7e]*$/.test(value)) {
      throw new RangeError(`"${value}" is not printable ASCII of at most ${width} characters`);
    }
    for (let i = 0; i < width; i++) this.u8(padded.charCodeAt(i));
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.used - bytes.length);
    return this;
  }

  zeros(count: number): this {
    this.reserve(count);
    return this;
  }

  /** Overwrites a 16-bit field already written (lengths known only at the end). */
  patchU16(offset: number, value: number): this {
    this.view.setUint16(offset, value, true);
    return this;
  }

  patchU32(offset: number, value: number): this {
    this.view.setUint32(offset, value >>> 0, true);
    return this;
  }

  /** Sets the byte at `at` so that bytes [start, end) sum to zero modulo 256. */
  checksum(at: number, start = 0, end = this.used): this {
    this.buffer[at] = 0;
    this.buffer[at] = -byteSum(this.buffer.subarray(start, end)) & 0xff;
    return this;
  }

  bytes(): Uint8Array {
    return this.buffer.slice(0, this.used);
  }

  private reserve(count: number): DataView {
    if (this.used + count > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.used + count));
      grown.set(this.buffer);
      this.buffer = grown;
      this.view = new DataView(grown.buffer);
    }
    this.used += count;
    return this.view;
  }
}

/** The sum of the bytes modulo 256 (zero for a structure with a correct checksum). */
export function byteSum(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum += byte;
  return sum & 0xff;
}
