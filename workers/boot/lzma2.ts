/**
 * The LZMA2 decoder (the .xz format's filter 0x21): LZMA2 chunks (xz-file-format 1.1.0, section
 * 5.3.1, and liblzma's lzma2_decoder.c for the chunk rules) around the LZMA range decoder (Igor
 * Pavlov's lzma-specification.txt).
 *
 * The whole output is the dictionary: a match copies from bytes already written to the output
 * buffer, so there is no second buffer and no wrap-around. Memory is therefore the output size,
 * which the caller bounds; the dictionary size from the header bounds match distances.
 */
import { XzError } from "./xz-error";

/** A growable output buffer whose capacity the caller caps. */
export class OutputBuffer {
  bytes: Uint8Array;
  length = 0;

  constructor(initialCapacity: number, private readonly maxLength: number) {
    this.bytes = new Uint8Array(Math.min(initialCapacity, maxLength));
  }

  /** Makes room for `extra` more bytes (which may replace `bytes`), or throws if that passes the cap. */
  reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.bytes.length) return;
    if (needed > this.maxLength) throw new XzError(`the decompressed data would exceed the limit of ${this.maxLength} bytes`);
    const grown = new Uint8Array(Math.min(this.maxLength, Math.max(needed, this.bytes.length * 2)));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

/** The probability model as offsets into one Uint16Array (11-bit probabilities, 1024 = even). */
const STATES = 12;
const POS_STATES_MAX = 16;
const IS_MATCH = 0;
const IS_REP = IS_MATCH + STATES * POS_STATES_MAX;
const IS_REP_G0 = IS_REP + STATES;
const IS_REP_G1 = IS_REP_G0 + STATES;
const IS_REP_G2 = IS_REP_G1 + STATES;
const IS_REP0_LONG = IS_REP_G2 + STATES;
/** Distance slots, 64 per length class (lengths 2, 3, 4, 5+). */
const DIST_SLOT = IS_REP0_LONG + STATES * POS_STATES_MAX;
/** Reverse bit trees for the low bits of distance slots 4-13: 128 full distances minus 14. */
const DIST_SPECIAL = DIST_SLOT + 4 * 64;
const ALIGN = DIST_SPECIAL + 114;
/** A length coder: choice, choice2, low and mid trees (8 per position state) and the high tree. */
const LEN_CHOICE2 = 1;
const LEN_LOW = 2;
const LEN_MID = LEN_LOW + POS_STATES_MAX * 8;
const LEN_HIGH = LEN_MID + POS_STATES_MAX * 8;
const LEN_CODER_SIZE = LEN_HIGH + 256;
const MATCH_LEN = ALIGN + 16;
const REP_LEN = MATCH_LEN + LEN_CODER_SIZE;
const LITERAL = REP_LEN + LEN_CODER_SIZE;
/** LZMA2 allows lc + lp <= 4, so at most 16 literal coders of 0x300 probabilities. */
const PROBS_SIZE = LITERAL + 0x300 * 16;

const PROB_INIT = 1024;
const TOP = 0x1000000;
/**
 * Input a corrupt chunk may read past its end before the per-symbol check sees it: one symbol
 * consumes at most about 21 bytes (xz-embedded's LZMA_IN_REQUIRED); this leaves a margin.
 */
const OVERREAD = 64;

/** Largest dictionary the LZMA2 properties byte can state (40 = 4 GiB - 1). */
const DICT_PROP_MAX = 40;

/** The dictionary size an LZMA2 filter properties byte encodes (xz-file-format 5.3.1). */
export function lzma2DictionarySize(prop: number): number {
  if (prop > DICT_PROP_MAX) throw new XzError(`invalid LZMA2 dictionary size code ${prop}`);
  return prop === DICT_PROP_MAX ? 0xffffffff : (2 | (prop & 1)) * 2 ** ((prop >>> 1) + 11);
}

export class Lzma2Decoder {
  private readonly probs = new Uint16Array(PROBS_SIZE);
  private lc = 0;
  private lp = 0;
  private pb = 0;
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;

  constructor(private readonly dictSize: number) {}

  /**
   * Decodes one LZMA2 stream starting at `input[start]`, appending to `out`; returns the input
   * position after its end marker. Throws XzError on anything malformed or truncated.
   */
  decode(input: Uint8Array, start: number, out: OutputBuffer): number {
    let pos = start;
    let needDictReset = true;
    let needProps = true;
    let dictStart = out.length;
    const need = (count: number): void => {
      if (pos + count > input.length) throw new XzError("the LZMA2 data is truncated");
    };
    for (;;) {
      need(1);
      const control = input[pos++];
      if (control === 0x00) return pos;
      if (control === 0x01 || control >= 0xe0) {
        dictStart = out.length;
        needDictReset = false;
        needProps = true;
      } else if (needDictReset) {
        throw new XzError("the LZMA2 data does not begin with a dictionary reset");
      }
      if (control < 0x80) {
        if (control > 0x02) throw new XzError(`invalid LZMA2 control byte 0x${control.toString(16)}`);
        need(2);
        const size = ((input[pos] << 8) | input[pos + 1]) + 1;
        pos += 2;
        need(size);
        out.reserve(size);
        out.bytes.set(input.subarray(pos, pos + size), out.length);
        out.length += size;
        pos += size;
        continue;
      }
      need(4);
      const unpacked = ((control & 0x1f) << 16) + ((input[pos] << 8) | input[pos + 1]) + 1;
      const packed = ((input[pos + 2] << 8) | input[pos + 3]) + 1;
      pos += 4;
      if (control >= 0xc0) {
        need(1);
        this.setProperties(input[pos++]);
        needProps = false;
        this.resetState();
      } else if (needProps) {
        throw new XzError("an LZMA2 chunk lacks the properties it needs after a dictionary reset");
      } else if (control >= 0xa0) {
        this.resetState();
      }
      need(packed);
      out.reserve(unpacked);
      // Decode from the input itself when a corrupt chunk's overread stays inside it; else from a padded copy.
      if (pos + packed + OVERREAD <= input.length) {
        this.decodeChunk(input, pos, pos + packed, out.bytes, out.length, out.length + unpacked, dictStart);
      } else {
        const padded = new Uint8Array(packed + OVERREAD);
        padded.set(input.subarray(pos, pos + packed));
        this.decodeChunk(padded, 0, packed, out.bytes, out.length, out.length + unpacked, dictStart);
      }
      out.length += unpacked;
      pos += packed;
    }
  }

  /** lc, lp and pb from the properties byte (pb * 5 + lp) * 9 + lc; LZMA2 requires lc + lp <= 4. */
  private setProperties(props: number): void {
    if (props >= 9 * 5 * 5) throw new XzError(`invalid LZMA properties byte 0x${props.toString(16)}`);
    this.lc = props % 9;
    this.lp = Math.floor(props / 9) % 5;
    this.pb = Math.floor(props / 45);
    if (this.lc + this.lp > 4) throw new XzError(`invalid LZMA2 properties: lc ${this.lc} + lp ${this.lp} exceeds 4`);
  }

  private resetState(): void {
    this.probs.fill(PROB_INIT);
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
  }

  /**
   * One compressed chunk, input[inPos, inEnd) to out[outPos, outEnd); the chunk must end exactly
   * there. The range decoder lives in locals and each bit is decoded inline (the "bit:" blocks
   * below are the same few lines): as object fields and helper methods it ran 2.5 times slower.
   * `range` and `code` hold 32-bit patterns in int32s (Math.imul, unsigned compares through
   * `>>> 0`) rather than numbers up to 2^32, which V8 keeps as doubles: 1.4 times faster.
   */
  private decodeChunk(input: Uint8Array, inPos: number, inEnd: number, out: Uint8Array, outPos: number, outEnd: number, dictStart: number): void {
    if (input[inPos] !== 0) throw new XzError("corrupt LZMA2 chunk: the range coder's first byte is not zero");
    let code = (input[inPos + 1] << 24) | (input[inPos + 2] << 16) | (input[inPos + 3] << 8) | input[inPos + 4];
    let range = -1;
    inPos += 5;
    const probs = this.probs;
    const lc = this.lc;
    const lpMask = (1 << this.lp) - 1;
    const pbMask = (1 << this.pb) - 1;
    const dictSize = this.dictSize;
    let state = this.state;
    let rep0 = this.rep0;
    let rep1 = this.rep1;
    let rep2 = this.rep2;
    let rep3 = this.rep3;
    let p = 0;
    let bound = 0;
    let bit = 0;
    let i = 0;

    while (outPos < outEnd) {
      if (inPos > inEnd) throw new XzError("corrupt LZMA2 chunk: it reads past its compressed size");
      const position = outPos - dictStart;
      const posState = position & pbMask;

      i = IS_MATCH + (state << 4) + posState;
      bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
      if (bit === 0) {
        const previous = position > 0 ? out[outPos - 1] : 0;
        const coder = LITERAL + 0x300 * (((position & lpMask) << lc) + (previous >>> (8 - lc)));
        let symbol = 1;
        if (state >= 7) {
          // After a match, the byte at rep0 steers the model until the first bit that differs.
          let matchByte = out[outPos - rep0 - 1];
          do {
            const matchBit = (matchByte >>> 7) & 1;
            matchByte <<= 1;
            i = coder + ((1 + matchBit) << 8) + symbol;
            bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
            symbol = (symbol << 1) | bit;
            if (bit !== matchBit) break;
          } while (symbol < 0x100);
        }
        while (symbol < 0x100) {
          i = coder + symbol;
          bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
          symbol = (symbol << 1) | bit;
        }
        out[outPos++] = symbol;
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }

      // A match (new distance) or a repeat of one of the last four distances; then its length.
      i = IS_REP + state;
      bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
      const isMatch = bit === 0;
      if (!isMatch) {
        if (position === 0) throw new XzError("corrupt LZMA2 chunk: a repeated match before any data");
        i = IS_REP_G0 + state;
        bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
        if (bit === 0) {
          i = IS_REP0_LONG + (state << 4) + posState;
          bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
          if (bit === 0) {
            // A "short rep": one byte from rep0.
            out[outPos] = out[outPos - rep0 - 1];
            outPos++;
            state = state < 7 ? 9 : 11;
            continue;
          }
        } else {
          let distance: number;
          i = IS_REP_G1 + state;
          bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
          if (bit === 0) {
            distance = rep1;
          } else {
            i = IS_REP_G2 + state;
            bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
            if (bit === 0) {
              distance = rep2;
            } else {
              distance = rep3;
              rep3 = rep2;
            }
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = distance;
        }
        state = state < 7 ? 8 : 11;
      }

      // The length: choice bits pick the low (2-9), mid (10-17) or high (18-273) tree.
      const lengthCoder = isMatch ? MATCH_LEN : REP_LEN;
      let tree = lengthCoder + LEN_LOW + posState * 8;
      let treeBits = 3;
      let length = 2;
      i = lengthCoder;
      bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
      if (bit !== 0) {
        i = lengthCoder + LEN_CHOICE2;
        bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
        if (bit === 0) {
          tree = lengthCoder + LEN_MID + posState * 8;
          length = 10;
        } else {
          tree = lengthCoder + LEN_HIGH;
          treeBits = 8;
          length = 18;
        }
      }
      let symbol = 1;
      for (let k = 0; k < treeBits; k++) {
        i = tree + symbol;
        bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
        symbol = (symbol << 1) | bit;
      }
      length += symbol - (1 << treeBits);

      if (isMatch) {
        // The distance: a 6-bit slot (by length class 2, 3, 4, 5+), then its low bits.
        tree = DIST_SLOT + ((length < 5 ? length - 2 : 3) << 6);
        symbol = 1;
        for (let k = 0; k < 6; k++) {
          i = tree + symbol;
          bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
          symbol = (symbol << 1) | bit;
        }
        const slot = symbol - 64;
        let distance = slot;
        if (slot >= 4) {
          let lowBits = (slot >>> 1) - 1;
          distance = (2 | (slot & 1)) * 2 ** lowBits;
          if (slot < 14) {
            tree = DIST_SPECIAL + distance - slot - 1;
          } else {
            // Bits of even probability, then the lowest four through the align tree.
            let direct = 0;
            for (let k = lowBits - 4; k > 0; k--) {
              range = range >>> 1;
              bit = 0;
              if ((code >>> 0) >= range) {
                code = (code - range) | 0;
                bit = 1;
              }
              direct = direct * 2 + bit;
              if (range < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; }
            }
            distance += direct * 16;
            tree = ALIGN;
            lowBits = 4;
          }
          // Reverse bit tree: least significant bit first.
          symbol = 1;
          for (let k = 0; k < lowBits; k++) {
            i = tree + symbol;
            bit: { p = probs[i]; bound = Math.imul(range >>> 11, p); if ((code >>> 0) < (bound >>> 0)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); bit = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); bit = 1; } if ((range >>> 0) < TOP) { range <<= 8; code = (code << 8) | input[inPos++]; } }
            symbol = (symbol << 1) | bit;
            distance += bit << k;
          }
        }
        // Also refuses the end-of-payload marker (distance 0xffffffff), which LZMA2 does not use.
        if (distance >= position || distance >= dictSize) throw new XzError("corrupt LZMA2 chunk: a match reaches before the start of the dictionary");
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        rep0 = distance;
        state = state < 7 ? 7 : 10;
      }

      if (length > outEnd - outPos) throw new XzError("corrupt LZMA2 chunk: a match runs past the chunk's size");
      let from = outPos - rep0 - 1;
      if (length <= rep0 + 1 && length > 16) {
        out.copyWithin(outPos, from, from + length);
        outPos += length;
      } else {
        // Overlapping copies repeat the bytes just written, so byte by byte.
        for (const end = outPos + length; outPos < end;) out[outPos++] = out[from++];
      }
    }

    if (inPos !== inEnd || code !== 0) throw new XzError("corrupt LZMA2 chunk: its compressed size does not match its contents");
    this.state = state;
    this.rep0 = rep0;
    this.rep1 = rep1;
    this.rep2 = rep2;
    this.rep3 = rep3;
  }
}
