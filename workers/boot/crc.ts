/**
 * The integrity checks of the .xz format (xz-file-format 1.1.0, section 3.1.6 and 6): CRC32 with
 * the IEEE 802.3 polynomial and CRC64 with the ECMA-182 polynomial, both reflected with all-ones
 * initial value and final inversion. Table-driven, eight bytes per step for CRC32 because the
 * kernel's payload is checked with it over 16 MB.
 */

/** Tables for slicing by eight: table k gives the CRC of a byte followed by k zero bytes. */
const CRC32_TABLES = (() => {
  const tables = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    tables[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let t = 1; t < 8; t++) {
      const previous = tables[(t - 1) * 256 + n];
      tables[t * 256 + n] = tables[previous & 0xff] ^ (previous >>> 8);
    }
  }
  return tables;
})();

/** The CRC32 of `data[start, end)`, continuing from `crc` (0 to start). */
export function crc32(data: Uint8Array, start = 0, end = data.length, crc = 0): number {
  const t = CRC32_TABLES;
  let c = ~crc;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const lo = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    c = t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^ t[1280 + ((lo >>> 16) & 0xff)] ^ t[1024 + (lo >>> 24)]
      ^ t[768 + data[i + 4]] ^ t[512 + data[i + 5]] ^ t[256 + data[i + 6]] ^ t[data[i + 7]];
  }
  for (; i < end; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC64 table as 32-bit halves (JavaScript has no fast 64-bit integers). */
const CRC64_LO = new Int32Array(256);
const CRC64_HI = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let lo = n;
  let hi = 0;
  for (let k = 0; k < 8; k++) {
    const odd = lo & 1;
    lo = (lo >>> 1) | (hi << 31);
    hi >>>= 1;
    if (odd) {
      lo ^= 0xd7870f42; // 0xc96c5795d7870f42, the reflected ECMA-182 polynomial
      hi ^= 0xc96c5795;
    }
  }
  CRC64_LO[n] = lo;
  CRC64_HI[n] = hi;
}

/** The CRC64 of `data[start, end)` as a bigint. */
export function crc64(data: Uint8Array, start = 0, end = data.length): bigint {
  let lo = -1;
  let hi = -1;
  for (let i = start; i < end; i++) {
    const index = (lo ^ data[i]) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ CRC64_LO[index];
    hi = (hi >>> 8) ^ CRC64_HI[index];
  }
  return (BigInt(~hi >>> 0) << 32n) | BigInt(~lo >>> 0);
}
